// SpecialTokens: token attributes, which tokens end generation, and the split of text around special tokens.
// All of it follows llama.cpp's llama_vocab::impl::load and tokenizer_st_partition (src/llama-vocab.cpp), since a
// token llama.cpp treats as special must be matched, rendered and stopped on here in the same way.

/// Per-token attributes (llama.cpp `llama_token_attr`), from GGUF `tokenizer.ggml.token_type`
/// (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte; anything else undefined).
struct TokenAttributes: OptionSet, Sendable, Hashable {
    let rawValue: UInt8
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)
    /// Set by llama.cpp from the model's name, never from the file: whitespace before (lstrip) or after (rstrip)
    /// the token is dropped when the token is matched in text.
    static let lstrip = TokenAttributes(rawValue: 1 << 6)
    static let rstrip = TokenAttributes(rawValue: 1 << 7)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(tokenType: Int) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []  // LLAMA_TOKEN_ATTR_UNDEFINED
        }
    }
}

/// Special token ids a GGUF file may name besides BOS and EOS (`tokenizer.ggml.eot_token_id`, `eom_token_id`,
/// `fim_pre/suf/mid/pad/rep/sep_token_id`). When absent, llama.cpp finds them by their text; so does this module.
public struct SpecialTokenIDs: Sendable, Equatable {
    public var eot: Int32?
    public var eom: Int32?
    public var fimPre: Int32?
    public var fimSuf: Int32?
    public var fimMid: Int32?
    public var fimPad: Int32?
    public var fimRep: Int32?
    public var fimSep: Int32?

    public init(
        eot: Int32? = nil, eom: Int32? = nil, fimPre: Int32? = nil, fimSuf: Int32? = nil, fimMid: Int32? = nil,
        fimPad: Int32? = nil, fimRep: Int32? = nil, fimSep: Int32? = nil
    ) {
        self.eot = eot
        self.eom = eom
        self.fimPre = fimPre
        self.fimSuf = fimSuf
        self.fimMid = fimMid
        self.fimPad = fimPad
        self.fimRep = fimRep
        self.fimSep = fimSep
    }
}

// MARK: - End of generation

enum EndOfGeneration {
    /// Texts llama.cpp recognises as fill-in-the-middle markers when the GGUF names none (in its order).
    static let fimPreTexts = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
        "<|code_prefix|>", "<|prefix|>",
    ]
    static let fimSufTexts = [
        "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
        "<|code_suffix|>", "<|suffix|>",
    ]
    static let fimMidTexts = [
        "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
        "<|code_middle|>", "<|middle|>",
    ]
    static let fimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimRepTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let fimSepTexts = ["<|file_sep|>"]

    /// Texts of tokens that always end generation (llama.cpp's EOG list; EOT and EOM candidates are all in it).
    static let texts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]

    /// Tokens gpt-oss renders as text (llama.cpp forces them to user-defined).
    static let alwaysRendered: Set<String> = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]

    /// The end-of-generation ids, updating `attributes` the way llama.cpp does: every EOG or FIM-looking token
    /// becomes a control token even if the file says otherwise.
    /// - Note: where several tokens match one FIM list, llama.cpp takes whichever its hash map visits first; this
    ///   takes the lowest id.
    static func ids(
        texts tokenTexts: [String], lookup: (String) -> Int32?, attributes: inout [TokenAttributes],
        eos: Int32?, ids given: SpecialTokenIDs
    ) -> Set<Int32> {
        func markControl(_ id: Int32) { attributes[Int(id)].insert(.control) }
        func find(_ candidates: [String]) -> Int32? {
            candidates.compactMap(lookup).min()
        }
        func resolve(_ given: Int32?, _ candidates: [String]) -> Int32? {
            if let given { return given }
            let found = find(candidates)
            if let found { markControl(found) }
            return found
        }

        _ = resolve(given.fimPre, fimPreTexts)
        _ = resolve(given.fimSuf, fimSufTexts)
        _ = resolve(given.fimMid, fimMidTexts)
        var eog = Set<Int32>()
        for id in [
            resolve(given.fimPad, fimPadTexts), resolve(given.fimRep, fimRepTexts),
            resolve(given.fimSep, fimSepTexts),
        ].compactMap({ $0 }) {
            eog.insert(id)
        }

        for (index, text) in tokenTexts.enumerated() where texts.contains(text) {
            eog.insert(Int32(index))
            markControl(Int32(index))
        }
        for (index, text) in tokenTexts.enumerated() where alwaysRendered.contains(text) {
            attributes[index] = .userDefined
        }
        for id in [eos, given.eot, given.eom].compactMap({ $0 }) { eog.insert(id) }

        // o200k_harmony / solar-open: "<|end|>" is not EOG when "<|return|>" + "<|call|>" (or "<|calls|>" +
        // "<|flush|>") are.
        let eogTexts = Set(eog.map { tokenTexts[Int($0)] })
        let hasCall = eogTexts.contains("<|call|>") || eogTexts.contains("<|calls|>")
        if hasCall && (eogTexts.contains("<|return|>") || eogTexts.contains("<|flush|>")),
            let end = eog.first(where: { tokenTexts[Int($0)] == "<|end|>" })
        {
            eog.remove(end)
            attributes[Int(end)] = .userDefined
        }
        // gemma4 / plamo: "</s>" is a normal token when "<|tool_response>" or "<|plamo:eos|>" ends generation.
        if eogTexts.contains("<|tool_response>") || eogTexts.contains("<|plamo:eos|>"),
            let s = eog.first(where: { tokenTexts[Int($0)] == "</s>" })
        {
            eog.remove(s)
            attributes[Int(s)] = .normal
        }
        return eog
    }
}

