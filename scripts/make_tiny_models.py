#!/usr/bin/env python3
"""Tiny seeded GGUF models of each architecture, and llama.cpp's outputs on them (golden data for SwiftGPT).

For each architecture named on the command line (default: all), writes into Tests/EndToEndTests/Golden/tiny/:
  <arch>.gguf.data  a GGUF written with llama.cpp's own gguf-py: random F32 weights from a fixed numpy seed, a few
                    layers, small widths, and the tensor names and metadata keys llama.cpp's loader reads for that
                    architecture. (".data": the repository ignores *.gguf.)
  <arch>.json       what llama.cpp (libllama, through the ctypes bindings scripts/make_golden.py loads) computes on
                    that file for a few prompts given as token ids: the last prompt position's full logits, and a
                    greedy continuation with the top-1/top-2 margin of every step (near-ties: margin < 0.5).

The vocabulary is small (the 256 byte-level BPE symbols of GPT-2, a few merges, one special token): real
vocabularies (llama.cpp's models/ggml-vocab-*.gguf, 32k-152k tokens) would make each embedding table megabytes.
Prompts are token ids, so no tokenizer takes part in the comparison.

llama.cpp settings (as make_golden.py): CPU only, F32 KV cache, flash attention off, the prompt as one batch, then
one token per llama_decode; greedy = argmax of the raw logits.

Usage: scripts/make_tiny_models.py [ARCH ...] [--gguf-py DIR] [--py-src DIR --lib-dir DIR]
Needs numpy (and PyYAML, which gguf-py imports); gguf-py comes from the llama.cpp source tree by default.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests/EndToEndTests/Golden/tiny"
LLAMA_SRC = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
    "swiftgpt/llama.cpp/llama_cpp_python-0.3.36/vendor/llama.cpp"
NEAR_TIE = 0.5
N_PREDICT = 16
N_CTX = 64  # llama.cpp's context for the golden runs (SwiftGPT's tests use the same)


# MARK: - Vocabulary

def byte_symbols() -> list[str]:
    """GPT-2's reversible byte -> printable character map, in byte order."""
    from make_tiny_gpt2 import bytes_to_unicode  # this folder's tiny GPT-2 script
    table = bytes_to_unicode()
    return [table[b] for b in range(256)]


MERGES = [("t", "h"), ("Ġ", "t"), ("Ġt", "h"), ("e", "r"), ("i", "n"), ("o", "n"), ("a", "n"), ("r", "e")]
SPECIAL = "<|endoftext|>"


def add_vocabulary(w, pre: str) -> int:
    """A byte-level BPE vocabulary: 256 byte symbols, one token per merge, the special token last."""
    import gguf
    tokens = byte_symbols() + [a + b for a, b in MERGES] + [SPECIAL]
    types = [gguf.TokenType.NORMAL] * (len(tokens) - 1) + [gguf.TokenType.CONTROL]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([f"{a} {b}" for a, b in MERGES])
    w.add_bos_token_id(len(tokens) - 1)
    w.add_eos_token_id(len(tokens) - 1)
    w.add_add_bos_token(False)
    return len(tokens)


# MARK: - Weights

class Weights:
    """Seeded random tensors: matrices ~ N(0, 1/fan_in) (so activations stay O(1)), norm gains ~ 1 + N(0, 0.1²),
    biases ~ N(0, 0.2²), the embedding ~ N(0, 1) (so logits spread over several units)."""

    def __init__(self, writer, seed: int):
        self.w = writer
        self.rng = np.random.default_rng(seed)

    def matrix(self, name: str, rows: int, cols: int, gain: float = 1.0) -> None:
        """A (rows, cols) weight: GGUF stores ne = [cols, rows], so y = W x takes x of length cols."""
        a = self.rng.standard_normal((rows, cols)) * (gain / np.sqrt(cols))
        self.w.add_tensor(name, a.astype(np.float32))

    def embedding(self, name: str, rows: int, cols: int) -> None:
        self.w.add_tensor(name, self.rng.standard_normal((rows, cols)).astype(np.float32))

    def gain(self, name: str, n: int) -> None:
        self.w.add_tensor(name, (1 + 0.1 * self.rng.standard_normal(n)).astype(np.float32))

    def bias(self, name: str, n: int) -> None:
        self.w.add_tensor(name, (0.2 * self.rng.standard_normal(n)).astype(np.float32))

    def vector(self, name: str, values: np.ndarray) -> None:
        self.w.add_tensor(name, values.astype(np.float32))


def common_keys(w, n_layer: int, n_embd: int, n_ff: int, n_head: int, n_head_kv: int, ctx: int,
                rope_base: float, eps: float = 1e-5) -> None:
    w.add_block_count(n_layer)
    w.add_context_length(ctx)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_freq_base(rope_base)
    w.add_layer_norm_rms_eps(eps)
    w.add_file_type(0)  # ALL_F32


# MARK: - Architectures

