#!/usr/bin/env bash
# Benchmark SwiftGPT (`gpt bench`) against llama.cpp (`llama-bench`) on the same model, thread count and
# prompt/generation lengths, in one run, and print a markdown table with the throughput ratios.
#
# Usage: Benchmarks/compare-llama.sh [options]
#   -m, --model FILE      GGUF model (default: $GPT_MODEL or ${XDG_CACHE_HOME:-~/.cache}/swiftgpt/models/SmolLM2-135M-Instruct.Q4_1.gguf)
#   -p N                  prompt tokens (default 512)
#   -n N                  generated tokens (default 128)
#   -r N                  repetitions (default 5)
#   -t, --threads N       threads for both (default 2)
#   -b, --backend LIST    SwiftGPT backend(s), comma-separated, passed to `gpt bench --backend`
#                         (default: $GPT_BACKEND, else no flag: gpt picks `auto`)
#   --attention LIST      SwiftGPT attention kernels, passed to `gpt bench --attention` (e.g. fused,naive;
#                         default: no flag, gpt's default kernel)
#   --fa LIST             llama-bench flash-attention settings (default 0,1: both)
#   --out DIR             also keep the raw JSON of both tools and the table in DIR
#   --results FILE        where the table (with the commands and date) is written besides stdout
#                         (default: Benchmarks/results/compare-llama.md; "-" for none)
#   --gpt-json FILE       use this `gpt bench --output json` result instead of running gpt
#   --llama-json FILE     use this `llama-bench -o json` result instead of running llama-bench
#
# Environment:
#   GPT          the SwiftGPT CLI (default: .build/release/gpt in the repository)
#   LLAMA_BENCH  llama-bench binary (default: the build cache of scripts/build-llama.sh,
#                ${LLAMA_DIR:-${XDG_CACHE_HOME:-~/.cache}/swiftgpt/llama.cpp}/bin/llama-bench, else the prebuilt
#                copy /opt/llama/src/vendor/llama.cpp/build/bin/llama-bench where a machine has one)
#
# Ratio = SwiftGPT tokens/s divided by llama.cpp tokens/s (above 1: SwiftGPT is faster).
# Both tools run one after the other, never together; run on an otherwise idle machine for numbers you quote.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/swiftgpt"
MODEL="${GPT_MODEL:-$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
P=512 N=128 R=5 THREADS=2 FA="0,1"
BACKEND="${GPT_BACKEND:-}"
OUT="" GPT_JSON="" LLAMA_JSON="" ATTENTION=""
RESULTS="$ROOT/Benchmarks/results/compare-llama.md"

die() { echo "compare-llama: $*" >&2; exit 1; }
need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -m|--model) need "$@"; MODEL="$2"; shift 2 ;;
        -p) need "$@"; P="$2"; shift 2 ;;
        -n) need "$@"; N="$2"; shift 2 ;;
        -r) need "$@"; R="$2"; shift 2 ;;
        -t|--threads) need "$@"; THREADS="$2"; shift 2 ;;
        -b|--backend) need "$@"; BACKEND="$2"; shift 2 ;;
        --fa) need "$@"; FA="$2"; shift 2 ;;
        --attention) need "$@"; ATTENTION="$2"; shift 2 ;;
        --out) need "$@"; OUT="$2"; shift 2 ;;
        --results) need "$@"; RESULTS="$2"; shift 2 ;;
        --gpt-json) need "$@"; GPT_JSON="$2"; shift 2 ;;
        --llama-json) need "$@"; LLAMA_JSON="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

for v in P N R THREADS; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"; done
command -v python3 >/dev/null || die "python3 is needed to read the JSON results"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
COMMANDS="$WORK/commands.txt"   # the commands run (or the saved results read), for the results file's header
: >"$COMMANDS"
# Appends a command line to $COMMANDS, words quoted only where the shell needs it.
record_command() {
    local word line="" plain='^[-A-Za-z0-9_./=,:@+%]+$'
    for word in "$@"; do
        if [[ "$word" =~ $plain ]]; then line+="$word "; else line+="'${word//\'/\'\\\'\'}' "; fi
    done
    echo "${line% }" >>"$COMMANDS"
}

