// Tokenizer: a GGUF vocabulary (`tokenizer.ggml.*`) that encodes exactly as llama.cpp's llama_tokenize and decodes
// as its token_to_piece / llama_detokenize. Two merge models share everything else:
//   - byte-level BPE (`tokenizer.ggml.model = gpt2`: GPT-2, SmolLM, Llama 3, Qwen2, DeepSeek, Falcon), in
//     BytePairMerges.swift, with the pre-tokenizer named by tokenizer.ggml.pre (PreTokenizer.swift);
//   - SentencePiece (`llama`: Llama 2, Phi-3, Gemma), in SentencePiece.swift: scores, byte fallback, "▁" spaces.
// Steps of `encode`: split the UTF-8 text around special tokens (SpecialTokens.swift), then let the model encode
// each text fragment. Not here: WordPiece (`bert`), unigram (`t5`), RWKV and the other llama.cpp models (they fail
// to load with `TokenizerError.unsupportedModel`), and the `<mask>` lstrip flag llama.cpp sets for a few
// embedding models.

/// A tokenizer built from a GGUF vocabulary. Immutable after `init`, so one instance may be shared across threads.
public final class Tokenizer: Sendable {
    /// The merge model, named by its `tokenizer.ggml.model` value.
    public enum Kind: String, Sendable, CaseIterable {
        case bytePairs = "gpt2"
        case sentencePiece = "llama"
    }

    private enum Model: Sendable {
        case bytePairs(BytePairMerges)
        case sentencePiece(SentencePieceMerges)
    }

    // MARK: - Vocabulary

    /// (nVocab,) attributes after llama.cpp's fix-ups (EOG and FIM tokens forced to control, strip flags).
    private let attributes: [TokenAttributes]
    /// (nVocab,) token texts as stored in the file (BPE: byte-encoded, "Ġworld" is " world"; SentencePiece:
    /// "▁world"), and their exact bytes -> id (the last id for a repeated text, as llama.cpp's token_to_id).
    private let textIDs: ByteStringTable
    private let model: Model

    // MARK: - Decoding tables

    /// Every token's decoded bytes, concatenated; token i is pieceBytes[pieceStart[i]..<pieceStart[i + 1]].
    private let pieceBytes: [UInt8]
    /// (nVocab + 1,) offsets into `pieceBytes`.
    private let pieceStart: [Int32]

    // MARK: - Special tokens

    private let specialMatcher: SpecialTokenMatcher
    private let endOfGenerationIDs: Set<Int32>
    public let kind: Kind
    public let bosID: Int32?
    public let eosID: Int32?
    /// Whether `encode` starts with BOS (tokenizer.ggml.add_bos_token) and ends with EOS (add_eos_token).
    public let addBOS: Bool
    public let addEOS: Bool
    /// SentencePiece: a space goes before the text and after each special token (tokenizer.ggml.add_space_prefix;
    /// `detokenize` removes it again). Always false for BPE.
    public let addSpacePrefix: Bool
    /// Whether `detokenize` removes the space before "?!.,'" as llama.cpp's `clean_spaces` does (BPE families
    /// that ask for it; never SentencePiece).
    public let cleansSpaces: Bool

    /// The pre-tokenizer named by tokenizer.ggml.pre (BPE only; SentencePiece has none).
    public var preTokenizer: PreTokenizer? {
        if case .bytePairs(let m) = model { return m.preTokenizer }
        return nil
    }

    /// Number of tokens in the vocabulary (nVocab).
    public var vocabSize: Int { textIDs.count }

