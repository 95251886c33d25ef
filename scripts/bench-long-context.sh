#!/usr/bin/env bash
# Long-context sweep: SwiftGPT (`gpt generate`, `gpt bench --depth`) against llama.cpp (`llama-bench`) at growing
# prompt lengths, with both attention kernels, recording prefill tokens/s, decode tokens/s and peak resident memory.
# Prints a markdown table (with the exact commands in its header) and writes it to Benchmarks/results/long-context.md.
#
# Usage: scripts/bench-long-context.sh [options]
#   --lengths "LIST"      prompt lengths in tokens (default "512 1024 2048 4096 8192")
#   --attention "LIST"    SwiftGPT attention kernels (default "fused naive")
#   --fa "LIST"           llama.cpp flash-attention settings (default "1 0"; fa=1 pairs with fused, fa=0 with naive)
#   -n N                  tokens generated after each prompt by `gpt generate` (default 16)
#   --depth D             decode test after a D-token context: gpt bench -p 0 -n TG -d D and
#                         llama-bench -p 0 -n TG -d D (default 4096; 0 skips it)
#   --tg N                tokens of that decode test (default 32)
#   -r N                  repetitions: of each `gpt generate` run (mean t/s, largest RSS) and of llama-bench -r (default 1)
#   -b, --backend NAME    SwiftGPT backend (default openmp)
#   -t, --threads N       threads for both (default 2)
#   -m, --model FILE      GGUF model (default: $GPT_MODEL or ${XDG_CACHE_HOME:-~/.cache}/swiftgpt/models/SmolLM2-135M-Instruct.Q4_1.gguf)
#   --out FILE            where the table goes besides stdout (default Benchmarks/results/long-context.md; "-" for none)
#   --no-llama            SwiftGPT only (llama.cpp columns show "—")
#
# Environment:
#   GPT          the SwiftGPT CLI (default: .build/release/gpt; build: swift build -c release --product gpt)
#   LLAMA_BENCH  llama-bench (default: the build cache of scripts/build-llama.sh,
#                ${LLAMA_DIR:-~/.cache/swiftgpt/llama.cpp}/bin/llama-bench, else the prebuilt copy
#                /opt/llama/src/vendor/llama.cpp/build/bin/llama-bench where a machine has one)
#
# How each figure is measured:
#   prompt files   a fixed English paragraph repeated, cut to the requested token count with `gpt tokenize`. When
#                  length + n exceeds the model's training context (8192 for SmolLM2), the prompt is shortened so that
#                  length + n fits (the table shows the real count).
#   SwiftGPT       /usr/bin/time -v gpt generate --prompt-file F -n N --ctx LEN+N --temperature 0: prefill and decode
#                  tokens/s from gpt's stderr ("prompt: … tokens/s", "generation: … tokens/s"; decode = the N tokens
#                  right after the prompt), peak memory = "Maximum resident set size" of the whole process.
#   llama.cpp      /usr/bin/time -v llama-bench -p LEN -n 0 -fa F -t T -r R: prefill tokens/s (llama-bench's own
#                  warm-up run included in the process, so its peak memory covers a LEN-token KV cache and
#                  compute buffers for ubatch 512, like gpt's batch 512).
#   Peak RSS counts the model's mmapped pages that were touched, for both tools.
# Both tools run one after the other, never together; quote numbers from an otherwise idle machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/swiftgpt"
MODEL="${GPT_MODEL:-$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
LENGTHS="512 1024 2048 4096 8192" ATTENTION="fused naive" FAS="1 0"
GEN=16 DEPTH=4096 TG=32 REPS=1 BACKEND=openmp THREADS=2
OUTFILE="$ROOT/Benchmarks/results/long-context.md" LLAMA=1

die() { echo "bench-long-context: $*" >&2; exit 1; }
log() { echo "bench-long-context: $*" >&2; }
need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --lengths) need "$@"; LENGTHS="$2"; shift 2 ;;
        --attention) need "$@"; ATTENTION="$2"; shift 2 ;;
        --fa) need "$@"; FAS="$2"; shift 2 ;;
        -n) need "$@"; GEN="$2"; shift 2 ;;
        --depth) need "$@"; DEPTH="$2"; shift 2 ;;
        --tg) need "$@"; TG="$2"; shift 2 ;;
        -r) need "$@"; REPS="$2"; shift 2 ;;
        -b|--backend) need "$@"; BACKEND="$2"; shift 2 ;;
        -t|--threads) need "$@"; THREADS="$2"; shift 2 ;;
        -m|--model) need "$@"; MODEL="$2"; shift 2 ;;
        --out) need "$@"; OUTFILE="$2"; shift 2 ;;
        --no-llama) LLAMA=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

