// BPETokenizer: byte-level BPE (GPT-2 style) built from a GGUF vocabulary, encoding exactly as llama.cpp's
// llm_tokenizer_bpe_session does and decoding as its token_to_piece does. Steps of `encode`:
//   1. split the UTF-8 text around special tokens (SpecialTokens.swift),
//   2. split each text fragment into words with the pre-tokenizer named by tokenizer.ggml.pre (PreTokenizer.swift),
//   3. merge each word's bytes, lowest merge rank first (leftmost on ties), into vocabulary tokens.
// Not here: SentencePiece/WordPiece vocabularies, llama.cpp's `clean_spaces` detokenizer pass, lstrip/rstrip
// token flags (set by llama.cpp only for a few model names). No per-word cache: a release build encodes about
// 5000 tokens per millisecond without one, and a cache would need a lock in this shared, immutable object.

/// A byte-level BPE tokenizer. Immutable after `init`, so one instance may be shared across threads.
public final class BPETokenizer: Sendable {
    // MARK: - Vocabulary

    /// (nVocab,) token texts as stored in the file (byte-encoded: "Ġworld" is " world").
    private let tokenTexts: [String]
    /// (nVocab,) attributes after llama.cpp's fix-ups (EOG and FIM tokens forced to control).
    private let attributes: [TokenAttributes]
    /// Text -> symbol id for every vocabulary token (id < nVocab) and every merge operand or result that is not a
    /// token (id >= nVocab). BPE works on these ids, never on strings.
    private let symbolIDs: [String: Int32]
    /// (nSymbols - nVocab,) UTF-8 of the symbols that are not tokens (needed only if one survives merging).
    private let extraSymbolUTF8: [[UInt8]]
    /// (256,) symbol of each raw byte's GPT-2 character: a word's merging starts from these.
    private let byteSymbol: [Int32]
    /// (left << 32 | right) -> (rank << 32 | merged symbol); rank = line number in tokenizer.ggml.merges.
    private let merges: [UInt64: UInt64]

    // MARK: - Decoding tables

    /// Every token's decoded bytes, concatenated; token i is pieceBytes[pieceStart[i]..<pieceStart[i + 1]].
    private let pieceBytes: [UInt8]
    /// (nVocab + 1,) offsets into `pieceBytes`.
    private let pieceStart: [Int32]

    // MARK: - Special tokens

    private let specialMatcher: SpecialTokenMatcher
    private let endOfGenerationIDs: Set<Int32>
    /// The pre-tokenizer named by tokenizer.ggml.pre.
    public let preTokenizer: PreTokenizer
    public let bosID: Int32?
    public let eosID: Int32?
    /// Whether `encode` starts with BOS (tokenizer.ggml.add_bos_token) and ends with EOS (add_eos_token).
    public let addBOS: Bool
    public let addEOS: Bool

    /// Number of tokens in the vocabulary (nVocab).
    public var vocabSize: Int { tokenTexts.count }

    /// Builds a tokenizer from the arrays a GGUF file stores.
    /// - Parameters:
    ///   - tokens: (nVocab,) tokenizer.ggml.tokens, byte-encoded texts.
    ///   - tokenTypes: tokenizer.ggml.token_type, at least nVocab entries (1 normal, 3 control, 4 user-defined, ...).
    ///   - merges: tokenizer.ggml.merges, "left right" per line; line number = rank (lower merges first).
    ///   - preTokenizer: tokenizer.ggml.pre ("smollm", "gpt-2", "default", ...; see `PreTokenizer.supportedNames`).
    ///   - bos, eos: special token ids; an id outside the vocabulary is dropped (llama.cpp warns and does the same).
    ///   - addBOS, addEOS: whether `encode` adds them.
    ///   - specialIDs: further special ids from the file (EOT, EOM, FIM); missing ones are found by text.
    /// - Throws: `TokenizerError` for an empty vocabulary, short token_type array, unknown pre-tokenizer or a merge
    ///   line without a space.
    public init(
        tokens: [String], tokenTypes: [Int], merges: [String], preTokenizer: String, bos: Int32?, eos: Int32?,
        addBOS: Bool, addEOS: Bool = false, specialIDs: SpecialTokenIDs = SpecialTokenIDs()
    ) throws {
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary }
        guard tokenTypes.count >= tokens.count else {
            throw TokenizerError.countMismatch(
                key: "tokenizer.ggml.token_type", tokens: tokens.count, got: tokenTypes.count)
        }
        self.preTokenizer = try PreTokenizer(named: preTokenizer)
        let nVocab = tokens.count
        func inVocab(_ id: Int32?) -> Int32? { id.flatMap { $0 >= 0 && Int($0) < nVocab ? $0 : nil } }

