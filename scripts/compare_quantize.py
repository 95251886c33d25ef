#!/usr/bin/env python3
"""`gpt quantize` against llama.cpp's `llama-quantize` on the same input: for each type, quantize the default model
with both (llama.cpp's files from scripts/make_quant_golden.py --quantize-only), compare every tensor (format and
bytes, read with gguf-py), and run llama-perplexity on SwiftGPT's file (so llama.cpp loads it) and on llama.cpp's.

Usage: scripts/compare_quantize.py [--types Q4_0,...] [--gpt .build/release/gpt] [--threads 2]
Prints one line per type: tensors with another format or other bytes, both perplexities and their ratio.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_golden as mg  # noqa: E402
import make_quant_golden as mq  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--types", default=",".join(mq.TYPES + mq.IQ4))
    p.add_argument("--model", type=Path, default=mg.CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    p.add_argument("--variants", type=Path, default=mg.CACHE / "models" / "variants")
    p.add_argument("--gpt", type=Path, default=mg.REPO / ".build" / "release" / "gpt")
    p.add_argument("--llama-dir", type=Path, default=mg.CACHE / "llama.cpp")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    sys.path.insert(0, str(a.llama_dir / f"llama_cpp_python-{mg.PY_VERSION}" / "vendor" / "llama.cpp" / "gguf-py"))
    import gguf  # llama.cpp's gguf-py

    with tempfile.TemporaryDirectory() as tmp:
        for t in a.types.split(","):
            theirs = mq.variant_path(a.variants, a.model, t)
            ours = Path(tmp) / f"gpt.{t}.gguf"
            subprocess.run([str(a.gpt), "quantize", str(a.model), str(ours), t, "--quiet", "-t", str(a.threads)],
                           check=True)
            ra, rb = gguf.GGUFReader(ours), gguf.GGUFReader(theirs)
            mine = {x.name: x for x in ra.tensors}
            fmt = sum(mine[x.name].tensor_type != x.tensor_type for x in rb.tensors)
            data = sum(mine[x.name].data.tobytes() != x.data.tobytes() for x in rb.tensors)
            p_ours = mq.perplexity(a.llama_dir / "bin", ours, a.threads)["ppl"]
            p_theirs = mq.perplexity(a.llama_dir / "bin", theirs, a.threads)["ppl"]
            print(f"{t:7s} tensors {len(rb.tensors)}: other format {fmt}, other bytes {data}; llama-perplexity "
                  f"gpt file {p_ours:.4f}, llama.cpp file {p_theirs:.4f}, ratio {p_ours / p_theirs:.4f}", flush=True)


if __name__ == "__main__":
    main()