for v in GEN DEPTH TG REPS THREADS; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"; done
for len in $LENGTHS; do [[ "$len" =~ ^[0-9]+$ && "$len" -gt 0 ]] || die "--lengths takes positive integers, got '$len'"; done
for a in $ATTENTION; do [[ "$a" == fused || "$a" == naive ]] || die "--attention takes fused and naive, got '$a'"; done
[[ "$REPS" -ge 1 ]] || die "-r must be at least 1"
command -v python3 >/dev/null || die "python3 is needed to build prompts and read results"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, for peak memory) is missing: apt-get install time"

GPT="${GPT:-$ROOT/.build/release/gpt}"
[[ -x "$GPT" ]] || die "SwiftGPT CLI not found at $GPT; build it: swift build -c release --product gpt (or set GPT=)"
[[ -f "$MODEL" ]] || die "model not found: $MODEL (make model, or pass -m FILE / set GPT_MODEL)"
"$GPT" bench --help 2>/dev/null | grep -q -- "--depth" || die "$GPT bench has no --depth option: rebuild gpt"

if [[ "$LLAMA" == 1 ]]; then
    default_llama="${LLAMA_DIR:-$CACHE/llama.cpp}/bin/llama-bench"
    prebuilt_llama=/opt/llama/src/vendor/llama.cpp/build/bin/llama-bench
    [[ ! -x "$default_llama" && -x "$prebuilt_llama" ]] && default_llama="$prebuilt_llama"
    LLAMA_BENCH="${LLAMA_BENCH:-$default_llama}"
    [[ -x "$LLAMA_BENCH" ]] || die "llama-bench not found at $LLAMA_BENCH; build it with scripts/build-llama.sh, set LLAMA_BENCH=, or pass --no-llama"
    LLAMA_LIBDIR="$(cd "$(dirname "$LLAMA_BENCH")" && pwd)"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.tsv"   # kind \t key=value ... one line per measurement
COMMANDS="$WORK/commands.txt"
: >"$RESULTS"
: >"$COMMANDS"

# The model's training context: the longest --ctx gpt accepts.
CTX_TRAIN="$("$GPT" inspect "$MODEL" 2>/dev/null | sed -n 's/.*, context \([0-9]*\),.*/\1/p' | head -1 || true)"
[[ -n "$CTX_TRAIN" ]] || die "could not read the model's context length from 'gpt inspect'"

# Appends a command line to the list printed in the table's header: words quoted only where the shell needs it,
# and the temporary folder of the prompt files written as $PROMPTS.
record_command() {
    local word line="" plain='^[-A-Za-z0-9_./=,:@+%$]+$'
    for word in "$@"; do
        word="${word//$WORK/\$PROMPTS}"
        if [[ "$word" =~ $plain ]]; then line+="$word "; else line+="'${word//\'/\'\\\'\'}' "; fi
    done
    echo "${line% }" >>"$COMMANDS"
}

# --- Prompt files ------------------------------------------------------------------------------------------------
# make_prompt TOKENS FILE: FILE holds a prompt of TOKENS tokens (or the closest count below it that whole words reach).
make_prompt() {
    python3 - "$GPT" "$MODEL" "$1" "$2" <<'PY'
import subprocess, sys

gpt, model, target, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
paragraph = (
    "The history of computing is a story of people trying to make machines do arithmetic faster than they could "
    "do it by hand. Early mechanical calculators used gears and levers, and later designs replaced them with relays, "
    "vacuum tubes and finally transistors. Each step made the machines smaller, cheaper and more reliable, and each "
    "step also changed what people expected a computer to do. Today a small language model can run on an ordinary "
    "laptop, reading a long document and answering questions about it, because the same ideas of careful arithmetic "
    "and clever memory use have been refined for decades. Engineers still measure how many operations a processor "
    "completes each second and how quickly data moves from memory, since those two numbers decide how fast the model "
    "can read a prompt and how fast it can write an answer.\n\n"
)
words = []
while len(words) < target * 2:  # more words than tokens could need (English runs about 1.3 tokens a word)
    words += paragraph.split(" ")

def count(m):
    out = subprocess.run([gpt, "tokenize", "-m", model, " ".join(words[:m])], check=True,
                         capture_output=True, text=True).stdout
    return len(out.split())

# Secant steps from an estimate, then a walk of single words to the largest count <= target.
lo_m, m = 0, max(1, int(target / 1.3))
c = count(m)
for _ in range(8):
    if c == target:
        break
    m = max(1, m + int(round((target - c) / max(c / m, 0.1))))
    c = count(m)
while c > target and m > 1:
    m -= 1
    c = count(m)
while True:
    c2 = count(m + 1)
    if c2 > target:
        break
    m, c = m + 1, c2
with open(path, "w") as f:
    f.write(" ".join(words[:m]))
print(c)
PY
}

