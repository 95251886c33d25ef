// Shared helpers of the end-to-end tests: where the model is, the golden files, and loaded models per backend.
import Foundation
import SwiftGPT
import Testing

enum TestModel {
    /// `sha256sum FILE` (coreutils): the golden files name the model files they were made from by it.
    static func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }

    /// The default model, when `make model` (or GPT_MODEL) has put it in place.
    static let path: String? = {
        let path = ModelLocator.defaultModelPath
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()

    static let missingReason: Comment = "the default model is not at \(ModelLocator.defaultModelPath): run `make model`"

    /// Backends available here; the tests run on each.
    static let backends = BackendRegistry.standard.availableNames()

    /// Loads the model on `backend`. The KV cache is F32 unless asked: the golden data (llama.cpp with an F32
    /// cache) and the float64 reference compare best with it; F16 caches have tests of their own.
    static func load(_ backend: String, nCtx: Int = 512, kvFormat: WeightFormat = .f32, file: String? = nil) throws
        -> LanguageModel
    {
        let be = try BackendRegistry.standard.make(backend, options: BackendOptions(threads: 2))
        return try LanguageModel(path: file ?? path!, backend: be, nCtx: nCtx, kvFormat: kvFormat)
    }

    /// (backend, KV cache format) pairs to run end-to-end tests on: every backend with F32, and F16 where supported.
    static let configurations: [String] = backends.flatMap { name -> [String] in
        let be = try? BackendRegistry.standard.make(name, options: BackendOptions(threads: 2))
        return be?.supports(.attention, .f16) == true ? [name + "/f32", name + "/f16"] : [name + "/f32"]
    }

    /// Loads a "backend/kv" configuration from `configurations`.
    static func load(configuration: String, nCtx: Int = 512) throws -> LanguageModel {
        let parts = configuration.split(separator: "/").map(String.init)
        return try load(parts[0], nCtx: nCtx, kvFormat: WeightFormat(rawValue: parts[1])!)
    }
}

/// greedy.json and logits.json, made by scripts/make_golden.py from llama.cpp (see Golden/README.md).
struct GoldenGreedy: Decodable {
    struct Step: Decodable {
        var token: Int32
        var top1_logit: Float
        var top2_token: Int32
        var top2_logit: Float
        var margin: Float
    }
    struct Prompt: Decodable {
        var name: String
        var prompt: String
        var parse_special: Bool
        var prompt_tokens: [Int32]
        var n_predict: Int
        var generated_tokens: [Int32]
        var generated_text: String
        var near_tie_steps: [Int]
        var steps: [Step]
    }
    var prompts: [Prompt]

    static let file = load("Golden/greedy")

    static func load(_ resource: String) -> GoldenGreedy {
        let url = Bundle.module.url(forResource: resource, withExtension: "json")!
        return try! JSONDecoder().decode(GoldenGreedy.self, from: Data(contentsOf: url))
    }

    /// The greedy rule (greedy.json "rules"): equal tokens everywhere except at a near-tie (llama.cpp's top-1
    /// leads its top-2 by < 0.5 logits), where picking llama.cpp's top-2 is allowed and ends the comparison.
    /// Returns the first disagreement that breaks the rule, or nil.
    static func firstMismatch(_ produced: [Int32], _ golden: Prompt) -> String? {
        for (i, step) in golden.steps.enumerated() {
            guard i < produced.count else { return "stopped after \(produced.count) tokens" }
            if produced[i] == step.token { continue }
            if golden.near_tie_steps.contains(i) && produced[i] == step.top2_token { return nil }
            return "step \(i) produced \(produced[i]), llama.cpp \(step.token) (margin \(step.margin))"
        }
        return nil
    }
}

/// quant.json and iq4.json (scripts/make_quant_golden.py): per file type, the file llama.cpp ran (name, SHA-256)
/// and its greedy continuations, with llama.cpp's five best [token, logit] at every step. The rule applied to them is
/// QuantGolden's (QuantGoldenTests.swift).
struct Top5Golden: Decodable {
    /// One of llama.cpp's best candidates at a step: JSON `[token, logit]`.
    struct Candidate: Decodable {
        var token: Int32
        var logit: Float
        init(from decoder: any Decoder) throws {
            var pair = try decoder.unkeyedContainer()
            token = try pair.decode(Int32.self)
            logit = try pair.decode(Float.self)
        }
        init(_ token: Int32, _ logit: Float) { (self.token, self.logit) = (token, logit) }
    }
    struct Step: Decodable {
        var token: Int32
        var top5: [Candidate]  // llama.cpp's five highest logits, highest first
    }
    struct Prompt: Decodable {
        var name: String
        var prompt: String
        var parse_special: Bool
        var prompt_tokens: [Int32]
        var steps: [Step]
    }
    struct Variant: Decodable {
        var type, file, sha256: String  // file type (llama.cpp's name), file name, the file's SHA-256
        var greedy: [Prompt]
    }
    var variants: [Variant]

    static func load(_ resource: String) -> Top5Golden {
        let url = Bundle.module.url(forResource: resource, withExtension: "json")!
        return try! JSONDecoder().decode(Top5Golden.self, from: Data(contentsOf: url))
    }

    func variant(_ type: String) -> Variant { variants.first { $0.type == type }! }
}

struct GoldenLogits: Decodable {
    struct Prompt: Decodable {
        var name: String
        var prompt: String
        var parse_special: Bool
        var prompt_tokens: [Int32]
        var argmax: Int
        var max: Float
        var second: Int
        var second_value: Float
        var logits_f32le_b64: String

        var logits: [Float] {
            let data = Data(base64Encoded: logits_f32le_b64)!
            return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
    }
    var prompts: [Prompt]

    static let file = load("Golden/logits")

    static func load(_ resource: String) -> GoldenLogits {
        let url = Bundle.module.url(forResource: resource, withExtension: "json")!
        return try! JSONDecoder().decode(GoldenLogits.self, from: Data(contentsOf: url))
    }
}

/// Σ(a-b)² / Σb², the suite's normalised error.
func nmse(_ a: [Float], _ b: [Float]) -> Double { OpCheck.nmse(a, b) }

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