L, D, F, H, HKV = 2, 64, 96, 4, 2  # layers, width, MLP width, query heads, key/value heads of every tiny model
HD = D // H  # head size


def write_decoder(path: Path, arch: str, seed: int, *, pre: str, rope_base: float, eps: float = 1e-5,
                  ctx: int = 256, keys=lambda w: None, globals_=lambda t: None, qkv_bias: bool = False,
                  fused_qkv: bool = False, fused_gate_up: bool = False, **shape) -> dict:
    """A pre-norm decoder as llama.cpp's loaders name it: the common keys, then `keys(w)`; the token embedding, then
    `globals_(t)` (tensors shared by every layer), then each layer (attn_norm; attn_q/k/v with their biases if
    `qkv_bias`, or one attn_qkv with rows q | k | v if `fused_qkv`; attn_output; ffn_norm; ffn_gate and ffn_up, or
    one ffn_up with rows gate | up if `fused_gate_up`; ffn_down); output_norm and an untied output. The order of
    the writes is the order of the random draws: it fixes the file's bytes."""
    import gguf
    w = gguf.GGUFWriter(str(path), arch)
    common_keys(w, L, D, F, H, HKV, ctx=ctx, rope_base=rope_base, eps=eps)
    keys(w)
    n_vocab = add_vocabulary(w, pre)
    t = Weights(w, seed)
    t.embedding("token_embd.weight", n_vocab, D)
    globals_(t)
    for i in range(L):
        b = f"blk.{i}."
        t.gain(b + "attn_norm.weight", D)
        if fused_qkv:
            t.matrix(b + "attn_qkv.weight", (H + 2 * HKV) * HD, D)
        else:
            for name, rows in (("attn_q", H * HD), ("attn_k", HKV * HD), ("attn_v", HKV * HD)):
                t.matrix(b + name + ".weight", rows, D)
                if qkv_bias:
                    t.bias(b + name + ".bias", rows)
        t.matrix(b + "attn_output.weight", D, H * HD)
        t.gain(b + "ffn_norm.weight", D)
        if fused_gate_up:
            t.matrix(b + "ffn_up.weight", 2 * F, D)
        else:
            t.matrix(b + "ffn_gate.weight", F, D)
            t.matrix(b + "ffn_up.weight", F, D)
        t.matrix(b + "ffn_down.weight", D, F)
    t.gain("output_norm.weight", D)
    t.matrix("output.weight", n_vocab, D, gain=16.0)
    finish(w)
    return {"gguf_architecture": w.arch, "layers": L, "embd": D, "ff": F, "heads": H, "kv_heads": HKV,
            "vocab": n_vocab, **shape}


def write_qwen2(path: Path, seed: int) -> dict:
    """Qwen2: llama's block with biases on the query, key and value projections, NeoX RoPE, an untied output."""
    return write_decoder(path, "qwen2", seed, pre="qwen2", rope_base=1_000_000.0, eps=1e-6, qkv_bias=True)