# --- SwiftGPT: gpt generate per length and kernel ----------------------------------------------------------------
# Parses gpt's stats and GNU time's report into one results line.
parse_gpt() {  # parse_gpt LEN ATTENTION REP STDERR TIMEFILE
    python3 - "$@" >>"$RESULTS" <<'PY'
import re, sys
length, attention, rep, errf, timef = sys.argv[1:6]
err = open(errf).read()
tim = open(timef).read()
p = re.search(r"prompt: (\d+) tokens in ([\d.]+) ms, ([\d.]+) tokens/s", err)
g = re.search(r"generation: (\d+) tokens, (\d+) decode steps in ([\d.]+) ms, ([\d.]+) tokens/s", err)
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tim)
if not (p and rss):
    sys.exit(f"bench-long-context: could not read gpt's stats for {length}/{attention}:\n{err}\n{tim}")
decode = g.group(4) if g and int(g.group(2)) > 0 else ""
print(f"gpt\t{length}\t{attention}\t{rep}\t{p.group(1)}\t{p.group(3)}\t{decode}\t{rss.group(1)}")
PY
}

for len in $LENGTHS; do
    prompt_len=$len
    if (( len + GEN > CTX_TRAIN )); then prompt_len=$(( CTX_TRAIN - GEN )); fi
    prompt="$WORK/prompt-$len.txt"
    got="$(make_prompt "$prompt_len" "$prompt")"
    log "prompt for $len: $got tokens ($prompt)"
    ctx=$(( got + GEN ))
    for attention in $ATTENTION; do
        for rep in $(seq 1 "$REPS"); do
            cmd=("$GPT" generate -m "$MODEL" --prompt-file "$prompt" -n "$GEN" --ctx "$ctx" --attention "$attention"
                 --backend "$BACKEND" --threads "$THREADS" --temperature 0)
            [[ "$rep" == 1 ]] && record_command /usr/bin/time -v "${cmd[@]}"
            log "SwiftGPT $attention, $got-token prompt (run $rep of $REPS)"
            /usr/bin/time -v -o "$WORK/time.txt" "${cmd[@]}" >/dev/null 2>"$WORK/gpt.err" \
                || { cat "$WORK/gpt.err" >&2; die "gpt generate failed"; }
            parse_gpt "$len" "$attention" "$rep" "$WORK/gpt.err" "$WORK/time.txt"
        done
    done
done

# --- SwiftGPT: peak memory at llama-bench's own work --------------------------------------------------------------
# `gpt bench -p LEN -n 0` does what `llama-bench -p LEN -n 0` does (a LEN-token prompt in a LEN-position context, no
# tokenizer run, no generation), so their process peaks compare like for like.
for len in $LENGTHS; do
    ctx_len=$len
    (( ctx_len > CTX_TRAIN )) && ctx_len=$CTX_TRAIN
    cmd=("$GPT" bench -m "$MODEL" -p "$ctx_len" -n 0 -r "$REPS" --attention fused --backend "$BACKEND"
         --threads "$THREADS" --output json)
    record_command /usr/bin/time -v "${cmd[@]}"
    log "SwiftGPT bench pp$ctx_len (peak memory)"
    /usr/bin/time -v -o "$WORK/time.txt" "${cmd[@]}" >"$WORK/gpt-bench.json" 2>"$WORK/gpt.err" \
        || { cat "$WORK/gpt.err" >&2; die "gpt bench failed"; }
    python3 - "$len" "$WORK/gpt-bench.json" "$WORK/time.txt" >>"$RESULTS" <<'PY'
import json, re, sys
length, jf, tf = sys.argv[1:4]
r = json.load(open(jf))[0]
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read()).group(1)
print(f"gptbench\t{length}\t{r['tokensPerSecond']}\t{rss}")
PY
done

# --- SwiftGPT: decode after a DEPTH-token context ----------------------------------------------------------------
if (( DEPTH > 0 )); then
    cmd=("$GPT" bench -m "$MODEL" -p 0 -n "$TG" -d "$DEPTH" -r "$REPS" --attention "$(echo $ATTENTION | tr ' ' ,)"
         --backend "$BACKEND" --threads "$THREADS" --output json)
    record_command "${cmd[@]}"
    log "SwiftGPT tg$TG @ d$DEPTH"
    "${cmd[@]}" >"$WORK/gpt-depth.json" 2>"$WORK/gpt-depth.err" || { cat "$WORK/gpt-depth.err" >&2; die "gpt bench failed"; }
    python3 - "$WORK/gpt-depth.json" >>"$RESULTS" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1])):
    print(f"gptdepth\t{r['attention']}\t{r['test']}\t{r['tokensPerSecond']}\t{r['standardDeviation']}")
