// End to end against llama.cpp: prompt tokens, greedy continuations and last-position logits of SmolLM2-135M
// Q4_1 must match the golden files made by llama.cpp (Golden/README.md), on every available backend.
import Foundation
import SwiftGPT
import Testing

@Suite("Golden (llama.cpp)", .enabled(if: TestModel.path != nil, TestModel.missingReason))
struct GoldenTests {
    @Test("greedy continuation equals llama.cpp's", arguments: TestModel.configurations)
    func greedyTokens(backend: String) throws {
        let model = try TestModel.load(configuration: backend)
        for golden in GoldenGreedy.file.prompts {
            let tokens = model.tokenizer.encode(golden.prompt, parseSpecial: golden.parse_special)
            #expect(tokens == golden.prompt_tokens, "\(golden.name): prompt tokens differ")
            model.executor.reset()
            var sampler = Sampler(.greedy)
            var produced: [Int32] = []
            try model.generate(prompt: tokens, maxTokens: golden.n_predict, sampler: &sampler,
                               stopAtEndOfGeneration: false) { id in
                produced.append(id)
                return !model.tokenizer.isEndOfGeneration(id)
            }
            if let mismatch = GoldenGreedy.firstMismatch(produced, golden) {
                Issue.record("\(golden.name) on \(backend): \(mismatch); text: \(model.tokenizer.decode(produced))")
            }
        }
    }

    @Test("last-position logits are close to llama.cpp's", arguments: TestModel.configurations)
    func logits(backend: String) throws {
        let model = try TestModel.load(configuration: backend)
        for golden in GoldenLogits.file.prompts {
            let tokens = model.tokenizer.encode(golden.prompt, parseSpecial: golden.parse_special)
            try #require(tokens == golden.prompt_tokens)
            model.executor.reset()
            let ours = try model.executor.forward(tokens)
            let theirs = golden.logits
            let e = nmse(ours, theirs)
            // Tolerance 3e-2. Products with activations quantized to 8 bits (llama.cpp's and our openmp backend's)
            // are discontinuous: one rounding flip in layer 0 grows through 30 layers, so two equally valid runs
            // (batched vs one token at a time, fused vs naive attention) differ by NMSE 2e-3 to 1e-2. Measured
            // against this file: openmp 1.2e-3 to 3.4e-3, blas and opencl (exact F32 products) 2.0e-3 to 1.6e-2.
            // Subtle bugs hide inside that noise, so they are caught by the op suite, the greedy tokens above and
            // the F32 reference test (ReferenceTests); this test catches gross errors (NMSE > 0.1).
            #expect(e < 3e-2, "\(golden.name) on \(backend): NMSE \(e), max |diff| \(maxAbsDiff(ours, theirs))")
            let top = Sampler.argmax(ours)
            let nearTie = golden.max - golden.second_value < 0.5
            #expect(top == golden.argmax || (nearTie && top == golden.second),
                    "\(golden.name) on \(backend): argmax \(top), llama.cpp \(golden.argmax)")
            // llama.cpp's five most likely tokens are among our ten most likely.
            let ourTop = Set(Sampler.partialTopK(ours, 10))
            let theirTop = Sampler.partialTopK(theirs, 5)
            #expect(theirTop.allSatisfy(ourTop.contains), "\(golden.name) on \(backend): top-5 \(theirTop) vs \(ourTop)")
        }
    }

    @Test("every pair of backends gives close logits",
          .enabled(if: TestModel.backends.count > 1, "only one backend is available here"))
    func backendsAgree() throws {
        let names = TestModel.backends
        let prompt = GoldenLogits.file.prompts[0]
        var results: [(String, [Float])] = []
        for name in names {
            let model = try TestModel.load(name)
            results.append((name, try model.executor.forward(prompt.prompt_tokens)))
        }
        for i in 0..<results.count {
            for j in (i + 1)..<results.count {
                let e = nmse(results[i].1, results[j].1)
                // Same tolerance as against llama.cpp, for the same reasons (measured: 1.5e-3 to 4.4e-3).
                #expect(e < 3e-2, "\(results[i].0) vs \(results[j].0): NMSE \(e)")
            }
        }
    }
}