    /// Builds a byte-level BPE tokenizer from the arrays a GGUF file stores.
    /// - Parameters:
    ///   - tokens: (nVocab,) tokenizer.ggml.tokens, byte-encoded texts.
    ///   - tokenTypes: tokenizer.ggml.token_type, at least nVocab entries (1 normal, 3 control, 4 user-defined, ...).
    ///   - merges: tokenizer.ggml.merges, "left right" per line; line number = rank (lower merges first).
    ///   - preTokenizer: tokenizer.ggml.pre ("smollm", "llama-bpe", "qwen2", ...; see `PreTokenizer.supportedNames`).
    ///   - bos, eos: special token ids; an id outside the vocabulary is dropped (llama.cpp warns and does the same).
    ///   - addBOS, addEOS: whether `encode` adds them.
    ///   - specialIDs: further special ids from the file (EOT, EOM, FIM); missing ones are found by text.
    ///   - modelName: general.name, which llama.cpp reads to set strip flags on special tokens (Phi-3).
    /// - Throws: `TokenizerError` for an empty vocabulary, short token_type array, unknown pre-tokenizer or a merge
    ///   line without a space.
    public convenience init(
        tokens: [String], tokenTypes: [Int], merges: [String], preTokenizer: String, bos: Int32?, eos: Int32?,
        addBOS: Bool, addEOS: Bool = false, specialIDs: SpecialTokenIDs = SpecialTokenIDs(), modelName: String? = nil
    ) throws {
        let pre = try PreTokenizer(named: preTokenizer)
        try self.init(
            kind: .bytePairs, tokens: tokens, tokenTypes: tokenTypes, bos: bos, eos: eos, unknown: nil,
            addBOS: addBOS, addEOS: addEOS, addSpacePrefix: false, cleansSpaces: pre.cleansSpaces,
            specialIDs: specialIDs, modelName: modelName
        ) { texts, textIDs in
            .bytePairs(
                try BytePairMerges(vocabulary: textIDs, nVocab: texts.count, merges: merges, preTokenizer: pre))
        }
    }

    /// Builds a SentencePiece tokenizer from the arrays a GGUF file stores.
    /// - Parameters:
    ///   - tokens: (nVocab,) tokenizer.ggml.tokens ("▁the", "<0x0A>", "<start_of_turn>").
    ///   - scores: tokenizer.ggml.scores, at least nVocab entries (higher merges first).
    ///   - tokenTypes: tokenizer.ggml.token_type, at least nVocab entries (6 marks the <0xXX> byte tokens).
    ///   - bos, eos, unknown: special token ids (dropped when outside the vocabulary); `unknown` stands for a byte
    ///     that has no <0xXX> token.
    ///   - addBOS, addEOS: whether `encode` adds them.
    ///   - addSpacePrefix: tokenizer.ggml.add_space_prefix (llama.cpp's default for SentencePiece is true).
    ///   - specialIDs, modelName: as for BPE.
    /// - Throws: `TokenizerError` for an empty vocabulary or a short scores / token_type array.
    public convenience init(
        sentencePieceTokens tokens: [String], scores: [Float], tokenTypes: [Int], bos: Int32?, eos: Int32?,
        unknown: Int32?, addBOS: Bool, addEOS: Bool = false, addSpacePrefix: Bool,
        specialIDs: SpecialTokenIDs = SpecialTokenIDs(), modelName: String? = nil
    ) throws {
        guard scores.count >= tokens.count else {
            throw TokenizerError.countMismatch(key: "tokenizer.ggml.scores", tokens: tokens.count, got: scores.count)
        }
        try self.init(
            kind: .sentencePiece, tokens: tokens, tokenTypes: tokenTypes, bos: bos, eos: eos, unknown: unknown,
            addBOS: addBOS, addEOS: addEOS, addSpacePrefix: addSpacePrefix, cleansSpaces: false,
            specialIDs: specialIDs, modelName: modelName
        ) { _, textIDs in
            let n = tokens.count
            let unk = unknown.flatMap { $0 >= 0 && Int($0) < n ? $0 : nil }
            return .sentencePiece(
                SentencePieceMerges(scores: Array(scores.prefix(n)), texts: textIDs, unknownID: unk))
        }
    }

    private init(
        kind: Kind, tokens: [String], tokenTypes: [Int], bos: Int32?, eos: Int32?, unknown: Int32?, addBOS: Bool,
        addEOS: Bool, addSpacePrefix: Bool, cleansSpaces: Bool, specialIDs: SpecialTokenIDs, modelName: String?,
        makeModel: ([String], ByteStringTable) throws -> Model
    ) throws {
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary }
        guard tokenTypes.count >= tokens.count else {
            throw TokenizerError.countMismatch(
                key: "tokenizer.ggml.token_type", tokens: tokens.count, got: tokenTypes.count)
        }
        let nVocab = tokens.count
        func inVocab(_ id: Int32?) -> Int32? { id.flatMap { $0 >= 0 && Int($0) < nVocab ? $0 : nil } }