# --- SwiftGPT ---------------------------------------------------------------------------------------
if [[ -z "$GPT_JSON" ]]; then
    GPT="${GPT:-$ROOT/.build/release/gpt}"
    [[ -x "$GPT" ]] || die "SwiftGPT CLI not found at $GPT; build it first: swift build -c release --product gpt (or make build), or set GPT=/path/to/gpt"
    "$GPT" bench --help >/dev/null 2>&1 || die "$GPT has no working 'bench' subcommand yet ('$GPT bench --help' failed); nothing to compare"
fi
[[ -n "$GPT_JSON" || -f "$MODEL" ]] || die "model not found: $MODEL (make model, or pass -m FILE / set GPT_MODEL)"

# --- llama.cpp ---------------------------------------------------------------------------------------
if [[ -z "$LLAMA_JSON" ]]; then
    default_llama="${LLAMA_DIR:-$CACHE/llama.cpp}/bin/llama-bench"
    prebuilt_llama=/opt/llama/src/vendor/llama.cpp/build/bin/llama-bench
    [[ ! -x "$default_llama" && -x "$prebuilt_llama" ]] && default_llama="$prebuilt_llama"
    LLAMA_BENCH="${LLAMA_BENCH:-$default_llama}"
    [[ -x "$LLAMA_BENCH" ]] || die "llama-bench not found at $LLAMA_BENCH; build it with scripts/build-llama.sh or set LLAMA_BENCH=/path/to/llama-bench"
    [[ -f "$MODEL" ]] || die "model not found: $MODEL (make model, or pass -m FILE / set GPT_MODEL)"
    LLAMA_LIBDIR="$(cd "$(dirname "$LLAMA_BENCH")" && pwd)"
fi

if [[ -z "$GPT_JSON" ]]; then
    GPT_JSON="$WORK/gpt.json"
    args=(bench -m "$MODEL" -p "$P" -n "$N" -r "$R" --threads "$THREADS" --output json)
    [[ -n "$BACKEND" ]] && args+=(--backend "$BACKEND")
    [[ -n "$ATTENTION" ]] && args+=(--attention "$ATTENTION")
    echo "compare-llama: $GPT ${args[*]}" >&2
    record_command "$GPT" "${args[@]}"
    "$GPT" "${args[@]}" >"$GPT_JSON" || die "gpt bench failed (exit $?)"
else
    echo "# SwiftGPT results read from $GPT_JSON" >>"$COMMANDS"
fi

if [[ -z "$LLAMA_JSON" ]]; then
    LLAMA_JSON="$WORK/llama.json"
    largs=(-m "$MODEL" -p "$P" -n "$N" -r "$R" -t "$THREADS" -fa "$FA" -o json)
    echo "compare-llama: $LLAMA_BENCH ${largs[*]}" >&2
    record_command env LD_LIBRARY_PATH="$LLAMA_LIBDIR" "$LLAMA_BENCH" "${largs[@]}"
    LD_LIBRARY_PATH="$LLAMA_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$LLAMA_BENCH" "${largs[@]}" >"$LLAMA_JSON" 2>"$WORK/llama.err" \
        || { cat "$WORK/llama.err" >&2; die "llama-bench failed"; }
else
    echo "# llama.cpp results read from $LLAMA_JSON" >>"$COMMANDS"
fi

TABLE="$WORK/table.md"
python3 - "$GPT_JSON" "$LLAMA_JSON" "$MODEL" "$THREADS" "$R" >"$TABLE" <<'PY'
import json, os, platform, sys

gpt_path, llama_path, model, threads, reps = sys.argv[1:6]

def load(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"compare-llama: cannot read {what} JSON from {path}: {e}")

def records(doc):
    if isinstance(doc, dict):
        for key in ("results", "benchmarks", "runs"):
            if isinstance(doc.get(key), list):
                return doc[key]
        return [doc]
    return doc if isinstance(doc, list) else []

def first(rec, *keys):
    for k in keys:
        if k in rec and rec[k] is not None:
            return rec[k]
    return None

