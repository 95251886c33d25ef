// Tokenizer+GGUF: reads the `tokenizer.ggml.*` metadata of a GGUF file into a Tokenizer, with llama.cpp's
// defaults for absent keys. Only the reading lives here; the tokenizer itself is in Tokenizer.swift.

import GGUF

extension Tokenizer {
    /// Builds the tokenizer a GGUF file describes.
    ///
    /// Keys: `tokenizer.ggml.model` ("gpt2": byte-level BPE, "llama": SentencePiece), `.tokens`, `.token_type`
    /// (absent = all normal), `.bos_token_id` / `.eos_token_id`, `.add_bos_token` / `.add_eos_token`, the optional
    /// `.eot/.eom/.fim_*_token_id`, and `general.name` (llama.cpp's Phi-3 strip flags). BPE also reads `.pre`
    /// (absent = "default") and `.merges`; BOS/EOS default to 11 and add_bos to the pre-tokenizer's default
    /// (true for Llama 3). SentencePiece also reads `.scores`, `.unknown_token_id`, `.add_space_prefix`; BOS/EOS/UNK
    /// default to 1/2/0, add_bos to true and add_space_prefix to true. Ids outside the vocabulary are dropped.
    /// - Throws: `TokenizerError` (unsupported model, unknown pre-tokenizer, missing tokens, merges or scores, bad
    ///   merge line) or `GGUFError` (a key of the wrong type).
    public convenience init(gguf file: GGUFFile) throws {
        let model = try file.string("tokenizer.ggml.model", default: nil)
        guard let model else { throw TokenizerError.missingKey("tokenizer.ggml.model", file: file.path) }
        guard let kind = Kind(rawValue: model) else {
            throw TokenizerError.unsupportedModel(model, preTokenizer: try file.string(ifPresent: "tokenizer.ggml.pre"))
        }
        let required = kind == .bytePairs ? "tokenizer.ggml.merges" : "tokenizer.ggml.scores"
        for key in ["tokenizer.ggml.tokens", required] where !file.contains(key) {
            throw TokenizerError.missingKey(key, file: file.path)
        }
        let tokens = try file.stringArray("tokenizer.ggml.tokens")
        let types =
            !file.contains("tokenizer.ggml.token_type")
            ? [Int](repeating: 1, count: tokens.count) : try file.intArray("tokenizer.ggml.token_type")

        func id(_ name: String) throws -> Int32? {
            try file.int("tokenizer.ggml.\(name)_token_id", default: nil).flatMap { Int32(exactly: $0) }
        }
        func flag(_ name: String) throws -> Bool? { try file.bool(ifPresent: "tokenizer.ggml.\(name)") }
        let specialIDs = SpecialTokenIDs(
            eot: try id("eot"), eom: try id("eom"), fimPre: try id("fim_pre"), fimSuf: try id("fim_suf"),
            fimMid: try id("fim_mid"), fimPad: try id("fim_pad"), fimRep: try id("fim_rep"),
            fimSep: try id("fim_sep"))
        let modelName = try file.string(ifPresent: "general.name")

        switch kind {
        case .bytePairs:
            let pre = try file.string("tokenizer.ggml.pre", default: "default") ?? "default"
            let defaultBPEID: Int32 = 11  // llama.cpp's special_bos_id / special_eos_id for gpt2-type vocabularies
            try self.init(
                tokens: tokens, tokenTypes: types, merges: try file.stringArray("tokenizer.ggml.merges"),
                preTokenizer: pre, bos: try id("bos") ?? defaultBPEID, eos: try id("eos") ?? defaultBPEID,
                addBOS: try flag("add_bos_token") ?? PreTokenizer(named: pre).addsBOSByDefault,
                addEOS: try flag("add_eos_token") ?? false, specialIDs: specialIDs, modelName: modelName)
        case .sentencePiece:
            // llama.cpp's SentencePiece defaults: BOS 1, EOS 2, UNK 0, add BOS, add the space prefix.
            try self.init(
                sentencePieceTokens: tokens, scores: try file.floatArray("tokenizer.ggml.scores"), tokenTypes: types,
                bos: try id("bos") ?? 1, eos: try id("eos") ?? 2, unknown: try id("unknown") ?? 0,
                addBOS: try flag("add_bos_token") ?? true, addEOS: try flag("add_eos_token") ?? false,
                addSpacePrefix: try flag("add_space_prefix") ?? true, specialIDs: specialIDs, modelName: modelName)
        }
    }
}
