#!/usr/bin/env python3
"""Mutation test (issue 11): derives hundreds of corrupted GGUF files and Hugging Face folders from the tiny GPT-2
test model (Tests/GPT2Tests/Resources) and runs `gpt generate` on each under a memory cap and a timeout. Each run
must end in a clean error (exit status 1 with an "Error:" message) or a correct run: never a signal, never a hang.
Standard library only; seeded, so every run tries the same files.

"Correct" depends on the mutation's class:
  same     the file means what the original means (metadata or tensor table reordered, unknown keys added, tensor data
           re-packed at another alignment or in another order, an unused key renamed or dropped, a JSON file
           reformatted, a value rewritten as itself): it must run, and its greedy text (`gpt generate`) and its
           next-token table (`gpt next`: logits and probabilities) must equal the unmutated model's exactly.
  same?    the same value under another GGUF type (u32 as u64, an integer as a float): a reader may refuse it; if it
           runs, its outputs must equal the unmutated model's exactly.
  changed  anything else: if it runs, the run must be well formed: exit 0, the requested 4 tokens (fewer only when
           the model emitted its end token), and every logit and probability in `gpt next` finite. These runs are
           reported (-v lists them): a change that still runs is not a finding by itself.

    scripts/mutate-models.py [--gpt .build/release/gpt] [--jobs 2] [--memory-mib 4096] [--timeout 30] [-v]

Prints one line per finding and a summary (files tried, clean errors, runs by class, crashes, hangs, wrong outputs);
exits 1 on any finding.
"""
import argparse, concurrent.futures, json, math, os, random, re, shutil, struct, subprocess, sys, tempfile

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

    def add(name, m=meta, t=tensors, b=blob, a=align, realign=None, cls="changed"):
        cases.append((name, write_gguf(m, t, b, a, realign), cls))

    # every numeric key set to boundary values, keeping its type, then as uint64 / float32 / string (a value equal
    # to the original under another type is class same?)
    for i, (key, t, v) in enumerate(meta):
        if t in (4, 5, 10, 11) or key.endswith((b"epsilon", b"freq_base")):
            for x in INTS + [-1]:
                nt, nv = (11, x) if x < 0 else (10, x)
                add(f"{key.decode()}=u64:{x}", meta[:i] + [(key, nt, nv)] + meta[i + 1:],
                    cls="same?" if x == v else "changed")
            for x in FLOATS:
                add(f"{key.decode()}=f32:{x}", meta[:i] + [(key, 6, x)] + meta[i + 1:],
                    cls="same?" if x == v else "changed")
            add(f"{key.decode()}=string", meta[:i] + [(key, 8, b"12")] + meta[i + 1:])
            add(f"{key.decode()}=bool", meta[:i] + [(key, 7, True)] + meta[i + 1:])
    # required keys removed one at a time
    for i, (key, _, _) in enumerate(meta):
        add(f"drop {key.decode()}", meta[:i] + meta[i + 1:],
            cls="same" if key in (b"general.name", b"general.file_type") else "changed")
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
    # alignment 1, 64 and 256, re-packed (valid files: must run)
    for a in (1, 64, 256):
        m = [(k, t, v) for k, t, v in meta if k != b"general.alignment"] + [(b"general.alignment", 4, a)]
        add(f"alignment {a}", m=m, a=a, realign=align, cls="same")
    add_equivalents(meta, tensors, blob, align, add, rng)
    # truncations and random byte flips in the header (metadata and tensor table)
    header_end = len(data) - len(blob)
    for cut in sorted(set([0, 3, 4, 8, 23, 24, 100, header_end - 1, header_end, header_end + 1, len(data) - 1]
                          + [rng.randrange(len(data)) for _ in range(12)])):
        cases.append((f"truncated at {cut}", data[:cut], "changed"))
    for n in range(150):
        b = bytearray(data[:header_end])
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        cases.append((f"header flips #{n}", bytes(b) + data[header_end:], "changed"))
    return cases