def test_name(rec):
    t = first(rec, "test", "name")
    if isinstance(t, str) and t:
        return t
    n_prompt, n_gen = int(first(rec, "n_prompt", "prompt_tokens") or 0), int(first(rec, "n_gen", "gen_tokens", "generated_tokens") or 0)
    if n_prompt and not n_gen:
        return f"pp{n_prompt}"
    if n_gen and not n_prompt:
        return f"tg{n_gen}"
    return f"pp{n_prompt}+tg{n_gen}"

def tps(rec):
    v = first(rec, "avg_ts", "tokensPerSecond", "tokens_per_second", "tps", "t/s", "mean_ts", "mean_tps")
    return float(v) if v is not None else None

def sd(rec):
    v = first(rec, "stddev_ts", "standardDeviation", "stddev_tps", "stddev", "std")
    return float(v) if v is not None else None

llama = {}  # (test, fa) -> (tps, sd)
commit = None
cpu = None
for rec in records(load(llama_path, "llama-bench")):
    llama[(test_name(rec), int(rec.get("flash_attn", 0)))] = (tps(rec), sd(rec))
    commit = commit or rec.get("build_commit")
    cpu = cpu or rec.get("cpu_info")

gpt = []  # (backend, test, tps, sd)
for rec in records(load(gpt_path, "gpt bench")):
    v = tps(rec)
    if v is None:
        sys.exit(f"compare-llama: gpt bench record without a tokens/s field (avg_ts / tokensPerSecond): {rec}")
    label = str(first(rec, "backend", "backend_name") or "default")
    if rec.get("attention"):
        label += f" ({rec['attention']} attention)"
    gpt.append((label, test_name(rec), v, sd(rec)))
if not gpt:
    sys.exit("compare-llama: gpt bench produced no results")

fas = sorted({fa for _, fa in llama})
def fmt(v, s):
    if v is None:
        return "—"
    return f"{v:.2f} ± {s:.2f}" if s is not None else f"{v:.2f}"

print(f"Model: `{os.path.basename(model)}` · threads: {threads} · repetitions: {reps} · "
      f"llama.cpp build: {commit or '?'} · CPU: {cpu or platform.processor() or '?'}")
print()
head = ["test", "SwiftGPT backend", "SwiftGPT t/s"] + [f"llama.cpp fa={fa} t/s" for fa in fas] + [f"ratio vs fa={fa}" for fa in fas]
print("| " + " | ".join(head) + " |")
print("| " + " | ".join(["---", "---"] + ["---:"] * (len(head) - 2)) + " |")
order = {t: i for i, t in enumerate(dict.fromkeys(t for (t, _) in llama))}
for backend, test, v, s in sorted(gpt, key=lambda g: (order.get(g[1], 99), g[1], g[0])):
    row = [test, backend, fmt(v, s)]
    refs = [llama.get((test, fa)) for fa in fas]
    row += [fmt(*r) if r else "—" for r in refs]
    row += [f"{v / r[0]:.2f}×" if r and r[0] else "—" for r in refs]
    print("| " + " | ".join(row) + " |")
PY

cat "$TABLE"
if [[ "$RESULTS" != "-" ]]; then
    mkdir -p "$(dirname "$RESULTS")"
    {
        echo "# SwiftGPT vs llama.cpp: \`Benchmarks/compare-llama.sh\`"
        echo
        echo "$(date -u '+%Y-%m-%d %H:%M UTC') · $(uname -srm)"
        echo
        echo "Commands:"
        echo
        echo '```sh'
        cat "$COMMANDS"
        echo '```'
        echo
        cat "$TABLE"
    } >"$RESULTS"
    echo "compare-llama: table written to $RESULTS" >&2
fi
if [[ -n "$OUT" ]]; then
    mkdir -p "$OUT"
    cp "$GPT_JSON" "$OUT/gpt-bench.json"
    cp "$LLAMA_JSON" "$OUT/llama-bench.json"
    cp "$TABLE" "$OUT/table.md"
    echo "compare-llama: raw results and table in $OUT" >&2
fi