        // Token texts; llama.cpp renames empty ones so every text is a distinct key.
        var texts = tokens
        for i in 0..<nVocab where texts[i].isEmpty { texts[i] = "[EMPTY_\(i)]" }
        let textIDs = ByteStringTable(texts)

        // Attributes, end-of-generation set (which may change attributes), strip flags, special-token matcher.
        var attrs = (0..<nVocab).map { TokenAttributes(tokenType: tokenTypes[$0]) }
        let ids = SpecialTokenIDs(
            eot: inVocab(specialIDs.eot), eom: inVocab(specialIDs.eom), fimPre: inVocab(specialIDs.fimPre),
            fimSuf: inVocab(specialIDs.fimSuf), fimMid: inVocab(specialIDs.fimMid),
            fimPad: inVocab(specialIDs.fimPad), fimRep: inVocab(specialIDs.fimRep),
            fimSep: inVocab(specialIDs.fimSep))
        let eosValue = inVocab(eos)
        self.bosID = inVocab(bos)
        self.eosID = eosValue
        self.endOfGenerationIDs = EndOfGeneration.ids(
            texts: texts, lookup: { textIDs.id(Array($0.utf8)) }, attributes: &attrs, eos: eosValue, ids: ids)
        StripFlags.apply(modelName: modelName, texts: texts, lookup: { textIDs.id(Array($0.utf8)) }, &attrs)
        self.specialMatcher = SpecialTokenMatcher(texts: texts, attributes: attrs)

        // Decoded bytes of every token (llama.cpp's token_to_piece cache, special = true).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(nVocab * 8)
        var starts: [Int32] = [0]
        starts.reserveCapacity(nVocab + 1)
        for i in 0..<nVocab {
            bytes += Self.decodedPiece(texts[i], attrs[i], kind)
            starts.append(Int32(bytes.count))
        }

