// BPETokenizer+GGUF: reads the `tokenizer.ggml.*` metadata of a GGUF file into a BPETokenizer, with llama.cpp's
// defaults for absent keys. Only the reading lives here; the tokenizer itself is in BPETokenizer.swift.

import GGUF

extension BPETokenizer {
    /// Builds the tokenizer a GGUF file describes.
    ///
    /// Keys: `tokenizer.ggml.model` (must be "gpt2"), `.pre` (absent = "default"), `.tokens`, `.token_type`
    /// (absent = all normal), `.merges`, `.bos_token_id` / `.eos_token_id` (absent = 11, llama.cpp's BPE default,
    /// dropped if outside the vocabulary), `.add_bos_token` / `.add_eos_token` (absent = false), and the optional
    /// `.eot/.eom/.fim_*_token_id`.
    /// - Throws: `TokenizerError` (unsupported model, unknown pre-tokenizer, missing tokens or merges, bad merge
    ///   line) or `GGUFError` (a key of the wrong type).
    public convenience init(gguf file: GGUFFile) throws {
        let model = try file.string("tokenizer.ggml.model", default: nil)
        guard let model else { throw TokenizerError.missingKey("tokenizer.ggml.model", file: file.path) }
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(model) }
        for key in ["tokenizer.ggml.tokens", "tokenizer.ggml.merges"] where file.value(key) == nil {
            throw TokenizerError.missingKey(key, file: file.path)
        }
        let tokens = try file.stringArray("tokenizer.ggml.tokens")
        let types =
            file.value("tokenizer.ggml.token_type") == nil
            ? [Int](repeating: 1, count: tokens.count) : try file.intArray("tokenizer.ggml.token_type")

        func id(_ name: String) throws -> Int32? {
            try file.int("tokenizer.ggml.\(name)_token_id", default: nil).flatMap { Int32(exactly: $0) }
        }
        let defaultBPEID: Int32 = 11  // llama.cpp's special_bos_id / special_eos_id for gpt2-type vocabularies
        try self.init(
            tokens: tokens,
            tokenTypes: types,
            merges: try file.stringArray("tokenizer.ggml.merges"),
            preTokenizer: try file.string("tokenizer.ggml.pre", default: "default") ?? "default",
            bos: try id("bos") ?? defaultBPEID,
            eos: try id("eos") ?? defaultBPEID,
            addBOS: try file.bool("tokenizer.ggml.add_bos_token", default: false) ?? false,
            addEOS: try file.bool("tokenizer.ggml.add_eos_token", default: false) ?? false,
            specialIDs: SpecialTokenIDs(
                eot: try id("eot"), eom: try id("eom"), fimPre: try id("fim_pre"), fimSuf: try id("fim_suf"),
                fimMid: try id("fim_mid"), fimPad: try id("fim_pad"), fimRep: try id("fim_rep"),
                fimSep: try id("fim_sep")))
    }
}
