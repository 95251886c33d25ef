#!/usr/bin/env python3
"""Produce SwiftGPT's golden data from llama.cpp (the reference implementation).

Writes, into Tests/EndToEndTests/Golden/ by default:
  greedy.json  prompt token ids + 64-token greedy continuation per prompt, with the top-1/top-2
               logits of every generated step (so tests can recognise near-ties)
  logits.json  full last-position logit vectors (float32, little-endian, base64) for a few prompts

Everything comes from libllama through the ctypes bindings of llama-cpp-python (the same package
whose vendored llama.cpp scripts/build-llama.sh builds). Only the low-level module
`llama_cpp.llama_cpp` is loaded, so no numpy/jinja2/diskcache is needed.

Decoding follows llama.cpp's standard path: the whole prompt is one llama_decode batch, then one
token per llama_decode call. Greedy = argmax of the raw logits (first index wins on exact ties,
like llama_sampler_init_greedy).

Usage:
  scripts/make_golden.py [--model PATH] [--llama-dir DIR] [--out DIR] [--threads 2] [--n-predict 64]
  Gemma 3 270M (Tests/EndToEndTests/Golden/gemma3):
  scripts/make_golden.py --model ~/.cache/swiftgpt/models/gemma-3-270m-q4_k_m.gguf --prompt-set gemma3 \
      --out Tests/EndToEndTests/Golden/gemma3 --n-ctx 1024 --n-predict 32 --logit-count 16384
Defaults: model from $GPT_MODEL (as the gpt CLI) or ${XDG_CACHE_HOME:-~/.cache}/swiftgpt/models/SmolLM2-135M-Instruct.Q4_1.gguf;
bindings from $LLAMA_PY_SRC or <llama-dir>/llama_cpp_python-0.3.36; libllama from $LLAMA_CPP_LIB_PATH
or <llama-dir>/bin; llama-dir from $LLAMA_DIR or ${XDG_CACHE_HOME:-~/.cache}/swiftgpt/llama.cpp.
"""
from __future__ import annotations

import argparse
import base64
import ctypes
import hashlib
import importlib
import json
import os
import re
import struct
import sys
import types
from pathlib import Path

PY_VERSION = "0.3.36"  # llama-cpp-python version whose vendored llama.cpp is the reference
REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swiftgpt"

CHAT_PROMPT = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
    "<|im_start|>assistant\n"
)

# name, text, parse_special
PROMPTS = [
    ("capital", "The capital of France is", False),
    ("robot", "Once upon a time, there was a little robot who", False),
    ("chat", CHAT_PROMPT, True),
    ("code", "def fibonacci(n):", False),
    ("list", "Here is a list of the planets of the solar system:\n1.", False),
    ("count", "1, 2, 3, 4, 5, 6, 7, 8,", False),
]
# Gemma 3 270M (a base model: plain text). "count" runs past its 512-key sliding window (about 900 prompt
# tokens: Gemma's tokenizer splits digits), so local and global layers both show.
GEMMA3_PROMPTS = [
    ("capital", "The capital of France is", False),
    ("robot", "Once upon a time, there was a little robot who", False),
    ("code", "def fibonacci(n):", False),
    ("list", "Here is a list of the planets of the solar system:\n1.", False),
    ("count", ", ".join(str(i) for i in range(1, 200)) + ",", False),
]
PROMPT_SETS = {"smollm2": (PROMPTS, ["capital", "chat", "code"]), "gemma3": (GEMMA3_PROMPTS, ["capital", "count"])}
NEAR_TIE = 0.5  # logits: a step whose top1-top2 margin is below this is a near-tie
LOGIT_PROMPTS = ["capital", "chat", "code"]  # full logit vectors for these (~260 KB each) in the smollm2 set


