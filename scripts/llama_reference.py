#!/usr/bin/env python3
"""Float64 numpy reference of the llama architecture: an exact oracle for SwiftGPT's F32 backends.

Written from the math (not from SwiftGPT's or llama.cpp's code), for SmolLM2-135M-Instruct Q4_1. The
quantized weights are dequantized once (to the float32 values SwiftGPT's F32 backends also multiply
with) and every activation is then computed in float64, so this is the forward pass without any
activation rounding. SwiftGPT's `blas` and `opencl` backends (exact F32 products on dequantized weights)
agree with it to NMSE ~1e-10; llama.cpp only to ~1e-3 (it quantizes activations to 8 bits).

Math (x: residual stream, one row per position p = 0..T-1; W x means the GGUF matrix [ne0=K, ne1=N]
read as N rows of K, one output per row):
  x      = token_embd[tokens]                                   (Q8_0 table, dequantized)
  per layer l = 0..29:
    h    = rmsnorm(x, attn_norm),  rmsnorm(x, w) = x / sqrt(mean(x^2) + eps) * w,
                                   eps = llama.attention.layer_norm_rms_epsilon
    q, k, v = Wq h, Wk h, Wv h     (9 query heads, 3 KV heads, head dim 64)
    rope on q and k, per head: adjacent pairs (x[2i], x[2i+1]) rotated by the angle
         p * base^(-2i/64), base = llama.rope.freq_base = 100000 (llama.cpp LLAMA_ROPE_TYPE_NORM)
    attention: head h uses KV head h // 3; a = softmax(q k^T / sqrt(64) + causal mask) v
    x    = x + Wo a
    h    = rmsnorm(x, ffn_norm)
    x    = x + Wdown (silu(Wgate h) * Wup h),  silu(g) = g / (1 + e^-g)
  logits = token_embd rmsnorm(x, output_norm)                   (tied unembedding: no output.weight)

Reads the GGUF with gguf-py (`gguf.GGUFReader`, `gguf.quants.dequantize`) from llama.cpp's tree: the
one `scripts/build-llama.sh --fetch-only` unpacks under
${XDG_CACHE_HOME:-~/.cache}/swiftgpt/llama.cpp/llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py
(the default here; or pass --gguf-py DIR, or have `gguf` importable). Needs numpy. Only needed to
regenerate Tests/EndToEndTests/Golden/reference_logits.json, never in CI.

Usage:
  scripts/llama_reference.py [--model PATH] [--gguf-py DIR] [--out FILE]   # write reference_logits.json
  scripts/llama_reference.py --check                                      # compare with llama.cpp's logits.json
                                                                           # and with a wrong rope base
"""
from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swiftgpt"
GOLDEN = REPO / "Tests" / "EndToEndTests" / "Golden"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # as scripts/build-llama.sh
POSITION_VOCAB = 12288  # capital's per-position logits are stored for token ids 0..<12288 (a quarter)
MATH = [
    "all activations in float64; weights dequantized with gguf-py (float32 values, Q8_0 token_embd, Q4_1 "
    "matrices), then used as float64",
    "x = token_embd[tokens]",
    "rmsnorm(x, w) = x / sqrt(mean(x^2) + eps) * w, eps = llama.attention.layer_norm_rms_epsilon (float32 value)",
    "per layer: h = rmsnorm(x, attn_norm); q = Wq h, k = Wk h, v = Wv h (GGUF [ne0=K, ne1=N]: N rows of K, "
    "one output per row)",
    "rope on q and k per head (head dim 64): adjacent pairs (x[2i], x[2i+1]) rotated by angle "
    "p * base^(-2i/64), base = llama.rope.freq_base = 100000 (llama.cpp LLAMA_ROPE_TYPE_NORM), "
    "angle computed exactly in float64",
    "causal grouped-query attention: 9 query heads, 3 KV heads, head h uses KV head h // 3, "
    "softmax(q k^T / sqrt(64)) over positions <= p, times v",
    "x = x + Wo a; h = rmsnorm(x, ffn_norm); x = x + Wdown(silu(Wgate h) * Wup h), silu(g) = g / (1 + exp(-g))",
    "logits = token_embd . rmsnorm(x, output_norm) (tied unembedding, no output.weight)",
]


