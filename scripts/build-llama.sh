#!/usr/bin/env bash
# Build the llama.cpp reference tools (llama-bench, llama-tokenize, llama-server, llama-perplexity,
# llama-quantize, llama-batched-bench, libllama) that SwiftGPT is
# compared against: golden data (scripts/make_golden.py) and benchmarks (Benchmarks/compare-llama.sh).
#
# Source: the llama.cpp tree vendored in the `llama-cpp-python` source package, fetched from PyPI
# with pip's default index (no host name is written here: pip's own configuration decides where
# it comes from, so mirrors and offline wheelhouses work through PIP_INDEX_URL / PIP_FIND_LINKS).
#
# Idempotent: every step is skipped when its result is already there, so running it twice costs
# nothing. This is a developer tool; CI does not need it (tests read committed golden files).
#
# Usage: scripts/build-llama.sh [--force] [--fetch-only] [--print-bin-dir]
#   --force          reconfigure and rebuild even if the binaries exist
#   --fetch-only     download and unpack the source, do not build
#   --print-bin-dir  print the directory holding the binaries and libllama.so, then exit
#                    (non-zero if it has not been built yet)
#
# Environment:
#   LLAMA_DIR                 cache folder (default ${XDG_CACHE_HOME:-~/.cache}/swiftgpt/llama.cpp)
#   LLAMA_CPP_PYTHON_VERSION  package version (default 0.3.36: the version the golden data uses)
#   JOBS                      parallel build jobs (default: nproc)
#   PYTHON                    python interpreter with pip (default python3)
#   CMAKE_EXTRA_ARGS          extra arguments for the cmake configure step (word-split)
#
# Layout under $LLAMA_DIR:
#   dist/                                   the downloaded sdist
#   llama_cpp_python-$VERSION/              the unpacked sdist (Python bindings: llama_cpp/)
#   llama_cpp_python-$VERSION/vendor/llama.cpp/build/bin/   binaries and shared libraries
#   bin -> llama_cpp_python-$VERSION/vendor/llama.cpp/build/bin  (stable symlink)
set -euo pipefail

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
LLAMA_DIR="${LLAMA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/swiftgpt/llama.cpp}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
PYTHON="${PYTHON:-python3}"
FORCE=0
FETCH_ONLY=0
PRINT_BIN=0

for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --fetch-only) FETCH_ONLY=1 ;;
        --print-bin-dir) PRINT_BIN=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "build-llama.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

SRC="$LLAMA_DIR/llama_cpp_python-$VERSION"
TREE="$SRC/vendor/llama.cpp"
BUILD="$TREE/build"
BIN="$BUILD/bin"
TARGETS=(llama-bench llama-tokenize llama-server llama-perplexity llama-quantize llama-batched-bench llama)
OUTPUTS=()
for t in "${TARGETS[@]}"; do
    if [[ $t == llama ]]; then OUTPUTS+=("$BIN/libllama.so"); else OUTPUTS+=("$BIN/$t"); fi
done

log() { echo "build-llama: $*" >&2; }

all_built() {
    local f
    for f in "${OUTPUTS[@]}"; do [[ -e "$f" ]] || return 1; done
}

if [[ $PRINT_BIN == 1 ]]; then
    if all_built; then echo "$BIN"; exit 0; fi
    log "not built yet under $LLAMA_DIR (run scripts/build-llama.sh)"
    exit 1
fi

mkdir -p "$LLAMA_DIR/dist"

# 1. Fetch the sdist (skipped when a tarball for this version is already in dist/).
find_sdist() {
    local f
    for f in "$LLAMA_DIR/dist/llama_cpp_python-$VERSION.tar.gz" "$LLAMA_DIR/dist/llama-cpp-python-$VERSION.tar.gz"; do
        [[ -f "$f" ]] && { echo "$f"; return 0; }
    done
    return 1
}
if [[ -d "$TREE" ]]; then
    log "source already unpacked: $SRC"
else
    if ! SDIST="$(find_sdist)"; then
        log "downloading llama-cpp-python==$VERSION source package"
        # pip's own index client fetches the archive without preparing its metadata (`pip download
        # --no-binary :all:` would first build cmake from source just to read it).
        "$PYTHON" - "llama-cpp-python" "$VERSION" "$LLAMA_DIR/dist" <<'PY'
