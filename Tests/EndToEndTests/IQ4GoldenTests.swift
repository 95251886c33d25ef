// IQ4_NL and IQ4_XS on a real model, against llama.cpp: the default model (Q4_1) requantized by llama.cpp's own
// `llama-quantize --allow-requantize MODEL OUT IQ4_NL|IQ4_XS` (IQ4_NL: 207 IQ4_NL matrices; IQ4_XS: 27 IQ4_XS, the
// FFN-down matrices, and 180 IQ4_NL, whose rows of 576 are not whole super-blocks of 256; both keep 3 Q5_K and a Q8_0
// token embedding). On every backend each file's greedy continuations of three prompts must equal llama.cpp's up to
// near-ties: a step may pick another token only where llama.cpp's top-1 leads that token by < 0.5 logits (it must be
// among llama.cpp's five most likely there), and the comparison ends at such a step (the texts diverge).
//
// Golden data: Golden/iq4.json, made by `scripts/make_quant_golden.py --types IQ4_NL,IQ4_XS --out
// Tests/EndToEndTests/Golden/iq4.json`: llama-quantize makes the files into the model cache's `variants/`, and
// llama.cpp runs on exactly those bytes (greedy: libllama through its ctypes bindings, F32 KV cache, flash attention
// off, with each step's five most likely tokens and their logits; plus llama-perplexity, whose values Benchmarks/results/iq4.md compares
// with `gpt perplexity`). The file's SHA-256 is recorded and checked here.
//
// SwiftGPT has no IQ4 quantizer, so the test cannot make the files itself: without them (a clean clone has no
// llama.cpp) it is skipped, with the command that makes them. The IQ4 kernels themselves are covered everywhere by
// CKernelsTests (golden dequantization from gguf-py, BlockFormatMatmulTests) and `gpt check` (BackendOpsTests).
import Foundation
import SwiftGPT
import Testing

/// iq4.json (scripts/make_quant_golden.py; quant.json's layout).
struct IQ4Golden: Decodable {
    struct Step: Decodable {
        var token: Int32
        var top5: [[Double]]  // [token, logit], most likely first
    }
    struct Prompt: Decodable {
        var name: String
        var prompt: String
        var parse_special: Bool
        var prompt_tokens: [Int32]
        var n_predict: Int
        var steps: [Step]
    }
    struct Variant: Decodable {
        var type: String
        var file: String
        var sha256: String
        var greedy: [Prompt]
    }
    var variants: [Variant]

    static let file: IQ4Golden = {
        let url = Bundle.module.url(forResource: "Golden/iq4", withExtension: "json")!
        return try! JSONDecoder().decode(IQ4Golden.self, from: Data(contentsOf: url))
    }()

    /// Where llama-quantize's files are (the shared model cache; never committed).
    static let folder = (ModelLocator.defaultModelPath as NSString).deletingLastPathComponent + "/variants"
    static func path(_ v: Variant) -> String { folder + "/" + v.file }
    static let present = file.variants.allSatisfy { FileManager.default.fileExists(atPath: path($0)) }
    static let missingReason: Comment = """
        needs llama-quantize's IQ4 files in \(folder): scripts/make_quant_golden.py --types IQ4_NL,IQ4_XS \
        --out Tests/EndToEndTests/Golden/iq4.json (needs llama.cpp, scripts/build-llama.sh)
        """

    /// Logits below llama.cpp's top-1 within which another pick counts as a near-tie (the team's rule).
    static let nearTie = 0.5

    /// The greedy rule: the first step where `produced` breaks it, or nil; `nearTie` tells where a near-tie ended
    /// the comparison.
    static func check(_ produced: [Int32], _ golden: Prompt) -> (mismatch: String?, nearTie: String?) {
        for (i, step) in golden.steps.enumerated() where produced.count <= i || produced[i] != step.token {
            if i >= produced.count { return ("stopped after \(produced.count) tokens", nil) }
            let top = step.top5.map { (token: Int32($0[0]), logit: $0[1]) }
            if let ours = top.first(where: { $0.token == produced[i] }), top[0].logit - ours.logit < nearTie {
                return (nil, "step \(i): llama.cpp's top-1 \(top[0].token) leads ours \(ours.token) by "
                        + "\(top[0].logit - ours.logit)")
            }
            return ("step \(i) produced \(produced[i]), llama.cpp \(step.token) (its top-5: \(top))", nil)
        }
        return (nil, nil)
    }
}

@Suite("IQ4 formats on the real model (llama.cpp)", .enabled(if: IQ4Golden.present, IQ4Golden.missingReason),
       .serialized)
struct IQ4GoldenTests {
    @Test("greedy continuations equal llama.cpp's up to near-ties on every backend",
          arguments: IQ4Golden.file.variants.map(\.type))
    func variant(_ type: String) throws {
        let golden = try #require(IQ4Golden.file.variants.first { $0.type == type })
        let path = IQ4Golden.path(golden)
        let sha = try TestModel.sha256(path)
        try #require(sha == golden.sha256, """
            \(path) has SHA-256 \(sha), but llama.cpp's golden data was computed on \(golden.sha256): \
            rerun scripts/make_quant_golden.py --types IQ4_NL,IQ4_XS --out Tests/EndToEndTests/Golden/iq4.json
            """)
        for backend in TestModel.backends {
            let be = try BackendRegistry.standard.make(backend, options: BackendOptions(threads: 2))
            let model = try LanguageModel(path: path, backend: be, nCtx: 128, kvFormat: .f32)
            for prompt in golden.greedy {
                let tokens = model.tokenizer.encode(prompt.prompt, parseSpecial: prompt.parse_special)
                #expect(tokens == prompt.prompt_tokens, "\(type) \(prompt.name): prompt tokens differ")
                model.executor.reset()
                var sampler = Sampler(.greedy)
                var produced: [Int32] = []
                try model.generate(prompt: tokens, maxTokens: prompt.n_predict, sampler: &sampler,
                                   stopAtEndOfGeneration: false) { id in
                    produced.append(id)
                    return !model.tokenizer.isEndOfGeneration(id)
                }
                let (mismatch, nearTie) = IQ4Golden.check(produced, prompt)
                if let mismatch {
                    let text = model.tokenizer.decode(produced).debugDescription
                    Issue.record("\(type) \(prompt.name) on \(backend): \(mismatch); text: \(text)")
                }
                if let nearTie { print("IQ4Golden: \(type) \(prompt.name) on \(backend): near-tie at \(nearTie)") }
            }
        }
    }
}
