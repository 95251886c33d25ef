# SwiftGPT: `make run` (install what is missing, build, fetch the default model, answer a question) and `make test`.
SWIFT ?= swift
GPT := .build/release/gpt
# The release CLI links the Swift runtime and Foundation statically: ~5 MiB less peak RSS than the shared libraries'
# resident pages (Benchmarks/results/peak-rss.md), same speed, and a binary that runs without a Swift toolchain.
RELEASE := -c release --product gpt --static-swift-stdlib
QUESTION ?= What is the capital of France? Answer in one sentence.

.PHONY: run test test-server deps build model bench clean fuzz test-sanitize test-kernels-sanitized mutate

run: deps build model
	$(GPT) chat --temperature 0 -n 96 --prompt "$(QUESTION)"

# Real-model golden suites whose synchronous forward passes hold both cooperative threads for minutes: run on their
# own after the rest, so that they cannot starve the async scheduler tests past their time limits (seen in CI:
# SchedulerTests' drain test exceeded 300 s while QuantGoldenTests and IQ4GoldenTests ran beside it).
SOLO_SUITES := QuantGoldenTests|IQ4GoldenTests

test: deps model
	$(MAKE) -j2 test-kernels-sanitized
	$(SWIFT) build $(RELEASE)
	$(MAKE) test-server
	$(SWIFT) test --skip '$(SOLO_SUITES)'
	$(SWIFT) test --skip-build --filter '$(SOLO_SUITES)'
	python3 scripts/mutate-models.py --gpt $(GPT)

# Corrupted GGUF files and HF folders derived from the tiny GPT-2, each run by gpt under a memory cap and timeout.
mutate:
	python3 scripts/mutate-models.py --gpt $(GPT)

# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of one FuzzTarget: gguf, safetensors, hfconfig, tokenizer
# or chat. Runs until stopped, or FUZZ_SECONDS. New inputs go to .build-fuzz/corpus/TARGET; a crash is written to
# Fuzz/regressions/TARGET/, where FuzzRegressionTests replays it once it is fixed (commit it).
FUZZ_TARGET ?= gguf
FUZZ_SECONDS ?= 0
FUZZ_BUILD := --scratch-path .build-fuzz -c release --product gpt-fuzz -Xswiftc -sanitize=fuzzer,address \
	-Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
fuzz:
	$(SWIFT) build $(FUZZ_BUILD)
	mkdir -p .build-fuzz/corpus/$(FUZZ_TARGET) Fuzz/regressions/$(FUZZ_TARGET)
	GPT_FUZZ_TARGET=$(FUZZ_TARGET) .build-fuzz/release/gpt-fuzz .build-fuzz/corpus/$(FUZZ_TARGET) \
		Fuzz/corpus/$(FUZZ_TARGET) -artifact_prefix=Fuzz/regressions/$(FUZZ_TARGET)/ -max_len=65536 \
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -detect_leaks=0
# (-detect_leaks=0: Foundation's FileManager.contents leaks a 4 KiB buffer per empty file read, seen by hfconfig.)

# AddressSanitizer (Swift and C) + UndefinedBehaviorSanitizer (the C kernels) over the suites that run the parsers,
# kernels and the tiny model; the real-model, OpenCL, CLI and op-suite tests are left out for time (see README).
# (Swift on Linux has no -sanitize=undefined: UBSan covers the C kernels, whose handlers the ASan runtime carries.)
SANITIZE := --scratch-path .build-sanitize --sanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize=function
SANITIZE_FILTER ?= GGUFTests|CKernelsTests|GPTEngineTests|GPT2Tests|TokenizationTests
# Timing tests mean nothing at ASan's speed. use_sigaltstack=0: ASan unmaps whatever alternate signal stack a thread
# has at exit, even one another component installed (the Swift runtime, LLVM inside PoCL), and then dies in its own
# runtime (google/sanitizers#1152): that stopped a run with no finding of ours.
SANITIZE_SKIP ?= PerformanceTests|GGUFRealModelTests/speed
test-sanitize: deps
	$(SWIFT) build --build-tests $(SANITIZE)
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:use_sigaltstack=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(SWIFT) test --skip-build $(SANITIZE) --filter '$(SANITIZE_FILTER)' --skip '$(SANITIZE_SKIP)'

# Every C kernel against its scalar reference under AddressSanitizer + UndefinedBehaviorSanitizer, at every SIMD level
# and on 1-3 threads, buffers at their exact sizes (Tests/KernelSanitize/kernel-check.c). The CI-sized part of the
# sanitizer runs: the C kernels are where the pointer arithmetic is; test-sanitize (the Swift suites under ASan too)
# needs a full debug build of the package plus ~11 min of tests, too long for every CI run. -O0: at -O1 ASan makes the
# fully unrolled SIMD tiles take tens of minutes to compile; the cases are small, so speed does not matter.
# -DCK_HELPERS_NOT_INLINED: the intrinsic kernels' helpers as calls (ck_internal.h), else matmul_avx2.c alone needs
# over 20 GB of memory to compile under ASan at -O0.
OMP_HOME = $(patsubst %/,%,$(dir $(lastword $(sort $(wildcard /usr/lib/llvm-*/lib/clang/*/include/omp.h)))))
OMP_LIBDIR = $(patsubst %/,%,$(dir $(lastword $(sort $(wildcard /usr/lib/llvm-*/lib/libomp.so)))))
KC_FLAGS := -g -O0 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -ffp-contract=fast \
	-fno-math-errno -fopenmp -I$(OMP_HOME) -ICKernels/include -DCK_HELPERS_NOT_INLINED
KC_SRC := $(wildcard CKernels/*.c CKernels/ref/*.c CKernels/cpu/*.c CKernels/calibrate/*.c) Tests/KernelSanitize/kernel-check.c
KC_OBJ := $(patsubst %.c,.build-kernel-check/%.o,$(KC_SRC))
.build-kernel-check/%.o: %.c $(wildcard CKernels/include/*.h CKernels/*.h CKernels/cpu/*.h)
	@mkdir -p $(dir $@)
	clang $(KC_FLAGS) -c $< -o $@
.build-kernel-check/kernel-check: $(KC_OBJ)
	clang $(KC_FLAGS) $^ -o $@ -L$(OMP_LIBDIR) -Wl,-rpath,$(OMP_LIBDIR) -lomp -lm
test-kernels-sanitized: .build-kernel-check/kernel-check
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $<

# `gpt serve` driven by the official openai client (its venv is made once, in the cache).
test-server:
	@python=$$(scripts/test-venv.sh) && $$python Tests/ServerTests/test_server.py

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build $(RELEASE)

model:
	@scripts/fetch-model.sh

bench: build model
	$(GPT) bench -p 512 -n 128 -r 5 --backend openmp,blas

clean:
	rm -rf .build .build-fuzz .build-sanitize .build-kernel-check