def add_equivalents(meta, tensors, blob, align, add, rng):
    """Files that mean exactly what the original means (class same), or the same values under other types (same?)."""
    add("metadata reversed", m=meta[::-1], cls="same")
    add("metadata shuffled", m=rng.sample(meta, len(meta)), cls="same")
    add("tensor table reversed", t=tensors[::-1], cls="same")
    add("tensor table shuffled", t=rng.sample(tensors, len(tensors)), cls="same")
    # tensor data in reverse order (each tensor keeps its bytes; offsets follow)
    ends = [o for _, _, _, o in tensors[1:]] + [len(blob)]
    pieces = [(name, dims, t, blob[o:end]) for (name, dims, t, o), end in zip(tensors, ends)]
    new, data = [], b""
    for name, dims, t, chunk in reversed(pieces):
        data += b"\0" * ((-len(data)) % align)
        new.append((name, dims, t, len(data)))
        data += chunk
    add("tensor data reversed", t=new[::-1], b=data, cls="same")
    extra = [(b"general.description", 8, b"mutated " * 2000), (b"general.tags", 9, (8, [b"a", b"b" * 300])),
             (b"x.unknown.u64", 10, 2**63 - 1), (b"x.unknown.f64", 12, float("nan")), (b"x.unknown.bool", 7, True),
             (b"x.unknown.nested", 9, (9, [(4, [1, 2, 3]), (8, [b"x"])])),
             (b"gpt2.rope.dimension_count.unused", 4, 7), (b"tokenizer.ggml.unused_scores", 9, (6, [0.5] * 277))]
    for key, t, v in extra:
        add(f"extra key {key.decode()}", m=meta[:3] + [(key, t, v)] + meta[3:], cls="same")
    add("every extra key", m=extra + meta, cls="same")
    # informational keys renamed or dropped
    for key in (b"general.name", b"general.file_type"):
        add(f"rename {key.decode()}", m=[(k + b".old" if k == key else k, t, v) for k, t, v in meta], cls="same")
    # the same numbers under other integer / float types
    for i, (key, t, v) in enumerate(meta):
        if t == 4:
            for nt in (5, 10, 11):
                add(f"{key.decode()} as type {nt}", m=meta[:i] + [(key, nt, v)] + meta[i + 1:], cls="same?")
        if t == 6:
            add(f"{key.decode()} as float64", m=meta[:i] + [(key, 12, v)] + meta[i + 1:], cls="same?")


