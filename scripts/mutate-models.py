#!/usr/bin/env python3
"""Mutation test (issue 11): derives hundreds of corrupted GGUF files and Hugging Face folders from the tiny GPT-2
test model (Tests/GPT2Tests/Resources) and runs `gpt generate` on each under a memory cap and a timeout. Each run
must end in a clean error (exit status 1 with an "Error:" message) or a normal run (exit 0): never a signal, never
a hang. Standard library only; seeded, so every run tries the same files.

    scripts/mutate-models.py [--gpt .build/release/gpt] [--jobs 2] [--memory-mib 4096] [--timeout 30]

Prints one line per finding and a summary (files tried, clean errors, runs, crashes, hangs); exits 1 on any finding.
"""
import argparse, concurrent.futures, json, os, random, shutil, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(ROOT, "Tests/GPT2Tests/Resources")
TINY_GGUF = os.path.join(RES, "tiny-gpt2-f16.gguf.data")
TINY_FOLDER = os.path.join(RES, "tiny-gpt2")

# MARK: - GGUF reading and writing (v3, little-endian; enough for mutation)

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            return (et, [self.value(et) for _ in range(n)])
        return self.take(SCALAR[t])


def pack_value(t, v):
    if t == 8:
        return struct.pack("<Q", len(v)) + v
    if t == 9:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(pack_value(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def parse_gguf(data):
    """(metadata [(key, type, value)], tensors [(name, dims, type, offset)], data section bytes, alignment)."""
    r = Reader(data)
    assert r.take("<4s") == b"GGUF" and r.take("<I") == 3
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    meta = []
    for _ in range(n_kv):
        key = r.string()
        t = r.take("<I")
        meta.append((key, t, r.value(t)))
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        tensors.append((name, dims, r.take("<I"), r.take("<Q")))
    align = next((v for k, t, v in meta if k == b"general.alignment"), 32)
    start = r.pos + (-r.pos) % align
    return meta, tensors, data[start:], align


def write_gguf(meta, tensors, blob, align=32, realign_from=None):
    """A GGUF image; with `realign_from` (the original alignment) tensor data is re-packed at `align`."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    for key, t, v in meta:
        out += pack_value(8, key) + struct.pack("<I", t) + pack_value(t, v)
    if realign_from is not None:
        # sizes from consecutive original offsets (the last runs to the end of the blob)
        offs = [o for _, _, _, o in tensors] + [len(blob)]
        pieces, new = [], []
        pos = 0
        for i, (name, dims, t, o) in enumerate(tensors):
            chunk = blob[o:offs[i + 1]]
            new.append((name, dims, t, pos))
            pad = (-len(chunk)) % align
            pieces.append(chunk + b"\0" * pad)
            pos += len(chunk) + pad
        tensors, blob = new, b"".join(pieces)
    for name, dims, t, o in tensors:
        out += pack_value(8, name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", t, o)
    out += b"\0" * ((-len(out)) % align)
    return out + blob


# MARK: - Mutations

INTS = [0, 1, 2, 3, 7, 63, 64, 65, 255, 256, 4096, 2**31 - 1, 2**31, 2**32 - 1, 2**40, 2**62, 2**63 - 1]
FLOATS = [0.0, -1e-5, 1e-30, 1e-45, 1.0, 2.0, 1e30, float("nan"), float("inf"), float("-inf")]


def gguf_cases(rng):
    data = open(TINY_GGUF, "rb").read()
    meta, tensors, blob, align = parse_gguf(data)
    cases = []

    def add(name, m=meta, t=tensors, b=blob, a=align, realign=None):
        cases.append((name, write_gguf(m, t, b, a, realign)))

    # every numeric key set to boundary values, keeping its type, then as uint64 / float32 / string
    for i, (key, t, v) in enumerate(meta):
        if t in (4, 5, 10, 11) or key.endswith((b"epsilon", b"freq_base")):
            for x in INTS + [-1]:
                nt, nv = (11, x) if x < 0 else (10, x)
                add(f"{key.decode()}=u64:{x}", meta[:i] + [(key, nt, nv)] + meta[i + 1:])
            for x in FLOATS:
                add(f"{key.decode()}=f32:{x}", meta[:i] + [(key, 6, x)] + meta[i + 1:])
            add(f"{key.decode()}=string", meta[:i] + [(key, 8, b"12")] + meta[i + 1:])
            add(f"{key.decode()}=bool", meta[:i] + [(key, 7, True)] + meta[i + 1:])
    # required keys removed one at a time
    for i, (key, _, _) in enumerate(meta):
        add(f"drop {key.decode()}", meta[:i] + meta[i + 1:])
    # architecture and pre-tokenizer names
    for key in (b"general.architecture", b"tokenizer.ggml.pre", b"tokenizer.ggml.model"):
        for s in (b"", b"llama", b"gemma3", b"x" * 300):
            add(f"{key.decode()}={s[:10]!r}", [(k, t, s if k == key else v) for k, t, v in meta])
    # token arrays shortened, emptied, with wrong element types
    for key in (b"tokenizer.ggml.tokens", b"tokenizer.ggml.token_type", b"tokenizer.ggml.merges"):
        for keep in (0, 1, 100, 276):
            add(f"{key.decode()}[:{keep}]", [(k, t, (v[0], v[1][:keep]) if k == key else v) for k, t, v in meta])
    add("merges without space", [(k, t, (v[0], [b"ab"] + v[1][1:]) if k == b"tokenizer.ggml.merges" else v)
                                 for k, t, v in meta])
    # tensor table: shapes, types, offsets, names, duplicates, missing tensors
    for i, (name, dims, t, o) in enumerate(tensors[:12]):
        for nd in ([], [0] + dims[1:], [d * 2 for d in dims], dims + [1], [2**62] + dims[1:], dims[::-1]):
            add(f"{name.decode()} dims {nd}", m=meta, t=tensors[:i] + [(name, nd, t, o)] + tensors[i + 1:])
        for nt in (2, 3, 8, 12, 14, 30, 9, 255):
            add(f"{name.decode()} type {nt}", t=tensors[:i] + [(name, dims, nt, o)] + tensors[i + 1:])
        for no in (o + 1, o + 32, len(blob), 2**63):
            add(f"{name.decode()} offset {no}", t=tensors[:i] + [(name, dims, t, no)] + tensors[i + 1:])
        add(f"drop tensor {name.decode()}", t=tensors[:i] + tensors[i + 1:])
    add("duplicate tensor", t=tensors + [tensors[0]])
    # alignment 1 and 64, re-packed (valid files: must run)
    for a in (1, 64):
        m = [(k, t, v) for k, t, v in meta if k != b"general.alignment"] + [(b"general.alignment", 4, a)]
        add(f"alignment {a}", m=m, a=a, realign=align)
    # truncations and random byte flips in the header (metadata and tensor table)
    header_end = len(data) - len(blob)
    for cut in sorted(set([0, 3, 4, 8, 23, 24, 100, header_end - 1, header_end, header_end + 1, len(data) - 1]
                          + [rng.randrange(len(data)) for _ in range(12)])):
        cases.append((f"truncated at {cut}", data[:cut]))
    for n in range(150):
        b = bytearray(data[:header_end])
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        cases.append((f"header flips #{n}", bytes(b) + data[header_end:]))
    return cases


def folder_cases(rng):
    config = json.load(open(os.path.join(TINY_FOLDER, "config.json")))
    cases = []
    values = [0, -1, 1, 3, 63, 1e9, 2**40, 2**63, 1e300, 1.5, True, False, None, "64", [], {}]
    for key in ("n_layer", "n_embd", "n_head", "n_positions", "n_inner", "vocab_size", "layer_norm_epsilon",
                "bos_token_id", "eos_token_id", "model_type", "activation_function"):
        for v in values:
            c = dict(config)
            c[key] = v
            cases.append((f"config {key}={v!r}", {"config.json": json.dumps(c).encode()}))
        c = dict(config)
        c.pop(key, None)
        cases.append((f"config without {key}", {"config.json": json.dumps(c).encode()}))
    for text in (b"", b"{", b"[]", b"null", b'{"model_type": "gpt2"}', b"\xff\xfe"):
        cases.append((f"config.json {text[:12]!r}", {"config.json": text}))
    st = open(os.path.join(TINY_FOLDER, "model.safetensors"), "rb").read()
    (hlen,) = struct.unpack_from("<Q", st)
    for n in range(40):
        b = bytearray(st[:8 + hlen])
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        cases.append((f"safetensors header flips #{n}", {"model.safetensors": bytes(b) + st[8 + hlen:]}))
    for cut in (0, 7, 8, 100, 8 + hlen, len(st) - 1):
        cases.append((f"safetensors truncated at {cut}", {"model.safetensors": st[:cut]}))
    cases.append(("safetensors header length 2^63", {"model.safetensors": struct.pack("<Q", 2**63) + st[8:]}))
    tj = open(os.path.join(TINY_FOLDER, "tokenizer.json"), "rb").read()
    for cut in (0, 10, len(tj) // 2):
        cases.append((f"tokenizer.json truncated at {cut}", {"tokenizer.json": tj[:cut]}))
    for name in ("model.safetensors", "tokenizer.json", "vocab.json", "merges.txt"):
        cases.append((f"without {name}", {name: None}))
    return cases


# MARK: - Running gpt


def run(gpt, path, memory_mib, timeout):
    """('ok' | 'error' | 'crash' | 'hang', detail)."""
    cmd = ["prlimit", f"--as={memory_mib << 20}", gpt, "generate", "-m", path, "-p", "Hello world", "-n", "4",
           "--temperature", "0", "--backend", "openmp", "--threads", "1", "--quiet"]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang", f"no exit after {timeout} s"
    err = p.stderr.decode(errors="replace").strip()
    if p.returncode == 0:
        return "ok", ""
    if p.returncode < 0 or p.returncode >= 128:
        return "crash", f"exit status {p.returncode}: {err[-300:]}"
    if "Error:" not in err:
        return "crash", f"exit status {p.returncode} without an error message: {err[-300:]}"
    return "error", err.splitlines()[-1][:200]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpt", default=None, help="the gpt binary (default: the newer of .build/{release,debug}/gpt)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--memory-mib", type=int, default=4096, help="address-space cap per run (prlimit --as)")
    ap.add_argument("--timeout", type=int, default=60, help="seconds before a run counts as a hang")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case's outcome")
    args = ap.parse_args()
    gpt = args.gpt or max((os.path.join(ROOT, f".build/{c}/gpt") for c in ("release", "debug")
                           if os.path.exists(os.path.join(ROOT, f".build/{c}/gpt"))), key=os.path.getmtime)
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="swiftgpt-mutate-")
    jobs = []
    try:
        for i, (name, data) in enumerate(gguf_cases(rng)):
            path = os.path.join(work, f"m{i}.gguf")
            open(path, "wb").write(data)
            jobs.append((f"gguf: {name}", path))
        for i, (name, files) in enumerate(folder_cases(rng)):
            folder = os.path.join(work, f"f{i}")
            shutil.copytree(TINY_FOLDER, folder)
            for fname, content in files.items():
                target = os.path.join(folder, fname)
                if content is None:
                    os.remove(target)
                else:
                    open(target, "wb").write(content)
            jobs.append((f"folder: {name}", folder))
        counts = {"ok": 0, "error": 0, "crash": 0, "hang": 0}
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = pool.map(lambda j: (j[0], run(gpt, j[1], args.memory_mib, args.timeout)), jobs)
            for name, (outcome, detail) in results:
                counts[outcome] += 1
                if outcome in ("crash", "hang"):
                    print(f"FINDING {outcome}: {name}: {detail}")
                elif args.verbose:
                    print(f"{outcome}: {name}: {detail}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n_gguf = sum(1 for n, _ in jobs if n.startswith("gguf"))
    print(f"mutate-models: {len(jobs)} inputs ({n_gguf} GGUF files, {len(jobs) - n_gguf} HF folders): "
          f"{counts['error']} clean errors, {counts['ok']} runs, {counts['crash']} crashes, {counts['hang']} hangs "
          f"(memory cap {args.memory_mib} MiB, timeout {args.timeout} s, {gpt})")
    sys.exit(1 if counts["crash"] or counts["hang"] else 0)


if __name__ == "__main__":
    main()
