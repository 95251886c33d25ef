// Every vocabulary SwiftGPT claims encodes exactly as llama.cpp does: llama.cpp's own vocabulary test files
// (models/ggml-vocab-NAME.gguf with .inp strings; SentencePiece, Llama 3, Qwen2, DeepSeek LLM/Coder, Falcon, GPT-2,
// MPT, StarCoder, Refact, Command-R) and Gemma 3 270M's real 262,144-token vocabulary, on llama.cpp's test strings
// and on the hard strings of make_golden.py (emoji, CJK, whitespace runs, numbers, special-token look-alikes).
//
// The golden data (Golden/vocab/NAME.json, made by Golden/make_vocab_golden.py, see Golden/README.md) holds the ids
// and detokenized text llama.cpp produced and a compact extract of each vocabulary: every token and merge that can
// take part in tokenizing those strings. The test rebuilds a GGUF from the extract (the other ids hold placeholders
// that no input can form), so `make test` needs neither llama.cpp nor the large vocabulary files. When the real
// files are on this machine (llama.cpp's source tree or the Gemma model in the cache), they are checked too.

import Foundation
import GGUF
import Testing

@testable import Tokenization

@Suite("llama.cpp vocabularies")
struct VocabGoldenTests {
    static let names = [
        "llama-spm", "phi-3", "gemma3", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder", "falcon", "gpt-2",
        "mpt", "starcoder", "refact", "command-r",
    ]

    @Test("the extract encodes and detokenizes as llama.cpp", arguments: names)
    func extract(_ name: String) throws {
        let golden = try VocabGolden.load(name)
        #expect(golden.cases.count >= 40, "\(name): too few cases")
        let tokenizer = try Tokenizer(gguf: GGUFFile(bytes: try golden.extractGGUF(), name: "\(name)-extract.gguf"))
        #expect(tokenizer.vocabSize == golden.nVocab)
        check(tokenizer, golden)
    }

    @Test(
        "the whole vocabulary file encodes as llama.cpp", .enabled(if: VocabGolden.fullFilesPresent, VocabGolden.absent),
        arguments: names)
    func wholeFile(_ name: String) throws {
        let golden = try VocabGolden.load(name)
        guard let path = VocabGolden.fullPath(name) else { return }  // the other file of the pair is absent
        check(try Tokenizer(gguf: GGUFFile(path: path)), golden)
    }

    func check(_ tokenizer: Tokenizer, _ golden: VocabGolden) {
        for c in golden.cases {
            let got = tokenizer.encode(c.text, parseSpecial: c.parseSpecial, addSpecial: c.addSpecial)
            if got != c.ids {
                let i = zip(got, c.ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                Issue.record(
                    """
                    \(golden.name) / \(c.name) \(c.text.debugDescription): first difference at \
                    \(i ?? min(got.count, c.ids.count))
                      got      \(got)
                      expected \(c.ids)
                      got pieces      \(got.map { tokenizer.tokenText($0) ?? "?" })
                      expected pieces \(c.ids.map { tokenizer.tokenText($0) ?? "?" })
                    """)
            }
            if let text = c.detokenized {
                let back = tokenizer.detokenize(c.ids)
                #expect(back == text, "\(golden.name) / \(c.name): detokenize")
            }
        }
    }

    @Test("kinds SwiftGPT does not read fail by name", arguments: [("bert", "bert-bge"), ("gemma4", "gemma4"), ("t5", nil)])
    func unsupportedKind(_ model: String, _ pre: String?) throws {
        var w = GGUFWriter()
        w.set("tokenizer.ggml.model", .string(model))
        if let pre { w.set("tokenizer.ggml.pre", .string(pre)) }
        w.set("tokenizer.ggml.tokens", .array([.string("a")]))
        let error = #expect(throws: TokenizerError.self) { try Tokenizer(gguf: GGUFFile(bytes: try w.serialized())) }
        #expect(error == .unsupportedModel(model, preTokenizer: pre))
        #expect("\(error.map { "\($0)" } ?? "")".contains("tokenizer.ggml.model = \(model)"))
    }

    @Test("a BPE pre-tokenizer SwiftGPT does not implement fails by name (llama.cpp's qwen35 vocabulary)")
    func unsupportedPre() throws {
        var w = GGUFWriter()
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("qwen35"))
        w.set("tokenizer.ggml.tokens", .array([.string("a")]))
        w.set("tokenizer.ggml.merges", .array([]))
        let error = #expect(throws: TokenizerError.self) { try Tokenizer(gguf: GGUFFile(bytes: try w.serialized())) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("tokenizer.ggml.pre = 'qwen35'"))
        // The real files, when llama.cpp's tree is here: WordPiece, Gemma 4's BPE and Qwen 3.5 are refused by name.
        for (name, kind) in [("bert-bge", "bert"), ("gemma-4", "gemma4"), ("qwen35", "qwen35")] {
            let path = "\(VocabGolden.llamaModels)/ggml-vocab-\(name).gguf"
            guard FileManager.default.isReadableFile(atPath: path) else { continue }
            let e = #expect(throws: TokenizerError.self) { try Tokenizer(gguf: GGUFFile(path: path)) }
            #expect("\(e.map { "\($0)" } ?? "")".contains(kind), "\(name)")
        }
    }