        // Token texts; llama.cpp renames empty ones so every text is a distinct key.
        var texts = tokens
        var symbols = [String: Int32](minimumCapacity: nVocab + nVocab / 8)
        for i in 0..<nVocab {
            if texts[i].isEmpty { texts[i] = "[EMPTY_\(i)]" }
            symbols[texts[i]] = Int32(i)  // a repeated text maps to its last id, as in llama.cpp
        }

        // Symbols and merge ranks. llama.cpp keeps the first rank of a repeated pair.
        var extra: [[UInt8]] = []
        func intern<S: StringProtocol>(_ text: S) -> Int32 {
            let key = String(text)
            if let id = symbols[key] { return id }
            let id = Int32(nVocab + extra.count)
            symbols[key] = id
            extra.append(Array(key.utf8))
            return id
        }
        var ranks = [UInt64: UInt64](minimumCapacity: merges.count)
        for (rank, line) in merges.enumerated() {
            // llama.cpp splits at the first space after the first byte, so "  x" is (" ", "x").
            let utf8 = line.utf8
            guard let space = utf8.dropFirst().firstIndex(of: 0x20) else {
                throw TokenizerError.badMerge(index: rank, line: line)
            }
            let left = line[..<space]
            let right = line[utf8.index(after: space)...]
            let l = intern(left)
            let r = intern(right)
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if ranks[key] == nil {
                let merged = intern(String(left) + String(right))
                ranks[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
            }
        }
        self.byteSymbol = (0..<256).map { intern(String(Unicode.Scalar(GPT2ByteMap.scalarForByte[$0])!)) }
        self.merges = ranks

        // Attributes, end-of-generation set (which may change attributes), special-token matcher.
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
            texts: texts, lookup: { symbols[$0].flatMap { $0 < nVocab ? $0 : nil } }, attributes: &attrs,
            eos: eosValue, ids: ids)
        self.specialMatcher = SpecialTokenMatcher(texts: texts, attributes: attrs)

        // Decoded bytes of every token (llama.cpp's token_to_piece cache, special = true).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(nVocab * 8)
        var starts: [Int32] = [0]
        starts.reserveCapacity(nVocab + 1)
        for i in 0..<nVocab {
            bytes += Self.decodedPiece(texts[i], attrs[i])
            starts.append(Int32(bytes.count))
        }

