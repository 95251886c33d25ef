#!/usr/bin/env python3
"""Golden blocks for SwiftGPT's quantizers (CKernels ck_quantize_row): ggml's own reference quantizers
(quantize_row_<fmt>_ref in libggml-base, the code path llama-quantize runs without an importance matrix, and
ggml_fp32_to_bf16_row_ref) applied to fixed inputs. IQ4_NL and IQ4_XS go through ggml_quantize_chunk with no
importance matrix, as llama-quantize calls them (quantize_iq4_nl / quantize_iq4_xs: the scale search;
quantize_row_iq4_nl_ref would skip it). Writes Tests/CKernelsTests/Golden/quantize.json: the inputs
(float32, base64) and, per format, ggml's bytes (base64). The test requires CKernels' output to equal them bit for
bit.

Inputs (seeded, 5 rows of 512): gaussian (weights-like), cubed gaussian (heavy tails), uniform with all-zero
sub-blocks, a row mixing huge, tiny and exactly zero values, and a row with an all-zero super-block of 256 and
zero / below-1e-15 blocks of 32 among gaussian ones.

Usage: scripts/make_quantize_golden.py [--lib DIR_WITH_libggml-base.so] [--out FILE]
"""
from __future__ import annotations

import argparse
import base64
import ctypes
import json
import math
import os
import random
import struct
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swiftgpt"
N = 512
FORMATS = {  # name -> (ggml function, bytes per block, elements per block)
    "bf16": ("ggml_fp32_to_bf16_row_ref", 2, 1), "q5_0": ("quantize_row_q5_0_ref", 22, 32),
    "q5_1": ("quantize_row_q5_1_ref", 24, 32), "q2_K": ("quantize_row_q2_K_ref", 84, 256),
    "q3_K": ("quantize_row_q3_K_ref", 110, 256), "q4_K": ("quantize_row_q4_K_ref", 144, 256),
    "q5_K": ("quantize_row_q5_K_ref", 176, 256), "q6_K": ("quantize_row_q6_K_ref", 210, 256),
    "q4_0": ("quantize_row_q4_0_ref", 18, 32), "q4_1": ("quantize_row_q4_1_ref", 20, 32),
    "q8_0": ("quantize_row_q8_0_ref", 34, 32),
    "iq4_nl": (20, 18, 32), "iq4_xs": (23, 136, 256),  # ggml type ids for ggml_quantize_chunk
}


def rows() -> list[tuple[str, list[float]]]:
    r = random.Random(20261130)
    f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
    gauss = [f32(r.gauss(0, 0.02)) for _ in range(N)]
    cubed = [f32(r.gauss(0, 1) ** 3 * 0.01) for _ in range(N)]
    zeros = [0.0 if (i // 16) % 5 == 0 else f32(r.uniform(-0.3, 0.7)) for i in range(N)]
    mixed = [f32([1e4, -3e3, 1e-20, 0.0, -0.0, r.gauss(0, 1)][i % 6]) for i in range(N)]
    blocks = [0.0 if i < 256 or 288 <= i < 320 else f32(1e-16) if i < 352 and i >= 320 else f32(r.gauss(0, 0.05))
              for i in range(N)]
    return [("gaussian", gauss), ("cubed", cubed), ("zero sub-blocks", zeros), ("extremes", mixed),
            ("zero blocks", blocks)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lib", type=Path, default=CACHE / "llama.cpp" / "bin")
    p.add_argument("--out", type=Path, default=REPO / "Tests" / "CKernelsTests" / "Golden" / "quantize.json")
    a = p.parse_args()
    lib = ctypes.CDLL(str(a.lib / "libggml-base.so"))
    out = {"generator": "scripts/make_quantize_golden.py",
           "reference": "ggml's reference quantizers (libggml-base of the llama.cpp that scripts/build-llama.sh "
                        "builds: llama-cpp-python 0.3.36's vendored tree)",
           "n": N, "rows": []}
    for name, values in rows():
        raw = struct.pack(f"<{N}f", *values)
        src = (ctypes.c_float * N)(*values)
        entry = {"name": name, "input_f32le_b64": base64.b64encode(raw).decode(), "formats": {}}
        for fmt, (fn, block_bytes, block) in FORMATS.items():
            size = N // block * block_bytes
            dst = (ctypes.c_uint8 * size)()
            if isinstance(fn, int):  # ggml_quantize_chunk(type, src, dst, start, nrows, n_per_row, imatrix)
                lib.ggml_quantize_chunk(ctypes.c_int(fn), src, dst, ctypes.c_int64(0), ctypes.c_int64(1),
                                        ctypes.c_int64(N), None)
            else:
                getattr(lib, fn)(src, dst, ctypes.c_int64(N))
            entry["formats"][fmt] = base64.b64encode(bytes(dst)).decode()
        out["rows"].append(entry)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {a.out} ({a.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
