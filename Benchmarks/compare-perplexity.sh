#!/usr/bin/env bash
# Perplexity of every quantized variant of the default model: `gpt perplexity` against `llama-perplexity` on the
# same file, text and chunking, and a markdown table (format, ours, llama.cpp's, difference, commands).
#
# Usage: Benchmarks/compare-perplexity.sh [-f TEXT] [-c CTX] [--chunks N] [-b BACKEND] [TYPE...]
#   -f TEXT       text to score (default: /usr/share/common-licenses/GPL-3, 35 KB of English on every Debian system;
#                 Tests/EndToEndTests/Golden/declaration.txt: 13 chunks of 128)
#   -c CTX        context per chunk, both tools (default 128: 63 scored tokens per chunk, as llama-perplexity scores
#                 the second half)
#   --chunks N    at most N chunks (default: all)
#   -b BACKEND    gpt's backend (default openmp)
#   --log DIR     also keep each tool's full output in DIR/TYPE.{gpt,llama}.log
#   TYPE...       variants (default: Q4_1 (the model itself) Q4_0 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K)
#
# The variants are the files EndToEndTests/QuantGoldenTests and scripts/make_quant_golden.py make with `gpt quantize`
# in ${XDG_CACHE_HOME:-~/.cache}/swiftgpt/models/variants/swiftgpt (tensor data equal to llama-quantize's). Both tools
# use an F32 KV cache and no flash attention, 2 threads. Needs .build/release/gpt and scripts/build-llama.sh's build.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/swiftgpt
GPT=${GPT:-.build/release/gpt}
LLAMA_PPL=${LLAMA_PERPLEXITY:-${LLAMA_DIR:-$CACHE/llama.cpp}/bin/llama-perplexity}
TEXT=/usr/share/common-licenses/GPL-3 CTX=128 CHUNKS= BACKEND=openmp LOG= TYPES=()
while [ $# -gt 0 ]; do
    case $1 in
        -f) TEXT=$2; shift 2 ;;
        -c) CTX=$2; shift 2 ;;
        --chunks) CHUNKS=$2; shift 2 ;;
        -b) BACKEND=$2; shift 2 ;;
        --log) LOG=$2; mkdir -p "$LOG"; shift 2 ;;
        -h|--help) sed -n 2,19p "$0"; exit 0 ;;
        *) TYPES+=("$1"); shift ;;
    esac
done
[ ${#TYPES[@]} -gt 0 ] || TYPES=(Q4_1 Q4_0 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K)
chunk_flag() { [ -n "$CHUNKS" ] && echo "$1 $CHUNKS" || true; }
GPT_CMD="$GPT perplexity -m FILE -f $TEXT --ctx $CTX --batch $CTX --kv-type f32 -b $BACKEND -t 2 $(chunk_flag --chunks)"
LLAMA_CMD="llama-perplexity -m FILE -f $TEXT -c $CTX -b $CTX -ctk f32 -ctv f32 -fa off -t 2 $(chunk_flag --chunks)"
keep() { if [ -n "$LOG" ]; then tee "$LOG/$1"; else cat; fi; }
ppl() { grep -o 'Final estimate: PPL = [0-9.]* +/- [0-9.]*' | sed 's/Final estimate: PPL = //'; }

echo "| format | gpt perplexity ($BACKEND) | llama-perplexity | Δ |"
echo "|---|---:|---:|---:|"
for t in "${TYPES[@]}"; do
    f=$CACHE/models/variants/swiftgpt/SmolLM2-135M-Instruct.$t.gguf
    [ "$t" = Q4_1 ] && f=$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf
    [ -f "$f" ] || { echo "| $t | (no $f: run scripts/make_quant_golden.py --quantize-only) | | |"; continue; }
    ours=$(${GPT_CMD//FILE/$f} 2>&1 | keep "$t.gpt.log" | ppl)
    theirs=$("$LLAMA_PPL" $(echo "${LLAMA_CMD#llama-perplexity }" | sed "s|FILE|$f|") 2>&1 | keep "$t.llama.log" | ppl)
    delta=$(python3 -c "print(f'{(${ours%% *} / ${theirs%% *} - 1) * 100:+.2f}%')")
    echo "| $t | $ours | $theirs | $delta |"
done
echo
echo "gpt: \`$GPT_CMD\`"
echo "llama.cpp: \`$LLAMA_CMD\`"