// MARK: - Strip flags

enum StripFlags {
    /// llama.cpp's per-model strip flags. Phi-3 (general.name containing "phi-3" or "phi3", any case): every
    /// special token and "</s>" eat the whitespace after them, except "<unk>", "<s>" and "<|endoftext|>". The
    /// `<mask>` lstrip of a few embedding models is not applied (those tokenizers are not supported).
    static func apply(
        modelName: String?, texts: [String], lookup: (String) -> Int32?, _ attributes: inout [TokenAttributes]
    ) {
        guard let name = modelName?.lowercased(), name.contains("phi-3") || name.contains("phi3") else { return }
        for i in attributes.indices where !attributes[i].isDisjoint(with: [.control, .userDefined, .unknown]) {
            attributes[i].insert(.rstrip)
        }
        if let id = lookup("</s>") { attributes[Int(id)].insert(.rstrip) }
        for text in ["<unk>", "<s>", "<|endoftext|>"] {
            if let id = lookup(text) { attributes[Int(id)].remove(.rstrip) }
        }
    }
}

// MARK: - Partition around special tokens

/// A piece of the input: raw text still to be pre-tokenized, or a special token matched verbatim.
enum Fragment: Equatable {
    case text(Range<Int>)  // byte offsets into the UTF-8 input
    case token(Int32)
}

/// Special tokens in matching order, with their UTF-8 text.
struct SpecialTokenMatcher: Sendable {
    /// Control, user-defined and unknown tokens, longest text first (ties: lower id first).
    let ids: [Int32]
    let patterns: [[UInt8]]
    /// Matched only when `parseSpecial` (control and unknown tokens); user-defined tokens always are.
    let needsParseSpecial: [Bool]
    /// Whitespace before / after a match is dropped (llama.cpp LSTRIP / RSTRIP).
    let lstrip: [Bool]
    let rstrip: [Bool]

    init(texts: [String], attributes: [TokenAttributes]) {
        var entries: [(id: Int32, bytes: [UInt8], attr: TokenAttributes)] = []
        for (index, attr) in attributes.enumerated()
        where !attr.isDisjoint(with: [.control, .userDefined, .unknown]) {
            entries.append((Int32(index), Array(texts[index].utf8), attr))
        }
        entries.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        ids = entries.map(\.id)
        patterns = entries.map(\.bytes)
        needsParseSpecial = entries.map { !$0.attr.isDisjoint(with: [.control, .unknown]) }
        lstrip = entries.map { $0.attr.contains(.lstrip) }
        rstrip = entries.map { $0.attr.contains(.rstrip) }
    }

    /// Splits `bytes` into text and special-token fragments. Each special token in turn (longest first) splits
    /// every text fragment at all its non-overlapping occurrences, left to right, as llama.cpp does; so an
    /// earlier-listed token wins over any overlapping later one.
    /// - Parameter markup: byte ranges where control tokens are matched even when `parseSpecial` is false (a chat
    ///   template's own markers; the messages between them stay text).
    func partition(_ bytes: [UInt8], parseSpecial: Bool, markup: [Range<Int>] = []) -> [Fragment] {
        guard !bytes.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<bytes.count)]
        var next: [Fragment] = []
        func allowed(_ k: Int, at i: Int, _ n: Int) -> Bool {
            parseSpecial || !needsParseSpecial[k] || markup.contains { $0.lowerBound <= i && i + n <= $0.upperBound }
        }
        bytes.withUnsafeBufferPointer { text in
            for (k, pattern) in patterns.enumerated() where parseSpecial || !needsParseSpecial[k] || !markup.isEmpty {
                guard let first = pattern.first else { continue }
                var changed = false
                next.removeAll(keepingCapacity: true)
                for fragment in fragments {
                    guard case .text(let range) = fragment else {
                        next.append(fragment)
                        continue
                    }
                    var start = range.lowerBound
                    var i = range.lowerBound
                    while i + pattern.count <= range.upperBound {
                        if text[i] == first && Self.matches(text, at: i, pattern) && allowed(k, at: i, pattern.count) {
                            var gapEnd = i
                            if lstrip[k] { while gapEnd > start && Self.isSpace(text[gapEnd - 1]) { gapEnd -= 1 } }
                            if start < gapEnd { next.append(.text(start..<gapEnd)) }
                            next.append(.token(ids[k]))
                            i += pattern.count
                            if rstrip[k] { while i < range.upperBound && Self.isSpace(text[i]) { i += 1 } }
                            start = i
                            changed = true
                        } else {
                            i += 1
                        }
                    }
                    if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
                }
                if changed { swap(&fragments, &next) }
            }
        }
        return fragments
    }

    /// C's isspace: space, \t, \n, \v, \f, \r (what llama.cpp strips).
    @inline(__always)
    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    @inline(__always)
    private static func matches(_ text: UnsafeBufferPointer<UInt8>, at i: Int, _ pattern: [UInt8]) -> Bool {
        for j in 1..<pattern.count where text[i + j] != pattern[j] { return false }
        return true
    }
}
