// Tiny seeded models of each architecture against llama.cpp, on every backend. Golden/tiny/<arch>.gguf.data is a
// GGUF with random F32 weights (fixed numpy seed, 2 layers, width 64, a 265-token byte-level vocabulary) written by
// scripts/make_tiny_models.py with llama.cpp's gguf-py; Golden/tiny/<arch>.json holds what llama.cpp (libllama via
// ctypes, CPU, F32 KV cache) computed on that file for three prompts given as token ids (3, 11 and 30 tokens): the
// last prompt position's logits and a 16-token greedy continuation with each step's top-1/top-2 margin.
// Regenerate both with `scripts/make_tiny_models.py ARCH` (needs llama.cpp; the tests do not).
import Foundation
import SwiftGPT
import Testing

/// Golden/tiny/<arch>.json.
struct TinyGolden: Decodable {
    struct Step: Decodable {
        var token: Int32
        var top2_token: Int32
        var margin: Float
    }
    struct Prompt: Decodable {
        var name: String
        var prompt_tokens: [Int32]
        var argmax: Int
        var max: Float
        var second: Int
        var second_value: Float
        var logits: [Float]
        var greedy: [Step]
        var near_tie_steps: [Int]
    }
    /// The file's name under Golden/tiny, and its general.architecture.
    var architecture: String
    var gguf_architecture: String
    var n_ctx: Int
    var prompts: [Prompt]

    static func load(_ arch: String) throws -> TinyGolden {
        let url = try #require(Bundle.module.url(forResource: "Golden/tiny/\(arch)", withExtension: "json"))
        return try JSONDecoder().decode(TinyGolden.self, from: Data(contentsOf: url))
    }

    /// The model file next to it.
    static func modelPath(_ arch: String) throws -> String {
        try #require(Bundle.module.url(forResource: "Golden/tiny/\(arch).gguf", withExtension: "data")).path
    }
}

@Suite("Tiny seeded models (llama.cpp)")
struct TinyArchitectureTests {
    /// Architectures with a tiny model; × every backend.
    static let archs = ["qwen2", "llama3", "phi3", "phi3_long", "phi3_split"]
    static let cases = archs.flatMap { arch in TestModel.backends.map { (arch, $0) } }

    static func executor(_ arch: String, _ backend: String, _ golden: TinyGolden) throws -> TransformerExecutor {
        let be = try BackendRegistry.standard.make(backend, options: BackendOptions(threads: 2))
        let file = try GGUFFile(path: try TinyGolden.modelPath(arch))
        let architecture = try Architectures.make(file)
        #expect(architecture.config.architecture == golden.gguf_architecture)
        return try TransformerExecutor(architecture: architecture, source: file, backend: be, nCtx: golden.n_ctx,
                                       kvFormat: .f32)
    }

    @Test("last-position logits and greedy tokens equal llama.cpp's", arguments: cases)
    func matchesLlamaCpp(arch: String, backend: String) throws {
        let golden = try TinyGolden.load(arch)
        let ex = try Self.executor(arch, backend, golden)
        for prompt in golden.prompts {
            ex.reset()
            var logits = try ex.forward(prompt.prompt_tokens)
            // F32 weights and caches on both sides: what differs is summation order (NMSE 5e-14 to 4e-13 on all
            // three backends). Running llama3 without its RoPE factors gives NMSE 1e-3 to 1.5e-2 and other greedy
            // tokens; a missing bias or the wrong RoPE pairing changes every position.
            let e = nmse(logits, prompt.logits)
            print("\(arch) \(prompt.name) on \(backend): NMSE \(e)")
            #expect(e < 1e-8, "\(arch) \(prompt.name) on \(backend): NMSE \(e)")
            let top = Sampler.argmax(logits)
            #expect(top == prompt.argmax || (prompt.max - prompt.second_value < 0.5 && top == prompt.second),
                    "\(arch) \(prompt.name) on \(backend): argmax \(top), llama.cpp \(prompt.argmax)")
            // greedy: equal tokens, except that at a near-tie (margin < 0.5) llama.cpp's runner-up may be picked,
            // which ends the comparison
            for (i, step) in prompt.greedy.enumerated() {
                let token = Int32(Sampler.argmax(logits))
                if token != step.token {
                    #expect(prompt.near_tie_steps.contains(i) && token == step.top2_token,
                            "\(arch) \(prompt.name) on \(backend): step \(i) produced \(token), llama.cpp \(step.token) (margin \(step.margin))")
                    break
                }
                if i + 1 < prompt.greedy.count { logits = try ex.forward([token]) }
            }
        }
    }

    @Test("the parameter count covers every tensor of the file once", arguments: archs)
    func parameterCount(arch: String) throws {
        let file = try GGUFFile(path: try TinyGolden.modelPath(arch))
        try expectCountsEveryTensor(file)
    }

    @Test("phi3_split holds separate attn_q/attn_k/attn_v where phi3 holds attn_qkv")
    func phi3Split() throws {
        let split = try GGUFFile(path: try TinyGolden.modelPath("phi3_split"))
        let fused = try GGUFFile(path: try TinyGolden.modelPath("phi3"))
        #expect(split.tensor("blk.0.attn_qkv.weight") == nil && split.tensor("blk.1.attn_q.weight") != nil)
        #expect(fused.tensor("blk.0.attn_qkv.weight") != nil && fused.tensor("blk.1.attn_q.weight") == nil)
    }

    @Test("Phi-3 picks its LongRoPE factors as llama.cpp does, by the context rounded up to 256")
    func phi3Factors() throws {
        let file = try GGUFFile(path: try TinyGolden.modelPath("phi3_long"))
        let phi3 = try #require(try Architectures.make(file) as? Phi3)
        #expect(phi3.originalContext == 128 && abs(phi3.ropeAttentionFactor - 1.19523) < 1e-4)
        #expect(phi3.usesLongFactors(nCtx: 64))  // llama.cpp runs 256 positions
        let mini128k = Phi3(config: phi3.config, originalContext: 4096)
        #expect(!mini128k.usesLongFactors(nCtx: 4096) && mini128k.usesLongFactors(nCtx: 4097))
        #expect(!mini128k.usesLongFactors(nCtx: 1))
    }

    @Test("a RoPE scaling factor is refused, naming the key, and a factor of 1 accepted")
    func ropeScalingRefused() throws {
        let source = try GGUFFile(path: try TinyGolden.modelPath("llama3"))
        for (factor, refused) in [(Float(8), true), (1, false)] {
            var w = GGUFWriter()
            for key in source.metadataKeys { w.set(key, source.metadata[key]!) }
            w.set("llama.rope.scaling.factor", .float32(factor))
            let file = try GGUFFile(bytes: try w.serialized())
            if refused {
                #expect { _ = try Architectures.make(file) } throws: {
                    "\($0)".contains("llama.rope.scaling.factor") && "\($0)".contains("not supported")
                }
            } else {
                #expect(try Architectures.make(file).config.architecture == "llama")
            }
        }
    }
}

/// The architecture's parameter count of `file` (the lessons' groups plus the left-out weights) equals the sum of
/// the file's tensor element counts: every tensor counted, none twice (a tied unembedding is the embedding).
func expectCountsEveryTensor(_ file: GGUFFile, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let count = try Architectures.make(file).parameterCount(file)
    let elements = file.tensors.reduce(0) { $0 + $1.elementCount }
    let groups = count.leftOut.map(\.name)
    #expect(count.total + count.leftOutTotal == elements,
            "\(file.path): counted \(count.total) + \(count.leftOutTotal) left out (\(groups)); the file holds \(elements)",
            sourceLocation: sourceLocation)
}
