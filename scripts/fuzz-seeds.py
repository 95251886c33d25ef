#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus (Fuzz/corpus/<target>/) from the tiny GPT-2 test model: small valid inputs
for each FuzzTarget, so that libFuzzer starts past the magic numbers. Standard library only; rerun to refresh."""
import json, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(ROOT, "Tests/GPT2Tests/Resources")
OUT = os.path.join(ROOT, "Fuzz/corpus")


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_value(v):
    """(type id, payload) for str, int (uint32), float (float32), bool and lists of str/int."""
    if isinstance(v, bool):
        return 7, struct.pack("<?", v)
    if isinstance(v, str):
        return 8, gguf_string(v)
    if isinstance(v, int):
        return 4, struct.pack("<I", v)
    if isinstance(v, float):
        return 6, struct.pack("<f", v)
    if isinstance(v, list):
        t, _ = gguf_value(v[0])
        return 9, struct.pack("<IQ", t, len(v)) + b"".join(gguf_value(x)[1] for x in v)
    raise TypeError(v)


def gguf(metadata, tensors, alignment=32):
    """A GGUF v3 image: metadata dict, tensors [(name, ne list, float data)] in F32."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for k, v in metadata.items():
        t, payload = gguf_value(v)
        out += gguf_string(k) + struct.pack("<I", t) + payload
    offset = 0
    blobs = []
    for name, ne, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", 0, offset)
        blob = struct.pack(f"<{len(data)}f", *data)
        pad = (-len(blob)) % alignment
        blobs.append(blob + b"\0" * pad)
        offset += len(blob) + pad
    out += b"\0" * ((-len(out)) % alignment)
    return out + b"".join(blobs)


def tiny_gguf(n_embd=4, n_vocab=5, n_layer=1):
    tokens = ["a", "b", "c", "ab", "<|endoftext|>"][:n_vocab]
    meta = {
        "general.architecture": "gpt2", "gpt2.block_count": n_layer, "gpt2.embedding_length": n_embd,
        "gpt2.feed_forward_length": 4 * n_embd, "gpt2.attention.head_count": 2, "gpt2.context_length": 8,
        "gpt2.attention.layer_norm_epsilon": 1e-5, "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2",
        "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.token_type": [1, 1, 1, 1, 3][:n_vocab],
        "tokenizer.ggml.merges": ["a b"], "tokenizer.ggml.eos_token_id": n_vocab - 1,
    }
    tensors = [("token_embd.weight", [n_embd, n_vocab], [0.1] * (n_embd * n_vocab)),
               ("output_norm.weight", [n_embd], [1.0] * n_embd)]
    for i in range(n_layer):
        tensors.append((f"blk.{i}.attn_norm.weight", [n_embd], [1.0] * n_embd))
    return gguf(meta, tensors)


def safetensors(tensors):
    header, data = {}, b""
    for name, shape, values in tensors:
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def main():
    seeds = {
        "gguf": {"tiny.gguf.data": tiny_gguf(), "two-layers.gguf.data": tiny_gguf(n_layer=2),
                 "header-of-tiny-gpt2.gguf.data": open(os.path.join(RES, "tiny-gpt2-f16.gguf.data"), "rb").read()[:4096]},
        "safetensors": {"two.safetensors": safetensors([("a", [2, 2], [1, 2, 3, 4]), ("b", [3], [5, 6, 7])])},
        "hfconfig": {"config.json": open(os.path.join(RES, "tiny-gpt2/config.json"), "rb").read()},
        "tokenizer": {"hello.txt": "Hello world, it's 2026!\n  indented\tand <|endoftext|> special".encode(),
                      "unicode.txt": "héllo 你好 🙂 ﷽".encode()},
        "chat": {"chatml": b"\x00Be brief.\x00hi<|endoftext|>\x00answer",
                 "zephyr-generation": b"\x86system\x00user <|user|>\x00"},
    }
    for target, files in seeds.items():
        os.makedirs(os.path.join(OUT, target), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(OUT, target, name), "wb") as f:
                f.write(data)
    print(f"wrote {sum(len(f) for f in seeds.values())} seeds under {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