        self.model = try makeModel(texts, textIDs)
        self.kind = kind
        self.attributes = attrs
        self.textIDs = textIDs
        self.pieceBytes = bytes
        self.pieceStart = starts
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.cleansSpaces = cleansSpaces
    }

    /// A token's bytes: special and user-defined tokens are their text, normal tokens are GPT-2-decoded (BPE) or
    /// have "▁" turned into spaces (SentencePiece), byte tokens "<0xXX>" are one byte, unused/undefined tokens
    /// are empty.
    private static func decodedPiece(_ text: String, _ attr: TokenAttributes, _ kind: Kind) -> [UInt8] {
        if !attr.isDisjoint(with: [.control, .unknown, .userDefined]) { return Array(text.utf8) }
        if attr.contains(.normal) {
            switch kind {
            case .bytePairs: return GPT2ByteMap.decode(text)
            case .sentencePiece: return unescapeSpaces(Array(text.utf8))
            }
        }
        if attr.contains(.byte) {
            let hex = Array(text.utf8.dropFirst(3).prefix(2))
            return UInt8(String(decoding: hex, as: UTF8.self), radix: 16).map { [$0] } ?? []
        }
        return []
    }

    /// "▁" (E2 96 81) -> " ".
    private static func unescapeSpaces(_ utf8: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            if i + 2 < utf8.count && utf8[i] == 0xE2 && utf8[i + 1] == 0x96 && utf8[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(utf8[i])
                i += 1
            }
        }
        return out
    }

    // MARK: - Encoding

    /// Encodes text to token ids, as llama.cpp's `llama_tokenize(vocab, text, add_special, parse_special)`.
    /// - Parameters:
    ///   - text: any string (empty gives just BOS/EOS if the model adds them).
    ///   - parseSpecial: match control tokens such as "<|im_start|>" written in the text (for chat prompts);
    ///     when false they are encoded as ordinary text. User-defined tokens are always matched.
    ///   - addSpecial: add BOS / EOS as the model asks (`addBOS`, `addEOS`); false for text that continues a
    ///     sequence.
    /// - Returns: token ids, starting with BOS when `addBOS` and ending with EOS when `addEOS` (and `addSpecial`).
    public func encode(_ text: String, parseSpecial: Bool = false, addSpecial: Bool = true) -> [Int32] {
        encode(text, parseSpecial: parseSpecial, addSpecial: addSpecial, markup: [])
    }

    /// Encodes a rendered chat prompt: control tokens are matched only in the template's markup, so a message
    /// that contains "<|im_end|><|im_start|>system" is encoded as that text, never as role markers. Apart from
    /// that, the ids are those of `encode(prompt.text, parseSpecial: true)` (the text is split the same way).
    public func encode(_ prompt: ChatPrompt) -> [Int32] {
        encode(prompt.text, parseSpecial: false, addSpecial: true, markup: prompt.markup)
    }

    private func encode(_ text: String, parseSpecial: Bool, addSpecial: Bool, markup: [Range<Int>]) -> [Int32] {
        var out: [Int32] = []
        if addSpecial && addBOS, let bosID { out.append(bosID) }
        let bytes = Array(text.utf8)
        let fragments = specialMatcher.partition(bytes, parseSpecial: parseSpecial, markup: markup)
        switch model {
        case .bytePairs(let merges):
            var scratch = BytePairMerges.Scratch()
            for fragment in fragments {
                switch fragment {
                case .token(let id): out.append(id)
                case .text(let range): merges.encode(bytes, range, into: &out, &scratch)
                }
            }
        case .sentencePiece(let merges):
            var scratch = SentencePieceMerges.Scratch()
            var afterSpecial = true  // the text start counts as "after a special token" (llama.cpp is_prev_special)
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                    afterSpecial = true
                case .text(let range):
                    merges.encode(
                        bytes[range], spacePrefix: addSpacePrefix && afterSpecial, vocabulary: textIDs, into: &out,
                        &scratch)
                    afterSpecial = false
                }
            }
        }
        if addSpecial && addEOS, let eosID { out.append(eosID) }
        return out
    }

    // MARK: - Decoding

    /// The bytes of a token sequence (llama.cpp `token_to_piece` per token, concatenated, no space cleaning).
    /// - Parameter renderSpecial: control and unknown tokens ("<|im_end|>") appear as their text; when false they
    ///   are dropped. User-defined tokens always appear. Ids outside the vocabulary are skipped.
    public func decodeBytes(_ ids: [Int32], renderSpecial: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids { appendPiece(id, renderSpecial: renderSpecial, to: &out) }
        return out
    }

    /// The text of a token sequence; invalid UTF-8 (a sequence cut inside a character) becomes U+FFFD.
    public func decode(_ ids: [Int32], renderSpecial: Bool = true) -> String {
        String(decoding: decodeBytes(ids, renderSpecial: renderSpecial), as: UTF8.self)
    }

    /// One token's decoded text (may be part of a character: use `StreamingDecoder` for generated text).
    public func piece(_ id: Int32) -> String { decode([id]) }

    /// Text from token ids as llama.cpp's `llama_detokenize` gives it (what `llama-tokenize` and its tests print):
    /// the space SentencePiece put before the text is removed, and BPE families with `cleansSpaces` drop the space
    /// before "?!.,", around a lone "'" and before "'s 'm 're 've".
    /// - Parameters:
    ///   - removeSpecial: drop a leading BOS and a trailing EOS that the model adds itself.
    ///   - renderSpecial: show control and unknown tokens as their text (llama.cpp `unparse_special`).
    public func detokenizeBytes(_ ids: [Int32], removeSpecial: Bool = false, renderSpecial: Bool = true) -> [UInt8] {
        var ids = ids[...]
        var removeSpace = addSpacePrefix
        if removeSpecial && addBOS, let bosID, ids.first == bosID {
            removeSpace = false
            ids = ids.dropFirst()
        }
        if removeSpecial && addEOS, let eosID, ids.last == eosID { ids = ids.dropLast() }
        var out: [UInt8] = []
        for id in ids {
            let start = out.count
            appendPiece(id, renderSpecial: renderSpecial, to: &out)
            if removeSpace && out.count > start && out[start] == 0x20 { out.remove(at: start) }
            removeSpace = false
        }
        return cleansSpaces ? Self.cleanSpaces(out) : out
    }

    /// `detokenizeBytes` as a String (invalid UTF-8 becomes U+FFFD).
    public func detokenize(_ ids: [Int32], removeSpecial: Bool = false, renderSpecial: Bool = true) -> String {
        String(decoding: detokenizeBytes(ids, removeSpecial: removeSpecial, renderSpecial: renderSpecial), as: UTF8.self)
    }

    /// llama.cpp's three `clean_spaces` passes over the detokenized bytes.
    private static func cleanSpaces(_ text: [UInt8]) -> [UInt8] {
        let space = UInt8(ascii: " ")
        let quote = UInt8(ascii: "'")
        // " ?", " !", " .", " ," lose the space.
        var a: [UInt8] = []
        for (i, x) in text.enumerated() {
            if i > 0 && text[i - 1] == space && (x == UInt8(ascii: "?") || x == UInt8(ascii: "!")
                || x == UInt8(ascii: ".") || x == UInt8(ascii: ",")) {
                a.removeLast()
            }
            a.append(x)
        }
        // " ' " becomes "'"; the dropped space reads as NUL afterwards, as llama.cpp overwrites it.
        var b: [UInt8] = []
        var i = 0
        while i < a.count {
            let x = a[i]
            if i > 0 && x == quote && i + 1 < a.count && a[i - 1] == space && a[i + 1] == space {
                b.removeLast()
                b.append(x)
                a[i + 1] = 0
                i += 2
                continue
            }
            b.append(x)
            i += 1
        }
        // " 's", " 'm", " 're", " 've" lose the space.
        var c: [UInt8] = []
        for (i, x) in b.enumerated() {
            if i > 0 && b[i - 1] == space && x == quote && i + 1 < b.count {
                let x1 = b[i + 1]
                let x2: UInt8? = i + 2 < b.count ? b[i + 2] : nil
                if x1 == UInt8(ascii: "s") || x1 == UInt8(ascii: "m")
                    || (x2 == UInt8(ascii: "e") && (x1 == UInt8(ascii: "r") || x1 == UInt8(ascii: "v")))
                {
                    c.removeLast()
                }
            }
            c.append(x)
        }
        return c
    }

    /// Appends one token's bytes.
    func appendPiece(_ id: Int32, renderSpecial: Bool, to out: inout [UInt8]) {
        guard id >= 0 && Int(id) < vocabSize else { return }
        if !renderSpecial && !attributes[Int(id)].isDisjoint(with: [.control, .unknown]) { return }
        out += pieceBytes[Int(pieceStart[Int(id)])..<Int(pieceStart[Int(id) + 1])]
    }

    // MARK: - Lookup

    /// The id of the vocabulary entry whose stored text is exactly `text` ("<|im_end|>", "Ġworld").
    public func tokenID(_ text: String) -> Int32? {
        textIDs.id(Array(text.utf8))
    }

    /// The vocabulary entry of `id` as stored (byte-encoded), or nil outside the vocabulary.
    public func tokenText(_ id: Int32) -> String? {
        id >= 0 && Int(id) < vocabSize ? textIDs.key(Int(id)) : nil
    }

    /// Whether `id` is a control/unknown token (hidden when decoding with `renderSpecial: false`).
    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocabSize && !attributes[Int(id)].isDisjoint(with: [.control, .unknown])
    }

    /// Whether generation stops at `id`: EOS, EOT/EOM, FIM pad/repo/sep, and every token llama.cpp's EOG list
    /// names ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<end_of_turn>", "<|end_of_text|>", ...).
    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationIDs.contains(id) }

    /// All end-of-generation ids, sorted.
    public var endOfGenerationTokens: [Int32] { endOfGenerationIDs.sorted() }
}

/// The tokenizer's name before SentencePiece vocabularies were added; kept so existing callers read unchanged.
public typealias BPETokenizer = Tokenizer