import os, sys
from pip._internal.commands import create_command
from pip._vendor.packaging.specifiers import SpecifierSet
name, version, outdir = sys.argv[1:4]
cmd = create_command("download")
options, _ = cmd.parse_args([f"{name}=={version}", "--no-binary", ":all:", "--no-deps"])
with cmd.main_context():
    session = cmd.get_default_session(options)
    finder = cmd._build_package_finder(options, session, target_python=None, ignore_requires_python=False)
    link = finder.find_best_candidate(name, SpecifierSet(f"=={version}")).best_candidate.link
    response = session.get(link.url.split("#")[0])
    response.raise_for_status()
    with open(os.path.join(outdir, link.filename), "wb") as f:
        f.write(response.content)
PY
        SDIST="$(find_sdist)" || { log "pip download did not produce the expected tarball in $LLAMA_DIR/dist"; exit 1; }
    else
        log "using cached $SDIST"
    fi
    # 2. Unpack into a temporary folder, then move into place atomically.
    log "unpacking $SDIST"
    TMP="$(mktemp -d "$LLAMA_DIR/unpack.XXXXXX")"
    trap 'rm -rf "$TMP"' EXIT
    tar -xzf "$SDIST" -C "$TMP"
    UNPACKED="$(find "$TMP" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
    [[ -f "$UNPACKED/vendor/llama.cpp/CMakeLists.txt" ]] || { log "no vendor/llama.cpp in $SDIST"; exit 1; }
    rm -rf "$SRC"
    mv "$UNPACKED" "$SRC"
fi

if [[ $FETCH_ONLY == 1 ]]; then
    log "source ready: $SRC (--fetch-only: not building)"
    exit 0
fi

# cmake: the system's, else a wheel in a venv under $LLAMA_DIR (no compiler needed for it).
CMAKE="$(command -v cmake || true)"
if [[ -z $CMAKE ]]; then
    if [[ ! -x "$LLAMA_DIR/venv/bin/cmake" ]]; then
        log "installing cmake (PyPI wheel) into $LLAMA_DIR/venv"
        "$PYTHON" -m venv "$LLAMA_DIR/venv"
        "$LLAMA_DIR/venv/bin/pip" install -q cmake
    fi
    CMAKE="$LLAMA_DIR/venv/bin/cmake"
fi

# 3. Configure and build (skipped when all outputs exist, unless --force).
if [[ $FORCE == 0 ]] && all_built; then
    log "already built: $BIN"
else
    if [[ $FORCE == 1 || ! -f "$BUILD/CMakeCache.txt" ]]; then
        log "configuring $BUILD"
        # shellcheck disable=SC2086
        "$CMAKE" -S "$TREE" -B "$BUILD" \
            -DCMAKE_BUILD_TYPE=Release \
            -DBUILD_SHARED_LIBS=ON \
            -DGGML_NATIVE=ON \
            -DLLAMA_CURL=OFF \
            -DLLAMA_OPENSSL=OFF \
            -DLLAMA_BUILD_TESTS=OFF \
            -DLLAMA_BUILD_SERVER=ON \
            -DLLAMA_BUILD_EXAMPLES=OFF \
            -DLLAMA_BUILD_APP=OFF \
            -DLLAMA_BUILD_TOOLS=ON \
            ${CMAKE_EXTRA_ARGS:-}
    fi
    log "building ${TARGETS[*]} with $JOBS jobs"
    "$CMAKE" --build "$BUILD" --config Release -j "$JOBS" --target "${TARGETS[@]}"
    all_built || { log "build finished but outputs are missing: ${OUTPUTS[*]}"; exit 1; }
fi

ln -sfn "$BIN" "$LLAMA_DIR/bin"
log "done. binaries: $LLAMA_DIR/bin  (LD_LIBRARY_PATH=$LLAMA_DIR/bin, LLAMA_CPP_LIB_PATH=$LLAMA_DIR/bin)"
log "python bindings: PYTHONPATH=$SRC"
echo "$BIN"
