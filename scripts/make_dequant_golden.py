#!/usr/bin/env python3
"""Golden dequantization blocks for every weight format, made with gguf-py's numpy dequantizers.

Writes Tests/CKernelsTests/Golden/dequantize.json: for each format of SwiftGPT's table (WeightFormat /
ckernels.h), blocks as hex bytes and gguf-py's `gguf.quants.dequantize` of them as float32 bit patterns (hex).
CKernels' ck_dequantize_row must reproduce them bit for bit (NaN: any NaN). gguf-py is llama.cpp's own Python
package (PyPI `gguf`); its numpy code is independent of ggml's C.

Cases per format (each a few blocks):
  random       random quants and sub-block scales, fp16 scales random finite values of moderate size
  raw          every byte random: fp16 scales include subnormals, huge values, inf and NaN
  zero_scales  all fp16 scales and all sub-block scales zero (quants random)
  max          every byte 0xFF, fp16 scales +-65504 (largest finite half), i.e. maximum magnitudes
  neg_zero     fp16 scales -0.0
  inf_nan      fp16 scales +inf, -inf and NaN (propagated as numpy and llama.cpp do)

Usage: python3 -m venv /work/venvs/formats && /work/venvs/formats/bin/pip install gguf numpy
       /work/venvs/formats/bin/python scripts/make_dequant_golden.py
"""
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

# (name, ggml type, bytes per block, offsets of the fp16 scale fields, (offset, length) of packed sub-block scales)
FORMATS = [
    ("f16", T.F16, 2, [], None),
    ("bf16", T.BF16, 2, [], None),
    ("q4_0", T.Q4_0, 18, [0], None),
    ("q4_1", T.Q4_1, 20, [0, 2], None),
    ("q5_0", T.Q5_0, 22, [0], None),
    ("q5_1", T.Q5_1, 24, [0, 2], None),
    ("q8_0", T.Q8_0, 34, [0], None),
    ("q2_K", T.Q2_K, 84, [80, 82], (0, 16)),
    ("q3_K", T.Q3_K, 110, [108], (96, 12)),
    ("q4_K", T.Q4_K, 144, [0, 2], (4, 12)),
    ("q5_K", T.Q5_K, 176, [0, 2], (4, 12)),
    ("q6_K", T.Q6_K, 210, [208], (192, 16)),
    ("iq4_nl", T.IQ4_NL, 18, [0], None),
    ("iq4_xs", T.IQ4_XS, 136, [0], (2, 6)),  # scales_h (2 bytes) + scales_l (4): stored 0 means sub-block scale -32
]
BLOCKS = 2  # per case (float formats: rows of 64 elements)


def put_half(block, offset, value_bits):
    block[offset] = value_bits & 0xFF
    block[offset + 1] = value_bits >> 8


def make_cases(rng, size, halves, scales):
    cases = {}
    random = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
    for b in random:
        for o in halves:
            put_half(b, o, int(np.float16(rng.uniform(-2.0, 2.0)).view(np.uint16)))
    cases["random"] = random
    cases["raw"] = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
    if halves:
        zero = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
        for b in zero:
            for o in halves:
                put_half(b, o, 0)
            if scales:
                b[scales[0]:scales[0] + scales[1]] = 0
        cases["zero_scales"] = zero
        mx = np.full((BLOCKS, size), 0xFF, dtype=np.uint8)
        for i, b in enumerate(mx):
            for o in halves:
                put_half(b, o, 0x7BFF if i % 2 == 0 else 0xFBFF)
        cases["max"] = mx
        for name, bits in (("neg_zero", [0x8000]), ("inf_nan", [0x7C00, 0xFC00, 0x7E00, 0xFE01])):
            blocks = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
            for i, b in enumerate(blocks):
                for o in halves:
                    put_half(b, o, bits[(i + o) % len(bits)])
            cases[name] = blocks
    else:
        # float formats: special bit patterns in every position of a block
        special = np.array([0x0000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7F80, 0xFF80,
                            0x7FC0, 0x0080, 0x007F, 0x3F80, 0xBF80], dtype=np.uint16)
        cases["max"] = np.tile(special, 4 * BLOCKS).view(np.uint8).reshape(BLOCKS, -1)
    return cases


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "Tests", "CKernelsTests", "Golden", "dequantize.json")
    rng = np.random.default_rng(20261130)
    from importlib.metadata import version
    result = {"generator": "scripts/make_dequant_golden.py: gguf.quants.dequantize", "gguf_version": version("gguf"),
              "formats": []}
    for name, qtype, size, halves, scales in FORMATS:
        if name in ("f16", "bf16"):
            size = 128  # 64 elements per "block" row
        cases = make_cases(rng, size, halves, scales)
        entry = {"format": name, "ggml_type": int(qtype), "cases": []}
        for case, blocks in cases.items():
            data = np.ascontiguousarray(blocks).reshape(-1)
            with np.errstate(all="ignore"):
                values = quants.dequantize(data, qtype).astype(np.float32).reshape(-1)
            entry["cases"].append({
                "name": case,
                "bytes": data.tobytes().hex(),
                "floats": values.view(np.uint32).astype(">u4").tobytes().hex(),
            })
        result["formats"].append(entry)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
