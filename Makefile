# SwiftGPT: `make run` (install what is missing, build, fetch the default model, answer a question) and `make test`.
SWIFT ?= swift
GPT := .build/release/gpt
QUESTION ?= What is the capital of France? Answer in one sentence.

.PHONY: run test test-server deps build model bench clean fuzz test-sanitize mutate

run: deps build model
	$(GPT) chat --temperature 0 -n 96 --prompt "$(QUESTION)"

test: deps model
	$(SWIFT) build -c release --product gpt
	$(MAKE) test-server
	$(SWIFT) test
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

# `gpt serve` driven by the official openai client (its venv is made once, in the cache).
test-server:
	@python=$$(scripts/test-venv.sh) && $$python Tests/ServerTests/test_server.py

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product gpt

model:
	@scripts/fetch-model.sh

bench: build model
	$(GPT) bench -p 512 -n 128 -r 5 --backend openmp,blas

clean:
	rm -rf .build .build-fuzz .build-sanitize
