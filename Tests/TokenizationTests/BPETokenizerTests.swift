// BPETokenizer behaviour beyond the golden strings: merge order on a hand-made vocabulary, special-token
// partition and rendering, end-of-generation tokens, loading errors, and SmolLM2's metadata.

import Foundation
import GGUF
import Testing

@testable import Tokenization

@Suite("BPE tokenizer")
struct BPETokenizerTests {
    // MARK: - Hand-made vocabulary

    @Test("merges apply lowest rank first, leftmost on ties")
    func mergeOrder() throws {
        let t = try TinyVocab.tokenizer()
        // "abc": "a b" (rank 0) before "b c" (rank 1), then "ab c" (rank 2).
        #expect(t.encode("abc") == [TinyVocab.id("abc")])
        // "bc" alone merges by rank 1.
        #expect(t.encode("bcb") == [TinyVocab.id("bc"), TinyVocab.id("b")])
        // "abab": both "a b" pairs have rank 0: leftmost first, then the second.
        #expect(t.encode("abab") == [TinyVocab.id("ab"), TinyVocab.id("ab")])
        // " abc" = Ġ a b c: "a b" (0) beats "Ġ a" (3), then "ab c" (2); "Ġ ab" is no merge.
        #expect(t.encode(" abc") == [TinyVocab.id("Ġ"), TinyVocab.id("abc")])
        #expect(t.encode(" a") == [TinyVocab.id("Ġa")])
    }

    @Test("a merged symbol that is not a token falls back to its byte tokens")
    func fallback() throws {
        let t = try TinyVocab.tokenizer()
        #expect(t.encode("xx") == [TinyVocab.id("x"), TinyVocab.id("x")])
    }

    @Test("special tokens: control needs parseSpecial, user-defined never does, longest first")
    func partition() throws {
        let t = try TinyVocab.tokenizer()
        let end = TinyVocab.id("<|end|>")
        let user = TinyVocab.id("<|user|>")
        #expect(t.encode("ab<|end|>", parseSpecial: true) == [TinyVocab.id("ab"), end])
        #expect(!t.encode("ab<|end|>").contains(end))
        #expect(t.encode("<|user|>ab") == [user, TinyVocab.id("ab")])
        #expect(t.decode([end, user]) == "<|end|><|user|>")
        #expect(t.decode([end, user], renderSpecial: false) == "<|user|>")
        #expect(t.isEndOfGeneration(end))  // eos and "<|end|>" both
        #expect(!t.isEndOfGeneration(user))
    }

