# SwiftGPT: `make run` (install what is missing, build, fetch the default model, answer a question) and `make test`.
SWIFT ?= swift
GPT := .build/release/gpt
QUESTION ?= What is the capital of France? Answer in one sentence.

.PHONY: run test deps build model bench clean

run: deps build model
	$(GPT) chat --temperature 0 -n 96 --prompt "$(QUESTION)"

test: deps model
	$(SWIFT) build -c release --product gpt
	$(SWIFT) test

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product gpt

model:
	@scripts/fetch-model.sh

bench: build model
	$(GPT) bench -p 512 -n 128 -r 5 --backend openmp,blas

clean:
	rm -rf .build