def write_llama3(path: Path, seed: int) -> dict:
    """Llama 3: llama with RoPE frequency factors (rope_freqs.weight, one divisor per pair of a head: Llama 3.1
    stretches the low frequencies), base 500000, grouped-query attention. The file also carries
    llama.attention.sliding_window = 8 (Mistral's key), which llama.cpp's llama graph does not read: every layer
    attends over all positions (the 30-token prompt shows it)."""
    def keys(w):
        w.add_rope_dimension_count(HD)
        w.add_sliding_window(8)

    def globals_(t):
        # factors from 1 (the highest frequency pair) up to 8 (the lowest), as Llama 3.1's scaling leaves them
        t.vector("rope_freqs.weight", np.sort(1 + 7 * t.rng.random(HD // 2)))

    return write_decoder(path, "llama", seed, pre="llama-bpe", rope_base=500_000.0, keys=keys, globals_=globals_)


def write_phi3(path: Path, seed: int, original_ctx: int, fused_qkv: bool = True) -> dict:
    """Phi-3 with LongRoPE: fused attn_qkv (rows q | k | v; separate attn_q/k/v with `fused_qkv` off, which
    llama.cpp's phi3 loader reads too) and ffn_up (rows gate | up), NeoX RoPE, the short and long factor tensors,
    rope.scaling.attn_factor as the converter computes it (conversion/phi.py), and the sliding-window key llama.cpp
    ignores for phi3. llama.cpp uses the long factors when its context, rounded up to a multiple of 256, exceeds
    rope.scaling.original_context_length: `original_ctx` picks which one runs."""
    import math
    ctx = 1024

    def keys(w):
        w.add_rope_dimension_count(HD)
        w.add_rope_scaling_orig_ctx_len(original_ctx)
        w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(ctx / original_ctx) / math.log(original_ctx)))
        w.add_sliding_window(8)

    def globals_(t):
        t.vector("rope_factors_long.weight", np.sort(1 + 15 * t.rng.random(HD // 2)))
        t.vector("rope_factors_short.weight", 1 + 0.5 * t.rng.random(HD // 2))

    return write_decoder(path, "phi3", seed, pre="default", rope_base=10000.0, ctx=ctx, keys=keys, globals_=globals_,
                         fused_qkv=fused_qkv, fused_gate_up=True, original_context=original_ctx)


# name -> (writer, seed)
ARCHS = {
    "qwen2": (write_qwen2, 14),
    "llama3": (write_llama3, 15),
    # llama.cpp's context of 256 (n_ctx 64 rounded up) against an original context of 512: short factors
    "phi3": (lambda path, seed: write_phi3(path, seed, original_ctx=512), 16),
    # ... and against 128: long factors
    "phi3_long": (lambda path, seed: write_phi3(path, seed, original_ctx=128), 16),
    # separate attn_q/attn_k/attn_v instead of attn_qkv (short factors)
    "phi3_split": (lambda path, seed: write_phi3(path, seed, original_ctx=512, fused_qkv=False), 17),
}


def finish(w) -> None:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# MARK: - llama.cpp on the file

def prompts(n_vocab: int, seed: int) -> list[dict]:
    """Token-id prompts: a short one, a middle one, and one past any 16-position window (the special token, the
    last id, is left out)."""
    rng = np.random.default_rng(seed + 1000)
    return [{"name": f"p{n}", "prompt_tokens": [int(x) for x in rng.integers(0, n_vocab - 1, n)]}
            for n in (3, 11, 30)]


def top2(logits) -> tuple[int, float, int, float]:
    order = np.argsort(-np.asarray(logits, dtype=np.float64), kind="stable")
    return int(order[0]), float(logits[order[0]]), int(order[1]), float(logits[order[1]])


def run_llama(path: Path, seed: int, args) -> list[dict]:
    spec = importlib.util.spec_from_file_location("make_golden", REPO / "scripts/make_golden.py")
    mg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mg)
    argv = [sys.argv[0], "--model", str(path), "--n-ctx", str(N_CTX), "--n-batch", str(N_CTX)]
    if args.py_src:
        argv += ["--py-src", str(args.py_src)]
    if args.lib_dir:
        argv += ["--lib-dir", str(args.lib_dir)]
    saved, sys.argv = sys.argv, argv
    try:
        margs = mg.parse_args()
    finally:
        sys.argv = saved
    llm = mg.Llama(mg.load_bindings(margs.py_src, margs.lib_dir), margs)
    out = []
    for p in prompts(llm.n_vocab, seed):
        ctx = llm.new_context()
        llm.decode(ctx, p["prompt_tokens"])
        logits = llm.last_logits(ctx)
        i1, v1, i2, v2 = top2(logits)
        entry = dict(p, argmax=i1, max=v1, second=i2, second_value=v2, logits=[float(f"{x:.9g}") for x in logits])
        steps = []
        for k in range(N_PREDICT):
            cur = logits if k == 0 else llm.last_logits(ctx)
            i1, v1, i2, v2 = top2(cur)
            steps.append({"token": i1, "top2_token": i2, "margin": round(v1 - v2, 6)})
            if k + 1 < N_PREDICT:
                llm.decode(ctx, [i1])
        llm.L.llama_free(ctx)
        entry["greedy"] = steps
        entry["near_tie_steps"] = [k for k, s in enumerate(steps) if s["margin"] < NEAR_TIE]
        out.append(entry)
    llm.L.llama_model_free(llm.model)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("archs", nargs="*", default=sorted(ARCHS))
    ap.add_argument("--gguf-py", type=Path, default=Path(os.environ.get("GGUF_PY") or LLAMA_SRC / "gguf-py"))
    ap.add_argument("--py-src", type=Path, default=None)
    ap.add_argument("--lib-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    sys.path.insert(0, str(args.gguf_py))
    args.out.mkdir(parents=True, exist_ok=True)
    for arch in args.archs:
        write, seed = ARCHS[arch]
        path = args.out / f"{arch}.gguf.data"
        shape = write(path, seed)
        results = run_llama(path, seed, args)
        golden = {
            "generator": "scripts/make_tiny_models.py",
            "reference": "llama.cpp via libllama (ctypes bindings of llama-cpp-python 0.3.36), CPU, F32 KV cache, "
                         "flash attention off; prompt as one batch, then one token per llama_decode",
            "architecture": arch, "gguf_architecture": shape.pop("gguf_architecture"), "seed": seed, "shape": shape, "n_ctx": N_CTX, "near_tie": NEAR_TIE,
            "prompts": results,
        }
        (args.out / f"{arch}.json").write_text(json.dumps(golden, indent=1) + "\n")
        ties = sum(len(r["near_tie_steps"]) for r in results)
        print(f"{arch}: {path.stat().st_size} bytes; greedy "
              + " | ".join(" ".join(str(s["token"]) for s in r["greedy"]) for r in results)
              + f"; near-ties {ties}; min margin {min(s['margin'] for r in results for s in r['greedy']):.3f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
