// HFVocabulary: a GPT-2 byte-level BPE vocabulary read from a Hugging Face folder, in the arrays GGUF stores
// (tokenizer.ggml.tokens / token_type / merges), so the same values build a BPETokenizer or go into a GGUF file.
// Sources, first found wins:
//   tokenizer.json  model.vocab {text: id}, model.merges ["a b"] or [["a", "b"]], added_tokens [{id, content, special}]
//   vocab.json + merges.txt (+ tokenizer_config.json's added_tokens_decoder, if present)
// Token types follow llama.cpp's converter: 1 normal, 3 control (special added tokens, BOS/EOS), 4 user-defined
// (other added tokens), 5 unused ("[PADi]" fillers for embedding rows no token names).
import Foundation
import Tokenization

/// A byte-level BPE vocabulary in GGUF's form.
public struct HFVocabulary: Sendable, Equatable {
    /// (nVocab,) byte-encoded token texts ("Ġworld" is " world").
    public var tokens: [String]
    /// (nVocab,) llama.cpp token types.
    public var tokenTypes: [Int]
    /// "left right" per merge, rank order.
    public var merges: [String]
    public var bos: Int32?
    public var eos: Int32?
    /// The file the vocabulary came from (tokenizer.json or vocab.json).
    public var source: String

    /// The name llama.cpp's converter gives GPT-2's pre-tokenizer (tokenizer.ggml.pre).
    public static let preTokenizer = "gpt-2"
    static let endOfText = "<|endoftext|>"

    /// Reads the folder's tokenizer files for a model with `nVocab` embedding rows.
    /// - Parameters:
    ///   - bos, eos: config.json's bos_token_id / eos_token_id (nil: the id of "<|endoftext|>", if any).
    public init(folder: String, nVocab: Int, bos: Int?, eos: Int?) throws {
        func file(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }
        let source: String
        var vocab: [String: Int]
        var merges: [String]
        var added: [(id: Int, text: String, special: Bool)] = []
        if exists("tokenizer.json") {
            source = file("tokenizer.json")
            let json = try JSONFile(path: source)
            let model = try json.required("model") { try json.object($0) }
            if let type = try model.string("type"), type != "BPE" {
                throw HFCheckpointError.badTokenizer(file: source, detail: "model.type '\(type)' is not BPE")
            }
            vocab = try Self.vocab(try model.required("vocab") { try model.object($0) })
            merges = try (try model.array("merges") ?? []).enumerated().map { i, m in
                if let line = m as? String { return line }
                if let pair = m as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
                throw HFCheckpointError.badTokenizer(
                    file: source, detail: "model.merges[\(i)] is not \"a b\" or [a, b]")
            }
            for (i, item) in (try json.array("added_tokens") ?? []).enumerated() {
                guard let t = item as? [String: Any], let id = JSONFile.integer(t["id"]),
                    let text = t["content"] as? String
                else {
                    throw HFCheckpointError.badTokenizer(file: source, detail: "added_tokens[\(i)] has no id/content")
                }
                added.append((id, text, t["special"] as? Bool ?? false))
            }
        } else if exists("vocab.json") && exists("merges.txt") {
            source = file("vocab.json")
            vocab = try Self.vocab(try JSONFile(path: source))
            guard let text = try? String(contentsOfFile: file("merges.txt"), encoding: .utf8) else {
                throw HFCheckpointError.badTokenizer(file: file("merges.txt"), detail: "cannot read it as UTF-8")
            }
            // "#version: 0.2" header, then one "a b" per line; a final empty line is not a merge.
            merges = text.split(separator: "\n", omittingEmptySubsequences: true)
                .map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) }
                .filter { !$0.hasPrefix("#version") && !$0.isEmpty }
            if exists("tokenizer_config.json"),
                let decoder = try JSONFile(path: file("tokenizer_config.json")).object("added_tokens_decoder")
            {
                for (key, value) in decoder.object {
                    guard let id = Int(key), let t = value as? [String: Any], let text = t["content"] as? String else {
                        throw decoder.bad("added_tokens_decoder.\(key)", "is not {content, special}")
                    }
                    added.append((id, text, t["special"] as? Bool ?? false))
                }
            }
        } else {
            throw HFCheckpointError.missingFile(
                folder: folder, what: "no tokenizer.json, nor vocab.json and merges.txt")
        }
        for a in added { vocab[a.text] = a.id }

        // Every id must name an embedding row; rows no token names become "[PADi]" (llama.cpp's filler).
        if let (text, id) = vocab.first(where: { $0.value < 0 || $0.value >= nVocab }) {
            throw HFCheckpointError.badTokenizer(
                file: source, detail: "token '\(text)' has id \(id), outside the model's \(nVocab) embeddings")
        }
        var tokens = (0..<nVocab).map { "[PAD\($0)]" }
        var types = [Int](repeating: 5, count: nVocab)
        for (text, id) in vocab {
            tokens[id] = text
            types[id] = 1
        }
        for a in added { types[a.id] = a.special ? 3 : 4 }
        func inVocab(_ id: Int?) -> Int32? { id.flatMap { $0 >= 0 && $0 < nVocab ? Int32($0) : nil } }
        let endOfText = vocab[Self.endOfText]
        let (bosID, eosID) = (inVocab(bos ?? endOfText), inVocab(eos ?? endOfText))
        for id in [bosID, eosID].compactMap({ $0 }) { types[Int(id)] = 3 }
        self.bos = bosID
        self.eos = eosID
        self.tokens = tokens
        self.tokenTypes = types
        self.merges = merges
        self.source = source
    }

    /// {text: id} of a JSON object.
    private static func vocab(_ json: JSONFile) throws -> [String: Int] {
        var out: [String: Int] = [:]
        out.reserveCapacity(json.object.count)
        for (text, value) in json.object {
            guard let id = JSONFile.integer(value) else { throw json.bad(text, "token id is not an integer") }
            out[text] = id
        }
        return out
    }

    /// The tokenizer these arrays describe (GPT-2's pre-tokenizer, no BOS added: GPT-2 starts without one).
    public func makeTokenizer() throws -> BPETokenizer {
        try BPETokenizer(
            tokens: tokens, tokenTypes: tokenTypes, merges: merges, preTokenizer: Self.preTokenizer,
            bos: bos, eos: eos, addBOS: false)
    }
}
