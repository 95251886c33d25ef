// The tiny GPT-2 on every backend and in every format against the numpy reference (scripts/make_tiny_gpt2.py):
// logits at every prompt position, the last position after one batched prefill, and the greedy continuation.
import Foundation
import SwiftGPT
import Testing

@Suite("GPT-2 against the numpy reference")
struct GPT2ReferenceTests {
    static let ref = Reference.file

    @Test(
        "logits at every position (one token per forward call, through the KV cache)",
        arguments: ModelFormat.allCases, backends)
    func logitsPerPosition(_ format: ModelFormat, backend: String) throws {
        let model = try openModel(format, backend: backend)
        #expect(model.config.architecture == "gpt2")
        #expect(model.config.nVocab == Self.ref.n_vocab)
        var worst = 0.0
        for (i, token) in Self.ref.prompt_tokens.enumerated() {
            let logits = try model.executor.forward([token])
            let e = nmse(logits, Self.ref.logits[i])
            worst = max(worst, e)
            #expect(e <= format.maxNMSE, "\(format) on \(backend): position \(i) NMSE \(e) > \(format.maxNMSE)")
        }
        print("GPT2 \(format) \(backend): worst per-position NMSE \(worst) (threshold \(format.maxNMSE))")
    }

    @Test("last-position logits after a batched prefill", arguments: ModelFormat.allCases, backends)
    func batchedPrefill(_ format: ModelFormat, backend: String) throws {
        let model = try openModel(format, backend: backend)
        let logits = try model.executor.forward(Self.ref.prompt_tokens)
        let e = nmse(logits, Self.ref.logits[Self.ref.prompt_tokens.count - 1])
        #expect(e <= format.maxNMSE, "\(format) on \(backend): NMSE \(e) > \(format.maxNMSE)")
    }

    @Test("greedy continuation equals the reference's", arguments: ModelFormat.allCases, backends)
    func greedy(_ format: ModelFormat, backend: String) throws {
        let model = try openModel(format, backend: backend)
        var sampler = Sampler(SamplingOptions.greedy)
        var produced: [Int32] = []
        try model.generate(prompt: Self.ref.prompt_tokens, maxTokens: Self.ref.greedy.count, sampler: &sampler) {
            produced.append($0)
            return true
        }
        let expected = Self.ref.greedy.map(\.token)
        if format.exactGreedy {
            #expect(produced == expected, "\(format) on \(backend)")
        } else {
            // q4_0 errors exceed the smallest reference margin (0.21): only the first, widest step must agree
            #expect(produced.first == expected.first, "\(format) on \(backend): \(produced) vs \(expected)")
        }
    }

    @Test("a GGUF converted from the folder gives the folder's logits, bit for bit", arguments: backends)
    func convertedF32MatchesFolder(backend: String) throws {
        let folder = try openModel(.folderF32, backend: backend)
        let gguf = try openModel(.ggufF32, backend: backend)
        let a = try folder.executor.forward(Self.ref.prompt_tokens)
        let b = try gguf.executor.forward(Self.ref.prompt_tokens)
        #expect(a == b, "\(backend): folder and converted GGUF disagree")
    }
}