def folder_cases(rng):
    config = json.load(open(os.path.join(TINY_FOLDER, "config.json")))
    cases = []
    values = [0, -1, 1, 3, 63, 1e9, 2**40, 2**63, 1e300, 1.5, True, False, None, "64", [], {}]
    for key in ("n_layer", "n_embd", "n_head", "n_positions", "n_inner", "vocab_size", "layer_norm_epsilon",
                "bos_token_id", "eos_token_id", "model_type", "activation_function"):
        for v in values:
            c = dict(config)
            c[key] = v
            same = key in config and type(v) is type(config[key]) and v == config[key]
            cases.append((f"config {key}={v!r}", {"config.json": json.dumps(c).encode()}, "same" if same else "changed"))
        c = dict(config)
        c.pop(key, None)
        cases.append((f"config without {key}", {"config.json": json.dumps(c).encode()}, "changed"))
    for text in (b"", b"{", b"[]", b"null", b'{"model_type": "gpt2"}', b"\xff\xfe"):
        cases.append((f"config.json {text[:12]!r}", {"config.json": text}, "changed"))
    # the same configuration written differently: keys reordered, other whitespace, unknown keys, n_inner spelled out
    # (GPT-2's default is 4 * n_embd), informational keys dropped
    same = [("config keys reversed", dict(reversed(list(config.items())))),
            ("config with unknown keys", {**config, "_name_or_path": "x", "summary_type": "cls_index",
                                          "task_specific_params": {"text-generation": {"max_length": 9}}}),
            ("config n_inner explicit", {**config, "n_inner": 4 * config["n_embd"]}),
            ("config without architectures", {k: v for k, v in config.items() if k != "architectures"}),
            ("config without torch_dtype", {k: v for k, v in config.items() if k != "torch_dtype"})]
    for name, c in same:
        cases.append((name, {"config.json": json.dumps(c, indent=None, separators=(",", ":")).encode()}, "same"))
    tj = open(os.path.join(TINY_FOLDER, "tokenizer.json"), "rb").read()
    cases.append(("tokenizer.json reformatted", {"tokenizer.json": json.dumps(json.loads(tj), indent=7).encode()},
                  "same"))
    st = open(os.path.join(TINY_FOLDER, "model.safetensors"), "rb").read()
    (hlen,) = struct.unpack_from("<Q", st)
    for n in range(40):
        b = bytearray(st[:8 + hlen])
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        cases.append((f"safetensors header flips #{n}", {"model.safetensors": bytes(b) + st[8 + hlen:]}, "changed"))
    for cut in (0, 7, 8, 100, 8 + hlen, len(st) - 1):
        cases.append((f"safetensors truncated at {cut}", {"model.safetensors": st[:cut]}, "changed"))
    cases.append(("safetensors header length 2^63", {"model.safetensors": struct.pack("<Q", 2**63) + st[8:]},
                  "changed"))
    # the safetensors header rewritten: entries reversed, spaces, an unknown __metadata__ entry (same tensors)
    header = json.loads(st[8:8 + hlen])
    header = {"__metadata__": {"format": "pt", "note": "mutated"},
              **{k: v for k, v in reversed(list(header.items())) if k != "__metadata__"}}
    text = json.dumps(header, indent=1).encode()
    text += b" " * ((-len(text)) % 8)
    cases.append(("safetensors header rewritten", {"model.safetensors": struct.pack("<Q", len(text)) + text
                                                   + st[8 + hlen:]}, "same"))
    for cut in (0, 10, len(tj) // 2):
        cases.append((f"tokenizer.json truncated at {cut}", {"tokenizer.json": tj[:cut]}, "changed"))
    for name in ("model.safetensors", "tokenizer.json", "vocab.json", "merges.txt"):
        cases.append((f"without {name}", {name: None}, "changed"))
    return cases


# MARK: - Running gpt


PROMPT = "Hello world"
N_PREDICT = 4


def run(gpt, path, memory_mib, timeout):
    """('ok' | 'error' | 'crash' | 'hang', detail, outputs): outputs = (generated text, `gpt next` table) of an
    ok run whose output is well formed; detail of an ok run that is not says why ('wrong' outcome)."""
    common = ["-m", path, "-p", PROMPT, "--backend", "openmp", "--threads", "1"]
    gen = ["generate", *common, "-n", str(N_PREDICT), "--temperature", "0"]
    outcome, detail, p = run_one(gpt, gen, memory_mib, timeout)
    if outcome != "ok":
        return outcome, detail, None
    text, err = p.stdout, p.stderr.decode(errors="replace")
    # "generation: N tokens, ... finish: length|stop" (stats on stderr): the requested count, fewer only at the end token
    m = re.search(r"generation: (\d+) tokens?,.*finish: (\w+)", err)
    if not m:
        return "wrong", f"no generation statistics on stderr: {err[-300:]}", None
    n, finish = int(m.group(1)), m.group(2)
    if not (n == N_PREDICT and finish == "length") and not (n < N_PREDICT and finish == "stop"):
        return "wrong", f"{n} tokens (finish: {finish}) for -n {N_PREDICT}", None
    outcome, detail, p = run_one(gpt, ["next", *common, "--top", "5"], memory_mib, timeout)
    if outcome == "error":
        return "wrong", f"generate ran but next failed: {detail}", None
    if outcome != "ok":
        return outcome, f"gpt next: {detail}", None
    table = p.stdout.decode(errors="replace")
    rows = re.findall(r"^\| (\d+) \|.*\| (\S+) \| (\S+) \|$", table, re.M)  # rank ... | logit | p |
    if not rows:
        return "wrong", f"gpt next printed no candidates: {table[-300:]}", None
    for rank, logit, prob in rows:
        try:
            values = [float(logit), float(prob)]
        except ValueError:
            return "wrong", f"gpt next rank {rank}: logit {logit!r}, p {prob!r} are not numbers", None
        if not all(math.isfinite(v) for v in values) or not 0 <= values[1] <= 1:
            return "wrong", f"gpt next rank {rank}: logit {logit}, p {prob}", None
    return "ok", "", (text, table)


def run_one(gpt, args, memory_mib, timeout):
    """('ok' | 'error' | 'crash' | 'hang', detail, completed process) of one gpt command."""
    cmd = ["prlimit", f"--as={memory_mib << 20}", gpt, *args]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "hang", f"no exit after {timeout} s", None
    err = p.stderr.decode(errors="replace").strip()
    if p.returncode == 0:
        return "ok", "", p
    if p.returncode < 0 or p.returncode >= 128:
        return "crash", f"exit status {p.returncode}: {err[-300:]}", None
    if "Error:" not in err:
        return "crash", f"exit status {p.returncode} without an error message: {err[-300:]}", None
    return "error", err.splitlines()[-1][:200], None


def judge(cls, outcome, detail, outputs, baseline):
    """The final outcome of one case given its class: a same case must run and reproduce the baseline exactly, a same?
    case may also refuse; a changed case that runs must be well formed (run already checked that)."""
    if outcome in ("crash", "hang", "wrong"):
        return outcome, detail
    if cls == "same" and outcome == "error":
        return "wrong", f"a file equivalent to the original was refused: {detail}"
    if cls in ("same", "same?") and outcome == "ok" and outputs != baseline:
        which = "generated text" if outputs[0] != baseline[0] else "next-token table"
        return "wrong", f"{which} differs from the unmutated model's: {outputs[0]!r} vs {baseline[0]!r}"
    return outcome, detail


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
        for i, (name, data, cls) in enumerate(gguf_cases(rng)):
            path = os.path.join(work, f"m{i}.gguf")
            open(path, "wb").write(data)
            jobs.append((f"gguf: {name}", path, cls, "gguf"))
        for i, (name, files, cls) in enumerate(folder_cases(rng)):
            folder = os.path.join(work, f"f{i}")
            shutil.copytree(TINY_FOLDER, folder)
            for fname, content in files.items():
                target = os.path.join(folder, fname)
                if content is None:
                    os.remove(target)
                else:
                    open(target, "wb").write(content)
            jobs.append((f"folder: {name}", folder, cls, "folder"))
        baselines = {}
        for kind, path in (("gguf", TINY_GGUF), ("folder", TINY_FOLDER)):
            outcome, detail, outputs = run(gpt, path, args.memory_mib, args.timeout)
            if outcome != "ok":
                sys.exit(f"mutate-models: the unmutated {kind} model does not run correctly: {outcome}: {detail}")
            baselines[kind] = outputs
        counts = {k: 0 for k in ("error", "ok same", "ok same?", "ok changed", "crash", "hang", "wrong")}
        changed_runs = []
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = pool.map(lambda j: (j, run(gpt, j[1], args.memory_mib, args.timeout)), jobs)
            for (name, _, cls, kind), (outcome, detail, outputs) in results:
                outcome, detail = judge(cls, outcome, detail, outputs, baselines[kind])
                counts[f"ok {cls}" if outcome == "ok" else outcome] += 1
                if outcome in ("crash", "hang", "wrong"):
                    print(f"FINDING {outcome}: {name} [{cls}]: {detail}")
                elif outcome == "ok" and cls == "changed":
                    changed_runs.append(name)
                if args.verbose and outcome not in ("crash", "hang", "wrong"):
                    print(f"{outcome} [{cls}]: {name}: {detail}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n_gguf = sum(1 for j in jobs if j[3] == "gguf")
    n_same = sum(1 for j in jobs if j[2] != "changed")
    print(f"mutate-models: {len(jobs)} inputs ({n_gguf} GGUF files, {len(jobs) - n_gguf} HF folders; {n_same} equivalent "
          f"to the original): {counts['error']} clean errors, "
          f"{counts['ok same'] + counts['ok same?']} runs equal to the original's output, "
          f"{counts['ok changed']} well-formed runs of changed files, {counts['crash']} crashes, {counts['hang']} hangs, "
          f"{counts['wrong']} wrong outputs (memory cap {args.memory_mib} MiB, timeout {args.timeout} s, {gpt})")
    sys.exit(1 if counts["crash"] or counts["hang"] or counts["wrong"] else 0)


if __name__ == "__main__":
    main()