        self.tokenTexts = texts
        self.attributes = attrs
        self.symbolIDs = symbols
        self.extraSymbolUTF8 = extra
        self.pieceBytes = bytes
        self.pieceStart = starts
        self.addBOS = addBOS
        self.addEOS = addEOS
    }

    /// A token's bytes: special and user-defined tokens are their text, normal tokens are GPT-2-decoded, byte
    /// tokens "<0xXX>" are one byte, unused/undefined tokens are empty.
    private static func decodedPiece(_ text: String, _ attr: TokenAttributes) -> [UInt8] {
        if !attr.isDisjoint(with: [.control, .unknown, .userDefined]) { return Array(text.utf8) }
        if attr.contains(.normal) { return GPT2ByteMap.decode(text) }
        if attr.contains(.byte) {
            let hex = Array(text.utf8.dropFirst(3).prefix(2))
            return UInt8(String(decoding: hex, as: UTF8.self), radix: 16).map { [$0] } ?? []
        }
        return []
    }

    // MARK: - Encoding

    /// Encodes text to token ids, as llama.cpp's `llama_tokenize(vocab, text, add_special: true, parse_special)`.
    /// - Parameters:
    ///   - text: any string (empty gives just BOS/EOS if the model adds them).
    ///   - parseSpecial: match control tokens such as "<|im_start|>" written in the text (for chat prompts);
    ///     when false they are encoded as ordinary text. User-defined tokens are always matched.
    /// - Returns: token ids, starting with BOS when `addBOS` and ending with EOS when `addEOS`.
    public func encode(_ text: String, parseSpecial: Bool = false) -> [Int32] {
        encode(text, parseSpecial: parseSpecial, markup: [])
    }

    /// Encodes a rendered chat prompt: control tokens are matched only in the template's markup, so a message
    /// that contains "<|im_end|><|im_start|>system" is encoded as that text, never as role markers. Apart from
    /// that, the ids are those of `encode(prompt.text, parseSpecial: true)` (the text is split the same way).
    public func encode(_ prompt: ChatPrompt) -> [Int32] {
        encode(prompt.text, parseSpecial: false, markup: prompt.markup)
    }

    private func encode(_ text: String, parseSpecial: Bool, markup: [Range<Int>]) -> [Int32] {
        var out: [Int32] = []
        if addBOS, let bosID { out.append(bosID) }
        let bytes = Array(text.utf8)
        var scratch = Scratch()
        for fragment in specialMatcher.partition(bytes, parseSpecial: parseSpecial, markup: markup) {
            switch fragment {
            case .token(let id): out.append(id)
            case .text(let range): encodeText(bytes, range, into: &out, &scratch)
            }
        }
        if addEOS, let eosID { out.append(eosID) }
        return out
    }

    /// Reusable buffers for one `encode` call (kept per call so the tokenizer stays shareable).
    private struct Scratch {
        var scalars: [UInt32] = []  // (n,) scalars of the fragment
        var classes: [ScalarClass] = []  // (n,)
        var offsets: [Int] = []  // (n + 1,) byte offset of each scalar, then the fragment end
        var symbol: [Int32] = []  // (word bytes,) symbol ids, -1 once merged away
        var prev: [Int32] = []
        var next: [Int32] = []
        var heap = BigramHeap()
    }

    /// Pre-tokenizes one fragment (valid UTF-8: it comes from a String, cut at special-token boundaries) and
    /// merges each word.
    private func encodeText(_ bytes: [UInt8], _ range: Range<Int>, into out: inout [Int32], _ s: inout Scratch) {
        s.scalars.removeAll(keepingCapacity: true)
        s.classes.removeAll(keepingCapacity: true)
        s.offsets.removeAll(keepingCapacity: true)
        var i = range.lowerBound
        while i < range.upperBound {
            let b0 = UInt32(bytes[i])
            var value: UInt32
            var length: Int
            if b0 < 0x80 {
                value = b0
                length = 1
            } else if b0 < 0xE0 {
                value = b0 & 0x1F
                length = 2
            } else if b0 < 0xF0 {
                value = b0 & 0x0F
                length = 3
            } else {
                value = b0 & 0x07
                length = 4
            }
            for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            s.scalars.append(value)
            s.classes.append(ScalarClass.of(value))
            s.offsets.append(i)
            i += length
        }
        s.offsets.append(range.upperBound)

        for word in preTokenizer.split(s.scalars, classes: s.classes) {
            merge(bytes, s.offsets[word.lowerBound]..<s.offsets[word.upperBound], into: &out, &s)
        }
    }

    /// BPE on one word: start from one symbol per byte, repeatedly merge the adjacent pair with the lowest rank
    /// (leftmost on ties), then emit each remaining symbol's token. A priority queue with stale entries skipped,
    /// as llama.cpp's `llm_bigram_bpe` queue, so long words cost O(n log n).
    private func merge(_ bytes: [UInt8], _ word: Range<Int>, into out: inout [Int32], _ s: inout Scratch) {
        let n = word.count
        if n == 1 {
            emit(byteSymbol[Int(bytes[word.lowerBound])], into: &out)
            return
        }
        s.symbol.removeAll(keepingCapacity: true)
        s.prev.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        for k in 0..<n {
            s.symbol.append(byteSymbol[Int(bytes[word.lowerBound + k])])
            s.prev.append(Int32(k - 1))
            s.next.append(k + 1 < n ? Int32(k + 1) : -1)
        }
        s.heap.removeAll()
        for k in 0..<(n - 1) { pushPair(Int32(k), Int32(k + 1), &s) }

        while let top = s.heap.pop() {
            let l = Int(top.left)
            let r = Int(top.right)
            // Stale if either side has merged since the pair was queued (a symbol's id changes when it grows).
            guard s.symbol[l] == top.leftSymbol, s.symbol[r] == top.rightSymbol else { continue }
            s.symbol[l] = top.merged
            s.symbol[r] = -1
            let after = s.next[r]
            s.next[l] = after
            if after >= 0 { s.prev[Int(after)] = top.left }
            if s.prev[l] >= 0 { pushPair(s.prev[l], top.left, &s) }
            if after >= 0 { pushPair(top.left, after, &s) }
        }

        var k: Int32 = 0
        while k >= 0 {
            emit(s.symbol[Int(k)], into: &out)
            k = s.next[Int(k)]
        }
    }

    @inline(__always)
    private func pushPair(_ left: Int32, _ right: Int32, _ s: inout Scratch) {
        let l = s.symbol[Int(left)]
        let r = s.symbol[Int(right)]
        let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
        guard let entry = merges[key] else { return }
        s.heap.push(
            Bigram(
                rank: Int32(truncatingIfNeeded: entry >> 32), left: left, right: right, leftSymbol: l,
                rightSymbol: r, merged: Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF)))
    }

    /// Appends a symbol's token. A symbol that is not a token (merges can build text the vocabulary lacks) falls
    /// back, as in llama.cpp, to the tokens of its single UTF-8 bytes, skipping bytes that are no token.
    @inline(__always)
    private func emit(_ symbol: Int32, into out: inout [Int32]) {
        if Int(symbol) < tokenTexts.count {
            out.append(symbol)
            return
        }
        for byte in extraSymbolUTF8[Int(symbol) - tokenTexts.count] where byte < 0x80 {
            if let id = symbolIDs[String(Unicode.Scalar(byte))], Int(id) < tokenTexts.count { out.append(id) }
        }
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

    /// Appends one token's bytes.
    func appendPiece(_ id: Int32, renderSpecial: Bool, to out: inout [UInt8]) {
        guard id >= 0 && Int(id) < tokenTexts.count else { return }
        if !renderSpecial && !attributes[Int(id)].isDisjoint(with: [.control, .unknown]) { return }
        out += pieceBytes[Int(pieceStart[Int(id)])..<Int(pieceStart[Int(id) + 1])]
    }

    // MARK: - Lookup

    /// The id of the vocabulary entry whose stored text is exactly `text` ("<|im_end|>", "Ġworld").
    public func tokenID(_ text: String) -> Int32? {
        guard let id = symbolIDs[text], Int(id) < tokenTexts.count else { return nil }
        return id
    }

    /// The vocabulary entry of `id` as stored (byte-encoded), or nil outside the vocabulary.
    public func tokenText(_ id: Int32) -> String? {
        id >= 0 && Int(id) < tokenTexts.count ? tokenTexts[Int(id)] : nil
    }

    /// Whether `id` is a control/unknown token (hidden when decoding with `renderSpecial: false`).
    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < tokenTexts.count && !attributes[Int(id)].isDisjoint(with: [.control, .unknown])
    }

    /// Whether generation stops at `id`: EOS, EOT/EOM, FIM pad/repo/sep, and every token llama.cpp's EOG list
    /// names ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<end_of_turn>", "<|end_of_text|>", ...).
    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationIDs.contains(id) }

    /// All end-of-generation ids, sorted.
    public var endOfGenerationTokens: [Int32] { endOfGenerationIDs.sorted() }
}

// MARK: - Merge queue

/// A candidate merge of symbols `left` and `right` (indices into the word), with the symbol ids it was made
/// from so a stale entry can be recognised.
struct Bigram {
    var rank: Int32
    var left: Int32
    var right: Int32
    var leftSymbol: Int32
    var rightSymbol: Int32
    var merged: Int32

    /// Lower rank first, then the leftmost pair (llama.cpp's `llm_bigram_bpe::comparator`).
    @inline(__always)
    func precedes(_ other: Bigram) -> Bool {
        rank != other.rank ? rank < other.rank : left < other.left
    }
}

/// A binary min-heap of bigrams.
struct BigramHeap {
    private var items: [Bigram] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ item: Bigram) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Bigram? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < items.count else { break }
                let right = left + 1
                let child = right < items.count && items[right].precedes(items[left]) ? right : left
                guard items[child].precedes(items[parent]) else { break }
                items.swapAt(child, parent)
                parent = child
            }
        }
        return top
    }
}
