#!/usr/bin/env python3
"""Make the tiny GPT-2 test model and its reference outputs, independently of SwiftGPT.

Writes into Tests/GPT2Tests/Resources/ by default:
  tiny-gpt2/            a Hugging Face GPT-2 checkpoint folder, as `save_pretrained` lays it out:
    config.json           GPT2LMHeadModel hyper-parameters (n_layer, n_embd, n_head, n_positions, ...)
    model.safetensors     F32 weights under Hugging Face names (wte, wpe, h.N.*, ln_f), Conv1D (in, out) layout,
                          plus the h.N.attn.bias causal-mask buffers old checkpoints carry (loaders must skip them)
    vocab.json merges.txt the byte-level BPE vocabulary (the slow tokenizer's files)
    tokenizer.json        the same vocabulary as the fast tokenizer's single file
  tiny-gpt2-f16.gguf.data    the same model written by llama.cpp's own gguf-py (its gpt2 tensor names and keys, 2-D
                        weights F16 and a duplicated output.weight, as convert_hf_to_gguf.py --outtype f16 does)
  reference.json        prompt text -> token ids (a BPE written here), logits at every prompt position, and a
                        greedy continuation with the top-1/top-2 margin of each step

The model is random (seeded numpy), with weights scaled so that logits spread over several units (greedy choices
are far from ties). The reference forward pass follows the GPT-2 paper and the original TF code
(openai/gpt-2 src/model.py): LayerNorm before attention and MLP, learned positions, GELU (tanh form),
unembedding tied to the token embedding. It runs in float64 on the F32 weights.

Only numpy is needed (gguf-py is imported from the llama.cpp tree; pass --gguf-py DIR or set GGUF_PY).

Usage: scripts/make_tiny_gpt2.py [--out DIR] [--gguf-py DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SEED = 10  # picked among seeds 1-12: varied greedy tokens, none <|endoftext|>, smallest margin 0.21

# Hyper-parameters: small, but every dimension a multiple of 32 where quantization needs it (rows of 64 and 256).
N_LAYER = 2
N_EMBD = 64
N_HEAD = 4
N_POSITIONS = 64
N_INNER = 4 * N_EMBD
EPS = 1e-5

PROMPT = "the theory of the thin theater, then the three thieves"
N_GREEDY = 24

# A few merges over the prompt's letters, so the BPE has real work to do (rank = line order).
MERGES = [
    ("t", "h"), ("Ġ", "th"), ("Ġth", "e"), ("e", "r"), ("i", "n"), ("Ġth", "in"), ("o", "r"),
    ("Ġthe", "or"), ("e", "n"), ("Ġth", "en"), ("Ġ", "o"), ("Ġo", "f"), ("a", "t"), ("Ġth", "r"),
    ("Ġthr", "e"), ("Ġthre", "e"), ("i", "e"), ("v", "e"), ("s", "Ġ"), ("Ġ", "t"),
]
SPECIAL = "<|endoftext|>"


# MARK: - Byte-level BPE (GPT-2's encoder.py, restricted to ASCII text)

def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (encoder.py)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def make_vocab() -> tuple[list[str], list[tuple[str, str]]]:
    """Tokens: the 256 byte characters in encoder.json's order, then one per merge, then <|endoftext|>."""
    tokens = list(bytes_to_unicode().values())
    for left, right in MERGES:
        assert left in tokens and right in tokens, (left, right)
        tokens.append(left + right)
    tokens.append(SPECIAL)
    assert len(set(tokens)) == len(tokens)
    return tokens, MERGES


# encoder.py's pattern with \p{L} / \p{N} narrowed to ASCII (the prompt is ASCII, so this is the same split).
PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def bpe_encode(text: str, tokens: list[str], merges: list[tuple[str, str]]) -> list[int]:
    byte_char = bytes_to_unicode()
    ranks = {pair: i for i, pair in enumerate(merges)}
    ids = {t: i for i, t in enumerate(tokens)}
    out: list[int] = []
    for word in PAT.findall(text):
        parts = [byte_char[b] for b in word.encode("utf-8")]
        while len(parts) > 1:
            pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        out.extend(ids[p] for p in parts)
    return out


# MARK: - Weights (Hugging Face names and layouts)