PY
fi

# --- llama.cpp ------------------------------------------------------------------------------------------------------
LLAMA_COMMIT="" LLAMA_CPU=""
if [[ "$LLAMA" == 1 ]]; then
    run_llama() {  # run_llama OUTJSON TIMEFILE ARGS...
        local out="$1" timef="$2"; shift 2
        LD_LIBRARY_PATH="$LLAMA_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            /usr/bin/time -v -o "$timef" "$LLAMA_BENCH" "$@" -o json >"$out" 2>"$WORK/llama.err" \
            || { cat "$WORK/llama.err" >&2; die "llama-bench failed"; }
    }
    for len in $LENGTHS; do
        for fa in $FAS; do
            args=(-m "$MODEL" -p "$len" -n 0 -fa "$fa" -t "$THREADS" -r "$REPS")
            record_command env LD_LIBRARY_PATH="$LLAMA_LIBDIR" /usr/bin/time -v "$LLAMA_BENCH" "${args[@]}" -o json
            log "llama.cpp fa=$fa pp$len"
            run_llama "$WORK/llama.json" "$WORK/time.txt" "${args[@]}"
            python3 - "$len" "$fa" "$WORK/llama.json" "$WORK/time.txt" >>"$RESULTS" <<'PY'
import json, re, sys
length, fa, jf, tf = sys.argv[1:5]
r = json.load(open(jf))[0]
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read()).group(1)
print(f"llama\t{length}\t{fa}\t{r['avg_ts']}\t{r.get('stddev_ts', 0)}\t{rss}\t{r.get('build_commit', '')}\t{r.get('cpu_info', '')}")
PY
        done
    done
    if (( DEPTH > 0 )); then
        for fa in $FAS; do
            args=(-m "$MODEL" -p 0 -n "$TG" -d "$DEPTH" -fa "$fa" -t "$THREADS" -r "$REPS")
            record_command env LD_LIBRARY_PATH="$LLAMA_LIBDIR" "$LLAMA_BENCH" "${args[@]}" -o json
            log "llama.cpp fa=$fa tg$TG @ d$DEPTH"
            run_llama "$WORK/llama-depth.json" "$WORK/time.txt" "${args[@]}"
            python3 - "$fa" "$WORK/llama-depth.json" >>"$RESULTS" <<'PY'
import json, sys
fa, jf = sys.argv[1:3]
r = json.load(open(jf))[0]
print(f"llamadepth\t{fa}\t{r['avg_ts']}\t{r.get('stddev_ts', 0)}")
PY
        done
    fi
fi

# --- Table ----------------------------------------------------------------------------------------------------------
TABLE="$WORK/table.md"
python3 - "$RESULTS" "$COMMANDS" "$MODEL" "$BACKEND" "$THREADS" "$REPS" "$GEN" "$DEPTH" "$TG" "$LENGTHS" \
    "$ATTENTION" "$FAS" >"$TABLE" <<'PY'
import os, platform, statistics, subprocess, sys
from datetime import datetime, timezone

(resf, cmdf, model, backend, threads, reps, gen, depth, tg, lengths, attentions, fas) = sys.argv[1:13]
lengths, attentions, fas = lengths.split(), attentions.split(), fas.split()
gpt, gptbench, gptdepth, llama, llamadepth = {}, {}, {}, {}, {}
commit, cpu = "", ""
for line in open(resf):
    f = line.rstrip("\n").split("\t")
    if f[0] == "gpt":  # len attention rep promptTokens prefill decode rssKB
        gpt.setdefault((f[1], f[2]), []).append(f[4:])
    elif f[0] == "gptbench":  # len t/s rssKB
        gptbench[f[1]] = (float(f[2]), int(f[3]))
    elif f[0] == "gptdepth":
        gptdepth[f[1]] = (float(f[3]), float(f[4]))
    elif f[0] == "llama":  # len fa avg sd rss commit cpu
        llama[(f[1], f[2])] = (float(f[3]), float(f[4]), int(f[5]))
        commit, cpu = commit or f[6], cpu or f[7]
    elif f[0] == "llamadepth":
        llamadepth[f[1]] = (float(f[2]), float(f[3]))

def mean_sd(values):
    values = [float(v) for v in values if v != ""]
    if not values:
        return None
    return (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None)

