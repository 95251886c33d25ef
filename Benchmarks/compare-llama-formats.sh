#!/usr/bin/env bash
# Speed per weight format: Benchmarks/compare-llama.sh (gpt bench vs llama-bench -fa 0,1, same run, same threads)
# on the default model requantized by llama.cpp to Q4_0, Q4_K_M, Q6_K and Q8_0, one table per file, collected in
# Benchmarks/results/compare-llama-formats.md with a summary of SwiftGPT's ratio to llama.cpp's best (fa=0 or 1).
#
# Usage: Benchmarks/compare-llama-formats.sh [--types Q4_0,Q4_K_M,Q6_K,Q8_0] [--variants DIR] [-r N] [-t N]
#                                            [-b BACKEND] [--results FILE]
# The variant files come from scripts/make_quant_golden.py --quantize-only (llama-quantize --allow-requantize of
# the default Q4_1 model), in ${XDG_CACHE_HOME:-~/.cache}/swiftgpt/models/variants by default.
# Run on an otherwise idle machine for numbers you quote.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/swiftgpt"
TYPES="Q4_0,Q4_K_M,Q6_K,Q8_0" VARIANTS="$CACHE/models/variants" R=5 THREADS=2 BACKEND="openmp"
RESULTS="$ROOT/Benchmarks/results/compare-llama-formats.md"

die() { echo "compare-llama-formats: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --types) TYPES="$2"; shift 2 ;;
        --variants) VARIANTS="$2"; shift 2 ;;
        -r) R="$2"; shift 2 ;;
        -t|--threads) THREADS="$2"; shift 2 ;;
        -b|--backend) BACKEND="$2"; shift 2 ;;
        --results) RESULTS="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
{
    echo "# SwiftGPT vs llama.cpp per weight format: \`Benchmarks/compare-llama-formats.sh\`"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC') · $(uname -srm) · threads $THREADS · repetitions $R · backend $BACKEND"
    echo
    echo "Files: SmolLM2-135M-Instruct requantized from Q4_1 by llama.cpp's llama-quantize (scripts/make_quant_golden.py"
    echo "--quantize-only). SmolLM2's rows of 576 are not whole 256-blocks, so in the K-quant files only ffn_down"
    echo "(rows of 1536) is a K-quant: the other matrices fall back to Q5_0 (Q4_K_M) or Q8_0 (Q6_K), as llama.cpp chooses."
    echo
    echo "Ratio = SwiftGPT t/s / llama.cpp's best of fa=0 and fa=1 (above 1: SwiftGPT is faster)."
    echo
    echo "| file | pp512 ratio | tg128 ratio |"
    echo "| --- | ---: | ---: |"
} >"$WORK/head.md"
: >"$WORK/body.md"
IFS=, read -ra types <<<"$TYPES"
for t in "${types[@]}"; do
    model="$VARIANTS/SmolLM2-135M-Instruct.$t.gguf"
    [[ -f "$model" ]] || die "missing $model: run scripts/make_quant_golden.py --quantize-only"
    "$ROOT/Benchmarks/compare-llama.sh" -m "$model" -r "$R" -t "$THREADS" -b "$BACKEND" --results "$WORK/$t.md" >/dev/null
    # the summary row: SwiftGPT over the better llama.cpp setting, per test
    python3 - "$WORK/$t.md" "$t" >>"$WORK/head.md" <<'PY'
import re, sys
text, t = open(sys.argv[1]).read(), sys.argv[2]
ratios = {}
for line in text.splitlines():
    cells = [c.strip() for c in line.strip("|").split("|")]
    if len(cells) >= 7 and cells[0] in ("pp512", "tg128"):
        ours = float(cells[2].split()[0])
        best = max(float(c.split()[0]) for c in cells[3:5] if c != "—")
        ratios[cells[0]] = f"{ours / best:.2f}×"
print(f"| {t} | {ratios.get('pp512', '—')} | {ratios.get('tg128', '—')} |")
PY
    { echo; echo "## $t"; echo; sed -n '/^Commands:/,$p' "$WORK/$t.md"; } >>"$WORK/body.md"
done
mkdir -p "$(dirname "$RESULTS")"
cat "$WORK/head.md" "$WORK/body.md" >"$RESULTS"
cat "$RESULTS"