    @Test("loading errors name the problem")
    func errors() {
        #expect(throws: TokenizerError.badMerge(index: 1, line: "ab")) {
            try BPETokenizer(
                tokens: TinyVocab.tokens, tokenTypes: TinyVocab.types, merges: ["a b", "ab"],
                preTokenizer: "gpt-2", bos: nil, eos: nil, addBOS: false)
        }
        #expect(throws: TokenizerError.countMismatch(key: "tokenizer.ggml.token_type", tokens: 262, got: 3)) {
            try BPETokenizer(
                tokens: TinyVocab.tokens, tokenTypes: [1, 1, 1], merges: [], preTokenizer: "gpt-2",
                bos: nil, eos: nil, addBOS: false)
        }
        #expect(throws: TokenizerError.emptyVocabulary) {
            try BPETokenizer(
                tokens: [], tokenTypes: [], merges: [], preTokenizer: "gpt-2", bos: nil, eos: nil,
                addBOS: false)
        }
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(
                tokens: TinyVocab.tokens, tokenTypes: TinyVocab.types, merges: TinyVocab.merges,
                preTokenizer: "no-such-pre", bos: nil, eos: nil, addBOS: false)
        }
        #expect("\(TokenizerError.unsupportedModel("bert"))".contains("tokenizer.ggml.model = bert is not supported"))
    }

    @Test("BOS/EOS are added only when asked, out-of-range ids are dropped")
    func bosEos() throws {
        let t = try BPETokenizer(
            tokens: TinyVocab.tokens, tokenTypes: TinyVocab.types, merges: TinyVocab.merges,
            preTokenizer: "gpt-2", bos: 261, eos: 260, addBOS: true, addEOS: true)
        #expect(t.encode("ab") == [261, TinyVocab.id("ab"), 260])
        #expect(t.encode("") == [261, 260])
        let u = try BPETokenizer(
            tokens: TinyVocab.tokens, tokenTypes: TinyVocab.types, merges: TinyVocab.merges,
            preTokenizer: "gpt-2", bos: 9999, eos: -1, addBOS: true)
        #expect(u.bosID == nil && u.eosID == nil)
        #expect(u.encode("ab") == [TinyVocab.id("ab")])
    }

    @Test("one tokenizer encodes from many threads at once", .enabled(if: RealModel.isPresent, RealModel.absentReason))
    func concurrentUse() throws {
        let tokenizer = try #require(RealModel.loaded).tokenizer
        let texts = Golden.cases.map(\.text)
        let expected = texts.map { tokenizer.encode($0) }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: texts.count * 4) { i in
            let k = i % texts.count
            if tokenizer.encode(texts[k]) != expected[k] { results.fail(k) }
        }
        #expect(results.failures.isEmpty, "\(results.failures)")
    }

    /// Failures collected from concurrent iterations.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var failed: Set<Int> = []
        func fail(_ k: Int) { lock.withLock { _ = failed.insert(k) } }
        var failures: Set<Int> { lock.withLock { failed } }
    }

    // MARK: - GGUF glue

    func ggufTokenizer(_ edit: (inout GGUFWriter) -> Void) throws -> BPETokenizer {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("smollm"))
        w.set("tokenizer.ggml.tokens", .array(TinyVocab.tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(TinyVocab.types.map { .int32(Int32($0)) }))
        w.set("tokenizer.ggml.merges", .array(TinyVocab.merges.map { .string($0) }))
        w.set("tokenizer.ggml.eos_token_id", .uint32(260))
        edit(&w)
        return try BPETokenizer(gguf: GGUFFile(bytes: try w.serialized(), name: "tiny.gguf"))
    }

    @Test("GGUF metadata: defaults and refusals")
    func gguf() throws {
        let t = try ggufTokenizer { _ in }
        // smollm: "abc 12" -> "abc" " " "1" "2"
        #expect(t.encode("abc 12") == [TinyVocab.id("abc"), TinyVocab.id("Ġ"), TinyVocab.id("1"), TinyVocab.id("2")])
        #expect(t.eosID == 260 && t.bosID == 11)  // llama.cpp's BPE default BOS is 11
        #expect(!t.addBOS)
        #expect(t.preTokenizer?.name == "smollm")

        #expect(throws: TokenizerError.unsupportedModel("t5", preTokenizer: "smollm")) {
            try ggufTokenizer { $0.set("tokenizer.ggml.model", .string("t5")) }
        }
        #expect(throws: TokenizerError.missingKey("tokenizer.ggml.scores", file: "tiny.gguf")) {
            try ggufTokenizer { $0.set("tokenizer.ggml.model", .string("llama")) }
        }
        #expect(throws: TokenizerError.unknownPreTokenizer("qwen9", supported: PreTokenizer.supportedNames)) {
            try ggufTokenizer { $0.set("tokenizer.ggml.pre", .string("qwen9")) }
        }
    }

    // MARK: - SmolLM2

    @Test("SmolLM2 metadata and special tokens", .enabled(if: RealModel.isPresent, RealModel.absentReason))
    func smolLM2() throws {
        let t = try #require(RealModel.loaded).tokenizer
        #expect(t.vocabSize == 49152)
        #expect(t.bosID == 1 && t.eosID == 2 && !t.addBOS)
        #expect(t.preTokenizer?.name == "smollm")
        #expect(t.tokenID("<|im_end|>") == 2)
        #expect(t.tokenID("<|im_start|>") == 1)
        #expect(t.tokenID("no such token") == nil)
        // llama.cpp's EOG set for this vocabulary (its load log prints the same): <|endoftext|>, <|im_end|>, and
        // <reponame>, which llama.cpp takes for the FIM repo-name token.
        #expect(t.endOfGenerationTokens == [0, 2, 4])
        #expect(t.isEndOfGeneration(2) && !t.isEndOfGeneration(1))
        #expect(t.piece(2) == "<|im_end|>")
        #expect(t.decode([2], renderSpecial: false) == "")
        #expect(t.piece(19556) == "Hello")
        #expect(t.decode([-1, 99999]) == "")
    }
}