    @Test("Gemma 3: BOS, no space prefix, user-defined whitespace tokens, byte fallback")
    func gemmaBehaviour() throws {
        let golden = try VocabGolden.load("gemma3")
        let t = try Tokenizer(gguf: GGUFFile(bytes: try golden.extractGGUF(), name: "gemma3-extract.gguf"))
        #expect(t.kind == .sentencePiece && t.addBOS && !t.addSpacePrefix && t.bosID == 2 && t.eosID == 1)
        #expect(t.isEndOfGeneration(try #require(t.tokenID("<end_of_turn>"))))
        #expect(t.encode("").isEmpty == false && t.encode("") == [2])
        // "<start_of_turn>" is a control token: matched only when special tokens are parsed.
        let turn = try #require(t.tokenID("<start_of_turn>"))
        #expect(t.encode("<start_of_turn>user", parseSpecial: true).dropFirst().first == turn)
        #expect(!t.encode("<start_of_turn>user", parseSpecial: false).contains(turn))
        // U+10FFFD (private use) has no token: its four UTF-8 bytes come out as <0xXX> tokens and decode back.
        let ids = t.encode("\u{10FFFD}", addSpecial: false)
        #expect(ids.count == 4 && ids.allSatisfy { t.tokenText($0)?.hasPrefix("<0x") == true })
        #expect(t.decode(ids) == "\u{10FFFD}")
    }

    @Test("SentencePiece ids stream back as whole characters (byte tokens, ▁ spaces)", arguments: ["gemma3", "llama-spm"])
    func streaming(_ name: String) throws {
        let golden = try VocabGolden.load(name)
        let t = try Tokenizer(gguf: GGUFFile(bytes: try golden.extractGGUF(), name: "\(name)-extract.gguf"))
        for c in golden.cases where !c.parseSpecial {
            var decoder = StreamingDecoder(tokenizer: t, renderSpecial: false)
            var chunks: [String] = []
            for id in c.ids { chunks.append(decoder.append(id)) }
            chunks.append(decoder.flush())
            #expect(!chunks.contains { $0.unicodeScalars.contains("\u{FFFD}") }, "\(name) / \(c.name): split character")
            #expect(chunks.joined() == t.decode(c.ids, renderSpecial: false), "\(name) / \(c.name)")
        }
    }
}

// MARK: - Golden file

/// One Golden/vocab/NAME.json.
struct VocabGolden {
    struct Case {
        let name: String
        let text: String
        let addSpecial: Bool
        let parseSpecial: Bool
        let ids: [Int32]
        let detokenized: String?
    }

