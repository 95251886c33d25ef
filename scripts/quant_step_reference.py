#!/usr/bin/env python3
"""Exact-arithmetic logits at one greedy step of Tests/EndToEndTests/Golden/quant.json, to judge a disagreement.

When SwiftGPT's greedy pick at a step differs from llama.cpp's by more than the near-tie band, this says which
engine is closer to the exact math: it runs scripts/llama_reference.py's float64 forward pass (weights dequantized
by gguf-py, every activation in float64, no activation rounding) on the variant file, over the prompt tokens plus
llama.cpp's first STEP generated tokens, and prints the logits of llama.cpp's five best candidates at that step in
the reference next to llama.cpp's own (from quant.json). SwiftGPT's blas and opencl backends multiply float32
activations with the same dequantized weights; openmp and llama.cpp round activations to 8 bits first.

Usage:
  scripts/quant_step_reference.py --type Q4_K_M --prompt robot --step 3 [--token ID] [--variants DIR]
                                  [--gguf-py DIR]
Needs numpy and gguf-py (as llama_reference.py), and the variant file (scripts/make_quant_golden.py --quantize-only
or EndToEndTests/QuantGoldenTests makes it). Never needed in CI.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import llama_reference as ref  # noqa: E402

GOLDEN = ref.GOLDEN / "quant.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--type", required=True)
    p.add_argument("--prompt", required=True, help="capital, robot or chat")
    p.add_argument("--step", type=int, required=True)
    p.add_argument("--token", type=int, action="append", default=[], help="also show this token's logits")
    p.add_argument("--variants", type=Path, default=ref.CACHE / "models" / "variants" / "swiftgpt")
    p.add_argument("--gguf-py", type=Path, default=None)
    a = p.parse_args()
    golden = json.loads(GOLDEN.read_text())
    variant = next(v for v in golden["variants"] if v["type"] == a.type)
    prompt = next(g for g in variant["greedy"] if g["name"] == a.prompt)
    path = a.variants / variant["file"]
    if a.type == "Q4_1":
        path = ref.CACHE / "models" / variant["file"]
    if ref.sha256(path) != variant["sha256"]:
        sys.exit(f"quant_step_reference: {path} is not the file quant.json was made on (SHA-256 differs)")
    tokens = prompt["prompt_tokens"] + prompt["generated_tokens"][: a.step]
    step = prompt["steps"][a.step]
    m = ref.Model(path, ref.load_gguf_py(a.gguf_py))
    logits = ref.forward(m, tokens)[-1]
    theirs = {t: v for t, v in step["top5"]}
    order = np.argsort(-logits, kind="stable")
    print(f"{a.type} {a.prompt} step {a.step}: {len(tokens)} tokens; llama.cpp picked {step['token']}")
    print(f"float64 reference argmax {int(order[0])}; reference top 5: "
          + ", ".join(f"{int(i)} {logits[i]:.4f}" for i in order[:5]))
    print("token   reference   llama.cpp   (reference - reference[llama.cpp's pick])")
    top = logits[step["token"]]
    for t in list(theirs) + [t for t in a.token if t not in theirs]:
        lc = f"{theirs[t]:10.4f}" if t in theirs else "    (none)"
        print(f"{t:6d} {logits[t]:11.4f} {lc}   {logits[t] - top:+.4f}")


if __name__ == "__main__":
    main()
