#!/bin/sh
# Regenerates llama_cpp_scalar_classes.txt: the character class llama.cpp's tokenizer gives every code point
# (W = \s whitespace, L = \p{L}, N = \p{N}, P = \p{P}, O = anything else), as "HEX CLASS" lines, one per run of
# equal classes (a run lasts until the next line's code point). Classes come from llama.cpp's own tables through
# unicode_cpt_flags_from_cpt, compiled from its sources.
#
# Usage: LLAMA_SRC=/opt/llama/src/vendor/llama.cpp/src sh make_scalar_classes.sh > llama_cpp_scalar_classes.txt
set -eu
src=${LLAMA_SRC:-/opt/llama/src/vendor/llama.cpp/src}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/dump.cpp" <<'CPP'
#include "unicode.h"
#include <cstdio>
int main() {
    char previous = 0;
    for (uint32_t c = 0; c < 0x110000; ++c) {
        const auto f = unicode_cpt_flags_from_cpt(c);
        const char k = f.is_whitespace ? 'W' : f.is_letter ? 'L' : f.is_number ? 'N' : f.is_punctuation ? 'P' : 'O';
        if (k != previous) printf("%X %c\n", c, k);
        previous = k;
    }
}
CPP
c++ -O1 -std=c++17 -I"$src" -I"$src/../include" "$tmp/dump.cpp" "$src/unicode.cpp" "$src/unicode-data.cpp" \
    -o "$tmp/dump"
"$tmp/dump"