def ts(v):
    if v is None:
        return "—"
    m, s = v
    return f"{m:.1f} ± {s:.1f}" if s else f"{m:.1f}"

def mib(kb):
    return f"{kb / 1024:.0f}"

pair = {"fused": "1", "naive": "0"}  # the llama.cpp setting each SwiftGPT kernel is compared with
cpu = cpu or platform.processor() or "?"
print(f"# Long-context benchmark: SwiftGPT vs llama.cpp")
print()
print(f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} · model `{os.path.basename(model)}` · "
      f"SwiftGPT backend {backend} · threads {threads} · repetitions {reps} · "
      f"llama.cpp build {commit or '—'} · CPU {cpu}")
print()
print("Commands, in the order they ran (each once per repetition). `$PROMPTS/prompt-LEN.txt` is a prompt file the "
      "script builds in a temporary folder: a fixed English paragraph repeated and cut to LEN tokens with "
      "`gpt tokenize`.")
print()
print("```sh")
for line in open(cmdf):
    print(line.rstrip("\n"))
print("```")
print()
print(f"SwiftGPT prefill and decode t/s are `gpt generate`'s own figures (decode: the {gen} tokens after the prompt, "
      "greedy); llama.cpp prefill is llama-bench's ppLEN. Peak RSS is GNU time's *Maximum resident set size* of the "
      "whole process (for llama.cpp: the llama-bench process of that row), mmapped model pages included. "
      "fused is compared with llama.cpp fa=1, naive with fa=0.")
print()
head = ["context", "engine", "attention", "prompt tokens", "prefill t/s", f"decode t/s (tg{gen} after prompt)",
        "peak RSS MiB", "prefill ratio vs llama.cpp"]
print("| " + " | ".join(head) + " |")
print("| " + " | ".join(["---:", "---", "---", "---:", "---:", "---:", "---:", "---:"]) + " |")
for length in lengths:
    for a in attentions:
        runs = gpt.get((length, a))
        if not runs:
            continue
        prefill = mean_sd([r[1] for r in runs])
        decode = mean_sd([r[2] for r in runs])
        rss = max(int(r[3]) for r in runs)
        ref = llama.get((length, pair[a]))
        ratio = f"{prefill[0] / ref[0]:.2f}×" if ref and prefill else "—"
        print(f"| {length} | SwiftGPT | {a} | {runs[0][0]} | {ts(prefill)} | {ts(decode)} | {mib(rss)} | {ratio} |")
    for fa in fas:
        r = llama.get((length, fa))
        if r:
            print(f"| {length} | llama.cpp | fa={fa} | {length} | {ts((r[0], r[1]))} | — | {mib(r[2])} | |")
if gptbench:
    print()
    print("Peak memory at equal work: `gpt bench -p LEN -n 0` (fused attention) against `llama-bench -p LEN -n 0 -fa 1`, "
          "both the whole process's peak resident set (GNU time), mapped model pages, libraries and KV cache included:")
    print()
    print("| context | SwiftGPT pp t/s | SwiftGPT peak RSS MiB | llama.cpp fa=1 pp t/s | llama.cpp fa=1 peak RSS MiB | RSS ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for length in lengths:
        g, ref = gptbench.get(length), llama.get((length, "1"))
        if not g:
            continue
        cells = [f"{g[0]:.1f}", mib(g[1])]
        cells += [f"{ref[0]:.1f}", mib(ref[2]), f"{g[1] / ref[2]:.2f}"] if ref else ["—", "—", "—"]
        print(f"| {length} | " + " | ".join(cells) + " |")
if int(depth) > 0:
    print()
    print(f"Decode after a {depth}-token context (`tg{tg} @ d{depth}`: the context is filled untimed before each "
          "repetition; SwiftGPT's with `gpt bench --depth`, llama.cpp's with `llama-bench -d`):")
    print()
    cols = [f"SwiftGPT {a}" for a in attentions] + [f"llama.cpp fa={fa}" for fa in fas]
    print("| test | " + " | ".join(cols) + " |")
    print("| --- | " + " | ".join(["---:"] * len(cols)) + " |")
    cells = [ts(gptdepth.get(a)) for a in attentions] + [ts(llamadepth.get(fa)) for fa in fas]
    print(f"| tg{tg} @ d{depth} | " + " | ".join(cells) + " |")
PY

cat "$TABLE"
if [[ "$OUTFILE" != "-" ]]; then
    mkdir -p "$(dirname "$OUTFILE")"
    cp "$TABLE" "$OUTFILE"
    log "table written to $OUTFILE"
fi