def make_weights(n_vocab: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    C, F = N_EMBD, N_INNER
    w: dict[str, np.ndarray] = {
        "wte.weight": normal((n_vocab, C), 0.3),  # (V, C); tied unembedding
        "wpe.weight": normal((N_POSITIONS, C), 1.0),  # (n_positions, C); large, so that greedy tokens vary
    }
    for i in range(N_LAYER):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = (1 + normal((C,), 0.1)).astype(np.float32)
        w[p + "ln_1.bias"] = normal((C,), 0.1)
        w[p + "attn.c_attn.weight"] = normal((C, 3 * C), 1 / np.sqrt(C))  # Conv1D: (in, out)
        w[p + "attn.c_attn.bias"] = normal((3 * C,), 0.1)
        w[p + "attn.c_proj.weight"] = normal((C, C), 1 / np.sqrt(C))
        w[p + "attn.c_proj.bias"] = normal((C,), 0.1)
        w[p + "ln_2.weight"] = (1 + normal((C,), 0.1)).astype(np.float32)
        w[p + "ln_2.bias"] = normal((C,), 0.1)
        w[p + "mlp.c_fc.weight"] = normal((C, F), 1 / np.sqrt(C))
        w[p + "mlp.c_fc.bias"] = normal((F,), 0.1)
        w[p + "mlp.c_proj.weight"] = normal((F, C), 1 / np.sqrt(F))
        w[p + "mlp.c_proj.bias"] = normal((C,), 0.1)
    w["ln_f.weight"] = (1 + normal((C,), 0.1)).astype(np.float32)
    w["ln_f.bias"] = normal((C,), 0.1)
    return w


def causal_masks() -> dict[str, np.ndarray]:
    """The `h.N.attn.bias` buffers (1, 1, n_positions, n_positions) that GPT-2 checkpoints store; not weights."""
    mask = np.tril(np.ones((N_POSITIONS, N_POSITIONS), dtype=np.float32))[None, None]
    return {f"h.{i}.attn.bias": mask for i in range(N_LAYER)}


# MARK: - Reference forward pass (float64)

def layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * g + b


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """Logits (T, V) for every position of `ids`."""
    W = {k: v.astype(np.float64) for k, v in w.items()}
    T, C, H = len(ids), N_EMBD, N_HEAD
    hd = C // H
    x = W["wte.weight"][ids] + W["wpe.weight"][:T]  # (T, C)
    causal = np.tril(np.ones((T, T), dtype=bool))
    for i in range(N_LAYER):
        p = f"h.{i}."
        a = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"])
        qkv = a @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # (T, 3C)
        q, k, v = np.split(qkv, 3, axis=-1)
        q, k, v = (m.reshape(T, H, hd).transpose(1, 0, 2) for m in (q, k, v))  # (H, T, hd)
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(hd)  # (H, T, T)
        scores = np.where(causal, scores, -np.inf)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        att = scores / scores.sum(-1, keepdims=True)
        y = (att @ v).transpose(1, 0, 2).reshape(T, C)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        m = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        h = gelu(m @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"])
    return x @ W["wte.weight"].T


def greedy(w, ids: list[int], n: int) -> list[dict]:
    """n greedy steps after `ids`, recomputing the whole sequence each step (no cache to get wrong)."""
    seq = list(ids)
    steps = []
    for _ in range(n):
        logits = forward(w, seq)[-1]
        order = np.argsort(-logits, kind="stable")
        steps.append({"token": int(order[0]), "margin": float(logits[order[0]] - logits[order[1]])})
        seq.append(int(order[0]))
    return steps


# MARK: - Writers

def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """safetensors: u64 header length, JSON header (padded with spaces to 8 bytes), then the data, in order."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, t in tensors.items():
        assert t.dtype == np.float32
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in tensors.values():
            f.write(np.ascontiguousarray(t).astype("<f4").tobytes())


def write_gguf(path: Path, gguf_py: str, w: dict[str, np.ndarray], tokens: list[str], merges, eot: int) -> None:
    """The model as llama.cpp's converter would write it (--outtype f16), with gguf-py's own names and keys."""
    sys.path.insert(0, gguf_py)
    import gguf  # noqa: E402  (from the llama.cpp tree)

    arch = gguf.MODEL_ARCH.GPT2
    names = gguf.TENSOR_NAMES
    T = gguf.MODEL_TENSOR
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name("tiny-gpt2")
    writer.add_block_count(N_LAYER)
    writer.add_context_length(N_POSITIONS)
    writer.add_embedding_length(N_EMBD)
    writer.add_feed_forward_length(N_INNER)
    writer.add_head_count(N_HEAD)
    writer.add_layer_norm_eps(EPS)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t == SPECIAL else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges([f"{a} {b}" for a, b in merges])
    writer.add_bos_token_id(eot)
    writer.add_eos_token_id(eot)

    def add(name: str, data: np.ndarray) -> None:
        # 2-D weights as F16, vectors F32 (convert_hf_to_gguf keeps 1-D tensors in F32)
        writer.add_tensor(name, data.astype(np.float16) if data.ndim == 2 else data.astype(np.float32))

    add(names[T.TOKEN_EMBD] + ".weight", w["wte.weight"])
    add(names[T.POS_EMBD] + ".weight", w["wpe.weight"])
    for i in range(N_LAYER):
        p = f"h.{i}."

        def blk(t) -> str:
            return names[t].format(bid=i)

        add(blk(T.ATTN_NORM) + ".weight", w[p + "ln_1.weight"])
        add(blk(T.ATTN_NORM) + ".bias", w[p + "ln_1.bias"])
        add(blk(T.ATTN_QKV) + ".weight", w[p + "attn.c_attn.weight"].T)  # Conv1D (in, out) -> (out, in)
        add(blk(T.ATTN_QKV) + ".bias", w[p + "attn.c_attn.bias"])
        add(blk(T.ATTN_OUT) + ".weight", w[p + "attn.c_proj.weight"].T)
        add(blk(T.ATTN_OUT) + ".bias", w[p + "attn.c_proj.bias"])
        add(blk(T.FFN_NORM) + ".weight", w[p + "ln_2.weight"])
        add(blk(T.FFN_NORM) + ".bias", w[p + "ln_2.bias"])
        add(blk(T.FFN_UP) + ".weight", w[p + "mlp.c_fc.weight"].T)
        add(blk(T.FFN_UP) + ".bias", w[p + "mlp.c_fc.bias"])
        add(blk(T.FFN_DOWN) + ".weight", w[p + "mlp.c_proj.weight"].T)
        add(blk(T.FFN_DOWN) + ".bias", w[p + "mlp.c_proj.bias"])
    add(names[T.OUTPUT_NORM] + ".weight", w["ln_f.weight"])
    add(names[T.OUTPUT_NORM] + ".bias", w["ln_f.bias"])
    add(names[T.OUTPUT] + ".weight", w["wte.weight"])  # "GPT2 output is tied to (same as) wte": written twice
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "Tests/GPT2Tests/Resources")
    ap.add_argument("--gguf-py", default=os.environ.get("GGUF_PY", "/opt/llama/src/vendor/llama.cpp/gguf-py"))
    args = ap.parse_args()

    tokens, merges = make_vocab()
    eot = tokens.index(SPECIAL)
    w = make_weights(len(tokens))
    prompt_ids = bpe_encode(PROMPT, tokens, merges)

    folder = args.out / "tiny-gpt2"
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
        "n_layer": N_LAYER, "n_embd": N_EMBD, "n_head": N_HEAD, "n_positions": N_POSITIONS, "n_ctx": N_POSITIONS,
        "n_inner": None, "vocab_size": len(tokens), "layer_norm_epsilon": EPS,
        "bos_token_id": eot, "eos_token_id": eot, "torch_dtype": "float32",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    write_safetensors(folder / "model.safetensors", {**w, **causal_masks()})
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tokenizer_json = {
        "version": "1.0",
        "added_tokens": [{"id": eot, "content": SPECIAL, "special": True}],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
        "model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(tokens) if t != SPECIAL},
                  "merges": [[a, b] for a, b in merges]},  # the newer list-of-pairs form; "a b" strings also exist
    }
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False))
    write_gguf(args.out / "tiny-gpt2-f16.gguf.data", args.gguf_py, w, tokens, merges, eot)

    logits = forward(w, prompt_ids)
    steps = greedy(w, prompt_ids, N_GREEDY)
    reference = {
        "about": "scripts/make_tiny_gpt2.py: numpy float64 GPT-2 forward pass on the F32 weights of tiny-gpt2/",
        "seed": SEED,
        "prompt": PROMPT,
        "prompt_tokens": prompt_ids,
        "n_vocab": len(tokens),
        "logits": [[round(float(v), 7) for v in row] for row in logits],  # (T, V), one row per prompt position
        "greedy": steps,
    }
    (args.out / "reference.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n")
    print(f"vocab {len(tokens)}, prompt {len(prompt_ids)} tokens {prompt_ids}")
    print("greedy", [s["token"] for s in steps], "min margin", min(s["margin"] for s in steps))
    print("logit std", float(logits.std()))


if __name__ == "__main__":
    main()