def parse_args() -> argparse.Namespace:
    llama_dir = Path(os.environ.get("LLAMA_DIR") or CACHE / "llama.cpp")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path(os.environ.get("GPT_MODEL") or
                                                      CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--llama-dir", type=Path, default=llama_dir)
    p.add_argument("--py-src", type=Path, default=None, help="unpacked llama-cpp-python source (holds llama_cpp/)")
    p.add_argument("--lib-dir", type=Path, default=None, help="directory holding libllama.so")
    p.add_argument("--out", type=Path, default=REPO / "Tests" / "EndToEndTests" / "Golden")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-predict", type=int, default=64)
    p.add_argument("--n-ctx", type=int, default=512)
    p.add_argument("--n-batch", type=int, default=512)
    p.add_argument("--kv-type", choices=["f32", "f16"], default="f32")
    p.add_argument("--flash-attn", choices=["off", "on", "auto"], default="off")
    p.add_argument("--prompt-set", choices=sorted(PROMPT_SETS), default="smollm2")
    p.add_argument("--logit-count", type=int, default=0,
                   help="store only the logits of token ids 0..<N (0: all; Gemma's 262,144 would be 1.4 MB each)")
    a = p.parse_args()
    a.py_src = a.py_src or Path(os.environ.get("LLAMA_PY_SRC") or a.llama_dir / f"llama_cpp_python-{PY_VERSION}")
    a.lib_dir = a.lib_dir or Path(os.environ.get("LLAMA_CPP_LIB_PATH") or a.llama_dir / "bin")
    return a


def load_bindings(py_src: Path, lib_dir: Path):
    """Import llama_cpp.llama_cpp without running llama_cpp/__init__.py (which pulls in numpy etc.)."""
    pkg_dir = py_src / "llama_cpp"
    if not (pkg_dir / "llama_cpp.py").is_file():
        sys.exit(f"make_golden: no llama_cpp/llama_cpp.py under {py_src} (run scripts/build-llama.sh or pass --py-src)")
    if not (lib_dir / "libllama.so").exists():
        sys.exit(f"make_golden: no libllama.so in {lib_dir} (run scripts/build-llama.sh or pass --lib-dir)")
    os.environ["LLAMA_CPP_LIB_PATH"] = str(lib_dir)
    pkg = types.ModuleType("llama_cpp")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["llama_cpp"] = pkg
    return importlib.import_module("llama_cpp.llama_cpp")


def vendored_info(py_src: Path) -> dict:
    tree = py_src / "vendor" / "llama.cpp"
    info: dict = {"llama_cpp_python_version": PY_VERSION}
    bi = tree / "build" / "common" / "build-info.cpp"
    if bi.is_file():
        text = bi.read_text()
        m = re.search(r'LLAMA_COMMIT = "([^"]*)"', text)
        if m:
            info["llama_cpp_commit"] = m.group(1)
        m = re.search(r"LLAMA_BUILD_NUMBER = (\d+)", text)
        if m:
            info["llama_cpp_build_number"] = int(m.group(1))
    return info


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Llama:
    def __init__(self, L, args):
        self.L, self.args = L, args
        # Quiet llama.cpp's logging (all of it goes to stderr otherwise); keep warnings and errors.
        def log(level, text, user):  # ggml_log_level: 3 = WARN, 4 = ERROR
            if level in (3, 4):
                sys.stderr.write(text.decode("utf-8", errors="replace"))
        self._log_cb = L.llama_log_callback(log)
        L.llama_log_set(self._log_cb, ctypes.c_void_p(0))
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(str(args.model).encode(), mp)
        if not self.model:
            sys.exit(f"make_golden: failed to load {args.model}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

    def context_params(self):
        L, a = self.L, self.args
        cp = L.llama_context_default_params()
        cp.n_ctx = a.n_ctx
        cp.n_batch = a.n_batch
        cp.n_ubatch = a.n_batch
        cp.n_threads = a.threads
        cp.n_threads_batch = a.threads
        cp.flash_attn_type = {"off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED, "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                              "auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO}[a.flash_attn]
        kv = L.GGML_TYPE_F32 if a.kv_type == "f32" else L.GGML_TYPE_F16
        cp.type_k = kv
        cp.type_v = kv
        return cp

    def settings(self) -> dict:
        cp = self.context_params()
        return {
            "n_ctx": cp.n_ctx,
            "n_batch": cp.n_batch,
            "n_ubatch": cp.n_ubatch,
            "n_threads": cp.n_threads,
            "n_threads_batch": cp.n_threads_batch,
            "type_k": self.args.kv_type,
            "type_v": self.args.kv_type,
            "flash_attn": {"off": "disabled", "on": "enabled", "auto": "auto"}[self.args.flash_attn],
            "n_gpu_layers": 0,
            "sampling": "greedy argmax over raw logits (first index on exact ties); no penalties",
            "decode": "prompt as one llama_decode batch (logits for last position only), then one token per llama_decode",
            "other": "llama_context_default_params otherwise",
        }

    def new_context(self):
        ctx = self.L.llama_init_from_model(self.model, self.context_params())
        if not ctx:
            sys.exit("make_golden: llama_init_from_model failed")
        return ctx

    def tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode()
        n_max = len(data) + 16
        buf = (self.L.llama_token * n_max)()
        n = self.L.llama_tokenize(self.vocab, data, len(data), buf, n_max, add_special, parse_special)
        if n < 0:
            sys.exit(f"make_golden: tokenize failed ({n})")
        return list(buf[:n])

    def piece(self, tok: int, special: bool = True) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = self.L.llama_token_to_piece(self.vocab, tok, buf, 256, 0, special)
        if n < 0:
            sys.exit(f"make_golden: token_to_piece failed for {tok}")
        return buf.raw[:n]

    def decode(self, ctx, toks: list[int]):
        arr = (self.L.llama_token * len(toks))(*toks)
        rc = self.L.llama_decode(ctx, self.L.llama_batch_get_one(arr, len(toks)))
        if rc != 0:
            sys.exit(f"make_golden: llama_decode returned {rc}")

    def last_logits(self, ctx) -> list[float]:
        ptr = self.L.llama_get_logits_ith(ctx, -1)
        return list(ptr[: self.n_vocab])


def top2(logits: list[float]) -> tuple[int, float, int, float]:
    i1, v1, i2, v2 = -1, float("-inf"), -1, float("-inf")
    for i, v in enumerate(logits):
        if v > v1:
            i2, v2 = i1, v1
            i1, v1 = i, v
        elif v > v2:
            i2, v2 = i, v
    return i1, v1, i2, v2


def f32(x: float) -> float:
    """Shortest decimal that round-trips the float32 value."""
    return float(f"{x:.9g}") if x == x else x


def text_field(b: bytes) -> dict:
    try:
        return {"text": b.decode("utf-8")}
    except UnicodeDecodeError:
        return {"text": b.decode("utf-8", errors="replace"), "bytes_hex": b.hex()}


def run_prompt(llm: Llama, name: str, text: str, parse_special: bool, n_predict: int, want_logits: bool):
    L = llm.L
    add_special = True  # llama.cpp default: add BOS/EOS if the vocab asks for it (SmolLM2: it does not)
    tokens = llm.tokenize(text, add_special, parse_special)
    ctx = llm.new_context()
    try:
        llm.decode(ctx, tokens)
        steps, gen, full_logits = [], [], None
        stop_reason, eog_token = "n_predict", None
        for step in range(n_predict):
            logits = llm.last_logits(ctx)
            if step == 0 and want_logits:
                full_logits = logits
            i1, v1, i2, v2 = top2(logits)
            piece = llm.piece(i1)
            is_eog = bool(L.llama_vocab_is_eog(llm.vocab, i1))
            rec = {"token": i1, "top1_logit": f32(v1), "top2_token": i2, "top2_logit": f32(v2),
                   "margin": round(v1 - v2, 6),
                   # the five most likely tokens and their logits (judges a pick other than the top two at a near-tie)
                   "top5": [[i, f32(logits[i])] for i in sorted(range(len(logits)), key=lambda k: -logits[k])[:5]]}
            rec.update({("piece" if k == "text" else "piece_" + k): v for k, v in text_field(piece).items()})
            if is_eog:
                rec["eog"] = True
            steps.append(rec)
            gen.append(i1)
            if is_eog:
                stop_reason, eog_token = "eog", i1
                break
            if step + 1 < n_predict:
                llm.decode(ctx, [i1])
        text_bytes = b"".join(llm.piece(t) for t in gen if not L.llama_vocab_is_eog(llm.vocab, t))
        entry = {
            "name": name,
            "prompt": text,
            "add_special": add_special,
            "parse_special": parse_special,
            "prompt_tokens": tokens,
            "n_predict": n_predict,
            "generated_tokens": gen,
            "stop_reason": stop_reason,
            "eog_token": eog_token,
            "min_margin": round(min(s["margin"] for s in steps), 6),
            "min_margin_step": min(range(len(steps)), key=lambda k: steps[k]["margin"]),
            "near_tie_steps": [k for k, s in enumerate(steps) if s["margin"] < NEAR_TIE],
        }
        entry.update({("generated_" + k): v for k, v in text_field(text_bytes).items()})
        entry["steps"] = steps
        logit_entry = None
        if full_logits is not None:
            i1, v1, i2, v2 = top2(full_logits)
            n_vocab = len(full_logits)
            if llm.args.logit_count > 0:
                full_logits = full_logits[: llm.args.logit_count]
            raw = struct.pack(f"<{len(full_logits)}f", *full_logits)
            logit_entry = {
                "name": name,
                "prompt": text,
                "add_special": add_special,
                "parse_special": parse_special,
                "prompt_tokens": tokens,
                "position": len(tokens) - 1,
                "n_vocab": n_vocab,
                "n_stored": len(full_logits),
                "encoding": "base64 of float32 little-endian, the logits of token ids 0..<n_stored",
                "argmax": i1,
                "max": f32(v1),
                "second": i2,
                "second_value": f32(v2),
                "min": f32(min(full_logits)),
                "mean": round(sum(full_logits) / len(full_logits), 6),
                "sha256_of_raw": hashlib.sha256(raw).hexdigest(),
                "logits_f32le_b64": base64.b64encode(raw).decode(),
            }
        return entry, logit_entry
    finally:
        L.llama_free(ctx)


def main() -> None:
    args = parse_args()
    if not args.model.is_file():
        sys.exit(f"make_golden: model not found: {args.model} (set GPT_MODEL or pass --model)")
    L = load_bindings(args.py_src, args.lib_dir)
    llm = Llama(L, args)
    meta = {
        "generator": "scripts/make_golden.py",
        "reference": "llama.cpp via libllama (ctypes bindings of llama-cpp-python)",
        **vendored_info(args.py_src),
        "system_info": L.llama_print_system_info().decode().strip(),
        "model": {"file": args.model.name, "size": args.model.stat().st_size, "sha256": sha256(args.model)},
        "n_vocab": llm.n_vocab,
        "vocab_add_bos": bool(L.llama_vocab_get_add_bos(llm.vocab)),
        "settings": llm.settings(),
    }
    greedy, logit_entries = [], []
    prompts, logit_prompts = PROMPT_SETS[args.prompt_set]
    for name, text, parse_special in prompts:
        entry, lg = run_prompt(llm, name, text, parse_special, args.n_predict, name in logit_prompts)
        greedy.append(entry)
        if lg:
            logit_entries.append(lg)
        first_line = entry["generated_text"].strip().splitlines()[0] if entry["generated_text"].strip() else ""
        print(f"{name:8s} prompt={len(entry['prompt_tokens']):3d} gen={len(entry['generated_tokens']):3d} "
              f"stop={entry['stop_reason']:9s} min_margin={entry['min_margin']:.4f}@{entry['min_margin_step']:<3d} "
              f"| {first_line[:80]!r}", file=sys.stderr)
    L.llama_model_free(llm.model)

    args.out.mkdir(parents=True, exist_ok=True)
    rules = {
        "tokens": "prompt_tokens and generated_tokens must match exactly",
        "near_tie": f"a step whose margin (top1_logit - top2_logit) < {NEAR_TIE} is a near-tie (listed in "
                    "near_tie_steps). Up to the first near-tie the tokens must match exactly; at a near-tie the "
                    "implementation may pick top1_token or top2_token; if it picks top2_token the continuations "
                    "legitimately diverge and comparison stops there, otherwise it continues",
        "logits": "top1_logit/top2_logit are raw float32 logits from llama.cpp",
    }
    with open(args.out / "greedy.json", "w") as f:
        json.dump({**meta, "rules": rules, "prompts": greedy}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(args.out / "logits.json", "w") as f:
        json.dump({**meta, "prompts": logit_entries}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    for p in ("greedy.json", "logits.json"):
        print(f"wrote {args.out / p} ({(args.out / p).stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
