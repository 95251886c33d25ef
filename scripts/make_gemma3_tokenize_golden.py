#!/usr/bin/env python3
"""Golden ids for `gpt tokenize` on the real Gemma 3 270M file: what llama.cpp's own `llama-tokenize` tool prints.

Writes Tests/CLITests/Golden/gemma3_tokenize.json: for each hard string, the ids `llama-tokenize` gives with its
defaults (BOS as the model's metadata says: Gemma adds <bos> = 2; special tokens such as <start_of_turn> parsed)
or with --no-parse-special, the text going in through --stdin --no-escape (so the bytes tokenized are exactly the
UTF-8 of the JSON string). Gemma3TokenizeTests runs `gpt tokenize --stdin` on the same strings and the same file.

The strings: the 39 hard strings of Tests/TokenizationTests/Golden/make_golden.py (whitespace runs, tabs, CRLF,
digits, accents, combining marks, CJK, emoji, code, control characters, private-use code points, a long paragraph,
the empty string, ...; its ChatML cases are plain text to Gemma) plus Gemma's own: chat prompts with
<start_of_turn>/<end_of_turn> parsed and not parsed, look-alikes of the markers, characters outside the 262,144
pieces (byte fallback), long words and digit runs, Markdown and HTML.

Usage (about 1 minute; llama-tokenize and libllama from scripts/build-llama.sh, the model from `gpt pull
gemma3-270m`):
    scripts/make_gemma3_tokenize_golden.py [--model GGUF] [--bin DIR] [--out JSON]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swiftgpt"

GEMMA_CHAT = "<start_of_turn>user\nWrite a haiku about the sea.<end_of_turn>\n<start_of_turn>model\n"

# (name, text, parse_special): Gemma's own cases, after the shared hard strings
GEMMA_CASES = [
    ("gemma chat prompt", GEMMA_CHAT, True),
    ("gemma chat prompt not parsed", GEMMA_CHAT, False),
    ("gemma markers adjacent", "<bos><start_of_turn><end_of_turn>x<end_of_turn> <start_of_turn>\n", True),
    ("gemma marker look-alikes", "<start_of_turn <end_of_turn> <START_OF_TURN> < start_of_turn> <start_of_turn>", True),
    ("byte fallback", "\x00\x01\x7f \U0001f9ff\U0001fae8 \u2e80\u2fd5 \U00010348\U0001d11e \U000e0041 \ufffd", False),
    ("leading spaces", "    four spaces, then two  and a tab\tend", False),
    ("only spaces", "      ", False),
    ("newlines and tabs", "\n\tx\n\n\t\ty\r\n\t", False),
    ("very long word", "Pneumonoultramicroscopicsilicovolcanoconiosis" * 4 + "Donaudampfschifffahrtsgesellschaft", False),
    ("long digit runs", "3141592653589793238462643383279502884197169399 0000000000 12,345.678e-9", False),
    ("markdown and html", "# Title\n\n* item **bold** `code`\n<h1 class=\"x\">Hi &amp; bye</h1>\n```py\nprint('hi')\n```", False),
    ("accented and cjk mixed", "Ça va? Ñandú über 東京タワー 서울 Ελληνικά", False),
]


def shared_cases() -> list[tuple[str, str, bool]]:
    """The hard strings the SmolLM2 golden file uses (one list, kept there)."""
    path = REPO / "Tests/TokenizationTests/Golden/make_golden.py"
    spec = importlib.util.spec_from_file_location("tokenizer_make_golden", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def llama_tokenize(binary: Path, model: Path, text: str, parse_special: bool) -> list[int]:
    args = [str(binary), "-m", str(model), "--stdin", "--no-escape", "--ids", "--log-disable"]
    if not parse_special:
        args.append("--no-parse-special")
    env = dict(os.environ, LD_LIBRARY_PATH=str(binary.parent))
    out = subprocess.run(args, input=text.encode(), capture_output=True, env=env, check=True).stdout.decode()
    line = [l for l in out.splitlines() if l.startswith("[")][-1]
    return json.loads(line)


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=CACHE / "models/gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--bin", type=Path, default=CACHE / "llama.cpp/bin")
    ap.add_argument("--out", type=Path, default=REPO / "Tests/CLITests/Golden/gemma3_tokenize.json")
    args = ap.parse_args()
    binary = args.bin / "llama-tokenize"
    cases = [{"name": name, "text": text, "parse_special": special,
              "ids": llama_tokenize(binary, args.model, text, special)}
             for name, text, special in shared_cases() + GEMMA_CASES]
    golden = {
        "generator": "scripts/make_gemma3_tokenize_golden.py",
        "reference": "llama.cpp's llama-tokenize (llama-cpp-python 0.3.36's vendored llama.cpp) --stdin --no-escape "
                     "--ids, BOS as the model says, --no-parse-special where parse_special is false",
        "model": args.model.name, "model_sha256": sha256(args.model),
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases, {sum(len(c['ids']) for c in cases)} ids -> {args.out}")


if __name__ == "__main__":
    main()