    let name: String
    let source: String
    let generalName: String?
    let nVocab: Int
    /// tokenizer.ggml.* scalar keys (model, pre, *_token_id, add_*).
    let metadata: [String: Any]
    /// (id, text, type, score?) of the extracted tokens.
    let tokens: [(id: Int, text: String, type: Int, score: Float?)]
    /// (rank, "left right") of the extracted merges, in rank order.
    let merges: [String]
    let cases: [Case]

    static func load(_ name: String) throws -> VocabGolden {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Golden/vocab"),
            "Golden/vocab/\(name).json missing from the test bundle")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let tokens = try #require(root["tokens"] as? [[Any]]).map { row in
            (
                id: row[0] as? Int ?? -1, text: row[1] as? String ?? "", type: row[2] as? Int ?? 0,
                score: row.count > 3 ? (row[3] as? NSNumber)?.floatValue : nil
            )
        }
        let cases = try #require(root["cases"] as? [[String: Any]]).map { c in
            Case(
                name: c["name"] as? String ?? "?", text: c["text"] as? String ?? "",
                addSpecial: c["add_special"] as? Bool ?? false, parseSpecial: c["parse_special"] as? Bool ?? false,
                ids: (c["ids"] as? [Int] ?? []).map { Int32($0) }, detokenized: c["detokenized"] as? String)
        }
        return VocabGolden(
            name: name, source: root["source"] as? String ?? "", generalName: root["general_name"] as? String,
            nVocab: root["n_vocab"] as? Int ?? 0, metadata: root["metadata"] as? [String: Any] ?? [:],
            tokens: tokens, merges: (root["merges"] as? [[Any]] ?? []).compactMap { $0[1] as? String },
            cases: cases)
    }

    /// A GGUF holding the extract: the file's tokenizer keys, the extracted tokens at their ids, and a placeholder
    /// ("\u{1}\u{2}#" + id, type unused) at every other id; no test string holds "\u{1}\u{2}".
    func extractGGUF() throws -> [UInt8] {
        var texts = (0..<nVocab).map { "\u{1}\u{2}#\($0)" }
        var types = [Int32](repeating: 5, count: nVocab)
        var scores = [Float](repeating: 0, count: nVocab)
        for t in tokens {
            texts[t.id] = t.text
            types[t.id] = Int32(t.type)
            scores[t.id] = t.score ?? 0
        }
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        if let generalName { w.set("general.name", .string(generalName)) }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            let full = "tokenizer.ggml." + key
            if let s = value as? String {
                w.set(full, .string(s))
            } else if key.hasPrefix("add_"), let b = value as? Bool {
                w.set(full, .bool(b))  // add_bos_token, add_eos_token, add_space_prefix, add_sep_token
            } else if key.hasSuffix("_id"), let n = value as? Int, let id = UInt32(exactly: n) {
                w.set(full, .uint32(id))
            }
        }
        w.set("tokenizer.ggml.tokens", .array(texts.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(types.map { .int32($0) }))
        if tokens.first?.score != nil { w.set("tokenizer.ggml.scores", .array(scores.map { .float32($0) })) }
        if metadata["model"] as? String == "gpt2" { w.set("tokenizer.ggml.merges", .array(merges.map { .string($0) })) }
        return try w.serialized()
    }

    // MARK: - The real files

    static let cache: String = {
        let env = ProcessInfo.processInfo.environment
        return env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.cache"
    }()
    static let llamaModels = cache + "/swiftgpt/llama.cpp/llama_cpp_python-0.3.36/vendor/llama.cpp/models"

    /// The vocabulary file the golden data was made from, when it is on this machine.
    static func fullPath(_ name: String) -> String? {
        let path =
            name == "gemma3"
            ? cache + "/swiftgpt/models/gemma-3-270m-q4_k_m.gguf" : "\(llamaModels)/ggml-vocab-\(name).gguf"
        return FileManager.default.isReadableFile(atPath: path) ? path : nil
    }

    static var fullFilesPresent: Bool { fullPath("llama-spm") != nil || fullPath("gemma3") != nil }
    static let absent: Comment =
        "neither llama.cpp's source tree nor the Gemma 3 model is in ~/.cache/swiftgpt (the extracts still run)"
}