def load_gguf_py(arg: Path | None):
    candidates = [arg] if arg else [
        CACHE / "llama.cpp" / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp" / "gguf-py"]
    for c in candidates:
        if c and (c / "gguf" / "__init__.py").exists():
            sys.path.insert(0, str(c))
            break
    else:
        if arg:
            sys.exit(f"llama_reference.py: no gguf-py at {arg} (expected {arg}/gguf/__init__.py)")
    try:
        import gguf  # noqa: F401
    except ImportError:
        sys.exit("llama_reference.py: gguf-py not found: run scripts/build-llama.sh --fetch-only, "
                 "or pass --gguf-py <llama.cpp>/gguf-py")
    import gguf
    import gguf.quants
    return gguf


class Model:
    """The weights as float64 arrays (matrices as [N out, K in]) and the hyper-parameters."""

    def __init__(self, path: Path, gguf):
        r = gguf.GGUFReader(str(path))

        def field(name):
            return r.fields[name].contents()

        assert field("general.architecture") == "llama"
        self.n_layers = int(field("llama.block_count"))
        self.n_embd = int(field("llama.embedding_length"))
        self.n_heads = int(field("llama.attention.head_count"))
        self.n_kv_heads = int(field("llama.attention.head_count_kv"))
        self.head_dim = self.n_embd // self.n_heads
        self.eps = float(np.float32(field("llama.attention.layer_norm_rms_epsilon")))
        self.rope_base = float(np.float32(field("llama.rope.freq_base")))
        assert int(field("llama.rope.dimension_count")) == self.head_dim
        self.tensors = {}
        for t in r.tensors:
            a = gguf.quants.dequantize(t.data, t.tensor_type)
            shape = tuple(int(n) for n in reversed(t.shape))  # numpy order: [ne1, ne0] = [N, K]
            self.tensors[t.name] = np.asarray(a, dtype=np.float64).reshape(shape)
        assert "output.weight" not in self.tensors, "this reference assumes the tied unembedding"
        self.n_vocab = self.tensors["token_embd.weight"].shape[0]

    def w(self, name):
        return self.tensors[name]


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, positions, base):
    """x [T, heads, hd]: rotate adjacent pairs (2i, 2i+1) by positions * base^(-2i/hd)."""
    hd = x.shape[-1]
    inv_freq = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)  # [hd/2]
    ang = positions[:, None].astype(np.float64) * inv_freq[None, :]  # [T, hd/2]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def forward(m: Model, tokens, rope_base=None):
    """Logits [T, n_vocab] (float64) for every position of `tokens`, fed from position 0."""
    base = m.rope_base if rope_base is None else rope_base
    T, H, KV, hd = len(tokens), m.n_heads, m.n_kv_heads, m.head_dim
    pos = np.arange(T)
    emb = m.w("token_embd.weight")
    x = emb[np.asarray(tokens)].copy()  # [T, n_embd]
    mask = np.triu(np.full((T, T), -np.inf), k=1)  # key j > query i is hidden
    for l in range(m.n_layers):
        p = f"blk.{l}."
        h = rmsnorm(x, m.w(p + "attn_norm.weight"), m.eps)
        q = (h @ m.w(p + "attn_q.weight").T).reshape(T, H, hd)
        k = (h @ m.w(p + "attn_k.weight").T).reshape(T, KV, hd)
        v = (h @ m.w(p + "attn_v.weight").T).reshape(T, KV, hd)
        q, k = rope(q, pos, base), rope(k, pos, base)
        att = np.empty((T, H, hd))
        for head in range(H):
            kvh = head // (H // KV)
            s = q[:, head, :] @ k[:, kvh, :].T / np.sqrt(hd) + mask  # [T query, T key]
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            att[:, head, :] = s @ v[:, kvh, :]
        x = x + att.reshape(T, H * hd) @ m.w(p + "attn_output.weight").T
        h = rmsnorm(x, m.w(p + "ffn_norm.weight"), m.eps)
        g = h @ m.w(p + "ffn_gate.weight").T
        u = h @ m.w(p + "ffn_up.weight").T
        x = x + (g / (1.0 + np.exp(-g)) * u) @ m.w(p + "ffn_down.weight").T
    return rmsnorm(x, m.w("output_norm.weight"), m.eps) @ emb.T


def nmse(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.sum((a - b) ** 2) / np.sum(b * b))


def b64(v):
    return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii")


def top2(v):
    i = np.argsort(-v, kind="stable")[:2]
    return int(i[0]), float(v[i[0]]), int(i[1]), float(v[i[1]])


