// BytePairMerges: the merge step of byte-level BPE vocabularies (`tokenizer.ggml.model = gpt2`), encoding as
// llama.cpp's llm_tokenizer_bpe_session does. One text fragment at a time (the caller has already split the text
// around special tokens):
//   1. the pre-tokenizer named by tokenizer.ggml.pre splits the fragment into words (PreTokenizer.swift),
//   2. a word that is itself a token is emitted whole when the pre-tokenizer says so (llama.cpp `ignore_merges`),
//   3. otherwise its bytes merge, lowest merge rank first (leftmost on ties), into vocabulary tokens.
// No per-word cache: a release build encodes about 5000 tokens per millisecond without one, and a cache would
// need a lock in this shared, immutable object.

/// The byte-level BPE merge tables of a vocabulary. Immutable, so shareable across threads.
struct BytePairMerges: Sendable {
    /// Exact bytes of every vocabulary token's text -> its id (the tokenizer's own table, shared, not copied).
    private let vocabulary: ByteStringTable
    /// (nSymbols - nVocab,) UTF-8 of the merge operands and results that are not tokens (ids >= nVocab; needed
    /// only if one survives merging).
    private let extraSymbolUTF8: [[UInt8]]
    /// (256,) symbol of each raw byte's GPT-2 character: a word's merging starts from these.
    private let byteSymbol: [Int32]
    /// (left << 32 | right) -> (rank << 32 | merged symbol); rank = line number in tokenizer.ggml.merges.
    private let merges: [UInt64: UInt64]
    private let nVocab: Int
    let preTokenizer: PreTokenizer

    /// - Parameters:
    ///   - vocabulary: (nVocab,) token texts (byte-encoded, empty ones already renamed) -> ids, compared by bytes
    ///     as llama.cpp's token_to_id does.
    ///   - merges: tokenizer.ggml.merges, "left right" per line; line number = rank.
    /// - Throws: `TokenizerError.badMerge` for a line without a space after its first character.
    init(vocabulary: ByteStringTable, nVocab: Int, merges: [String], preTokenizer: PreTokenizer) throws {
        // Symbols: a vocabulary token's id, or an id past the vocabulary for other texts the merges name. Only
        // those few extra texts need a map of their own while the merges are read; BPE then works on ids.
        var extra: [[UInt8]] = []
        var extraIDs: [[UInt8]: Int32] = [:]
        func intern(_ bytes: [UInt8]) -> Int32 {
            if let id = bytes.withUnsafeBufferPointer({ vocabulary.id($0) }) ?? extraIDs[bytes] { return id }
            let id = Int32(nVocab + extra.count)
            extraIDs[bytes] = id
            extra.append(bytes)
            return id
        }
        // Merge ranks; llama.cpp keeps the first rank of a repeated pair.
        var ranks = [UInt64: UInt64](minimumCapacity: merges.count)
        for (rank, line) in merges.enumerated() {
            // llama.cpp splits at the first space after the first byte, so "  x" is (" ", "x").
            let utf8 = Array(line.utf8)
            guard let space = utf8.dropFirst().firstIndex(of: 0x20) else {
                throw TokenizerError.badMerge(index: rank, line: line)
            }
            let left = Array(utf8[..<space])
            let right = Array(utf8[(space + 1)...])
            let l = intern(left)
            let r = intern(right)
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if ranks[key] == nil {
                ranks[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: intern(left + right)))
            }
        }
        self.byteSymbol = (0..<256).map { intern(GPT2ByteMap.utf8ForByte[$0]) }
        self.merges = ranks
        self.vocabulary = vocabulary
        self.extraSymbolUTF8 = extra
        self.nVocab = nVocab
        self.preTokenizer = preTokenizer
    }

    /// Reusable buffers for one `encode` call (kept per call so the tokenizer stays shareable).
    struct Scratch {
        var scalars: [UInt32] = []  // (n,) scalars of the fragment
        var classes: [ScalarClass] = []  // (n,)
        var offsets: [Int] = []  // (n + 1,) byte offset of each scalar, then the fragment end
        var symbol: [Int32] = []  // (word bytes,) symbol ids, -1 once merged away
        var prev: [Int32] = []
        var next: [Int32] = []
        var word: [UInt8] = []  // byte-encoded word, for the whole-word lookup
        var heap = PriorityHeap<Bigram>()
    }

    /// Pre-tokenizes one fragment (valid UTF-8: it comes from a String, cut at special-token boundaries) and
    /// merges each word.
    func encode(_ bytes: [UInt8], _ range: Range<Int>, into out: inout [Int32], _ s: inout Scratch) {
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
            let wordBytes = s.offsets[word.lowerBound]..<s.offsets[word.upperBound]
            if preTokenizer.ignoresMerges, let id = wholeWordToken(bytes, wordBytes, &s) {
                out.append(id)
            } else {
                merge(bytes, wordBytes, into: &out, &s)
            }
        }
    }

    /// The token whose text is the whole (byte-encoded) word, if any.
    private func wholeWordToken(_ bytes: [UInt8], _ word: Range<Int>, _ s: inout Scratch) -> Int32? {
        s.word.removeAll(keepingCapacity: true)
        for b in bytes[word] { s.word += GPT2ByteMap.utf8ForByte[Int(b)] }
        return s.word.withUnsafeBufferPointer { vocabulary.id($0) }
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
        if Int(symbol) < nVocab {
            out.append(symbol)
            return
        }
        for byte in extraSymbolUTF8[Int(symbol) - nVocab] where byte < 0x80 {
            if let id = vocabulary.id(CollectionOfOne(byte)) { out.append(id) }
        }
    }
}

// MARK: - Merge queue

/// A candidate merge of symbols `left` and `right` (indices into the word), with the symbol ids it was made
/// from so a stale entry can be recognised.
struct Bigram: Prioritized {
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
