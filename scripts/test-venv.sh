#!/usr/bin/env bash
# Makes the Python environment of the server tests (the official `openai` client from PyPI) once, in the cache;
# a second run finds it and does nothing. Prints the Python to use. When pip cannot install the package, the
# system Python is printed and the tests skip, saying why.
set -u
venv="${1:-$HOME/.cache/swiftgpt/venv-test}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import openai" 2>/dev/null; then
    echo "$venv/bin/python"
    exit 0
fi
{
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check "openai>=1.40,<3"
} >&2 || echo "test-venv: pip could not install openai into $venv; the server tests will skip" >&2
if [ -x "$venv/bin/python" ]; then echo "$venv/bin/python"; else echo python3; fi