def summary(v):
    a, am, s, sv = top2(v)
    return {"argmax": a, "max": round(am, 6), "second": s, "second_value": round(sv, 6),
            "margin": round(am - sv, 6)}


def sha256(path: Path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prompts_from_golden():
    golden = json.loads((GOLDEN / "logits.json").read_text())
    out = [(p["name"], p["prompt_tokens"]) for p in golden["prompts"]]
    return out + [("single", [504])], golden


def check(m: Model):
    prompts, golden = prompts_from_golden()
    by_name = {p["name"]: p for p in golden["prompts"]}
    for name, tokens in prompts[:-1]:
        ours = forward(m, tokens)[-1]
        theirs = np.frombuffer(base64.b64decode(by_name[name]["logits_f32le_b64"]), dtype="<f4")
        a, am, s, sv = top2(ours)
        ta, tam, ts, tsv = top2(theirs.astype(np.float64))
        wrong = forward(m, tokens, rope_base=10000.0)[-1]
        print(f"{name:8s} T={len(tokens):2d}  NMSE vs llama.cpp {nmse(ours, theirs):.3e}  "
              f"max|diff| {np.max(np.abs(ours - theirs)):.3f}  argmax ours {a} ({am:.3f}, 2nd {s} {sv:.3f})  "
              f"llama.cpp {ta} ({tam:.3f}, 2nd {ts} {tsv:.3f})  | rope base 1e4 vs correct: NMSE {nmse(wrong, ours):.3e}")
        # float32 storage of the reference costs nothing measurable:
        assert nmse(ours.astype(np.float32), ours) < 1e-14


def generate(m: Model, model_path: Path, out: Path):
    prompts, golden = prompts_from_golden()
    entries = []
    for name, tokens in prompts:
        logits = forward(m, tokens)
        e = {"name": name, "prompt_tokens": tokens, **summary(logits[-1]), "logits_f32le_b64": b64(logits[-1])}
        if name == "capital":  # every position, the first POSITION_VOCAB logits only (file size)
            e["positions"] = [{"position": i, "token": tokens[i], **summary(logits[i]),
                               "logits_prefix_f32le_b64": b64(logits[i][:POSITION_VOCAB])}
                              for i in range(len(tokens))]
        entries.append(e)
        print(f"{name}: argmax {e['argmax']} margin {e['margin']}")
    doc = {
        "generator": "scripts/llama_reference.py (float64 numpy reference of the llama architecture)",
        "generated": datetime.date.today().isoformat(),
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "model": {"file": model_path.name, "size": model_path.stat().st_size, "sha256": sha256(model_path)},
        "hyper_parameters": {"n_layers": m.n_layers, "n_embd": m.n_embd, "n_heads": m.n_heads,
                             "n_kv_heads": m.n_kv_heads, "head_dim": m.head_dim, "n_vocab": m.n_vocab,
                             "rms_eps": m.eps, "rope_freq_base": m.rope_base, "rope": "adjacent pairs (NORM)"},
        "math": MATH,
        "storage": "logits rounded once to float32, little-endian, base64 (logits_f32le_b64); "
                   "argmax/max/second/second_value/margin from the float64 values",
        "prompts_note": "capital, chat, code: prompt_tokens of logits.json; single: the 1-token prompt [504]. "
                        "logits_f32le_b64: all n_vocab logits at the last prompt position. capital.positions[i]: "
                        "position i (logits after tokens[0...i]); argmax/max/second over the whole vocabulary, "
                        "but logits_prefix_f32le_b64 holds only token ids 0..<position_vocab (to keep the file "
                        "under 1.5 MB).",
        "position_vocab": POSITION_VOCAB,
        "prompts": entries,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path(os.environ.get("GPT_MODEL") or
                                                      CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--gguf-py", type=Path, default=None, help="llama.cpp's gguf-py folder (holds gguf/)")
    p.add_argument("--out", type=Path, default=GOLDEN / "reference_logits.json")
    p.add_argument("--check", action="store_true",
                   help="compare with llama.cpp's logits.json and with a wrong rope base, write nothing")
    a = p.parse_args()
    gguf = load_gguf_py(a.gguf_py)
    m = Model(a.model, gguf)
    if a.check:
        check(m)
    else:
        generate(m, a.model, a.out)


if __name__ == "__main__":
    main()
