// TokenizerError: every failure the tokenizer reports while loading a vocabulary. Encoding and decoding never
// fail: any String encodes, and ids outside the vocabulary decode to nothing.

/// An error building a tokenizer from a vocabulary (GGUF `tokenizer.ggml.*` metadata or plain arrays).
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `tokenizer.ggml.model` names a tokenizer family other than byte-level BPE ("gpt2") and SentencePiece
    /// ("llama"): "bert", "t5", "rwkv", ...; with the file's `tokenizer.ggml.pre` when it has one.
    case unsupportedModel(String, preTokenizer: String? = nil)
    /// `tokenizer.ggml.pre` names a pre-tokenizer (split regex family) this module does not implement.
    case unknownPreTokenizer(String, supported: [String])
    /// A `tokenizer.ggml.merges` entry is not "left right" (no space after the first character).
    case badMerge(index: Int, line: String)
    /// A required metadata key is absent (`file` is the GGUF path, or "<arrays>").
    case missingKey(String, file: String)
    /// A per-token array (`tokenizer.ggml.token_type`) is shorter than the token list.
    case countMismatch(key: String, tokens: Int, got: Int)
    /// The vocabulary has no tokens.
    case emptyVocabulary

    public var description: String {
        switch self {
        case .unsupportedModel(let model, let pre):
            "tokenizer.ggml.model = \(model)" + (pre.map { " (tokenizer.ggml.pre = \($0))" } ?? "")
                + " is not supported: SwiftGPT reads byte-level BPE (tokenizer.ggml.model = gpt2) and SentencePiece "
                + "(tokenizer.ggml.model = llama) vocabularies"
        case .unknownPreTokenizer(let name, let supported):
            "unknown pre-tokenizer tokenizer.ggml.pre = '\(name)'; supported: \(supported.joined(separator: ", "))"
        case .badMerge(let index, let line):
            "tokenizer.ggml.merges[\(index)] = '\(line)' is not of the form 'left right'"
        case .missingKey(let key, let file):
            "\(file): required tokenizer key \(key) is missing"
        case .countMismatch(let key, let tokens, let got):
            "\(key) has \(got) entries but the vocabulary has \(tokens) tokens"
        case .emptyVocabulary:
            "the vocabulary (tokenizer.ggml.tokens) is empty"
        }
    }
}
