#!/usr/bin/env python3
"""Cross-check the tiny GPT-2 reference (Tests/GPT2Tests/Resources/reference.json) with llama.cpp itself.

Loads Resources/tiny-gpt2-f16.gguf.data (written by gguf-py in scripts/make_tiny_gpt2.py) into libllama through the
bindings scripts/make_golden.py uses, then checks that llama.cpp tokenizes the prompt to the same ids, that its
logits at every position are close to the numpy reference (its weights are F16, so NMSE ~1e-6, not 0), and that
its greedy continuation is the same. Prints the numbers; exits non-zero on a mismatch.

Usage: scripts/check_tiny_gpt2_llama.py [--py-src DIR --lib-dir DIR]   (the same defaults as make_golden.py)
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RES = REPO / "Tests/GPT2Tests/Resources"


def main() -> None:
    spec = importlib.util.spec_from_file_location("make_golden", REPO / "scripts/make_golden.py")
    mg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mg)
    sys.argv = [sys.argv[0], "--model", str(RES / "tiny-gpt2-f16.gguf.data"), "--n-ctx", "64", *sys.argv[1:]]
    args = mg.parse_args()
    llm = mg.Llama(mg.load_bindings(args.py_src, args.lib_dir), args)
    ref = json.loads((RES / "reference.json").read_text())

    tokens = llm.tokenize(ref["prompt"], True, False)
    ctx = llm.new_context()
    worst = 0.0
    for i, t in enumerate(tokens):  # one token per llama_decode: logits at every position
        llm.decode(ctx, [t])
        got, want = llm.last_logits(ctx), ref["logits"][i]
        worst = max(worst, sum((a - b) ** 2 for a, b in zip(got, want)) / sum(b * b for b in want))
    greedy = []
    for _ in ref["greedy"]:
        logits = llm.last_logits(ctx)
        greedy.append(max(range(len(logits)), key=logits.__getitem__))
        llm.decode(ctx, [greedy[-1]])
    ok_tokens = tokens == ref["prompt_tokens"]
    ok_greedy = greedy == [s["token"] for s in ref["greedy"]]
    print(f"prompt tokens equal: {ok_tokens}; greedy equal: {ok_greedy}; worst per-position NMSE {worst:.3g}")
    sys.exit(0 if ok_tokens and ok_greedy and worst < 1e-5 else 1)


if __name__ == "__main__":
    main()
