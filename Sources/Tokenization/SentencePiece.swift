// SentencePiece: the merge step of `tokenizer.ggml.model = llama` vocabularies (Llama 2, Phi-3, Gemma), encoding
// as llama.cpp's llm_tokenizer_spm_session does. One text fragment at a time (the caller has already split the
// text around special tokens and added the space prefix):
//   1. spaces become "▁" (U+2581),
//   2. the fragment starts as one symbol per UTF-8 character,
//   3. the adjacent pair whose concatenation is the vocabulary token with the highest score merges first (the
//      leftmost pair on ties), until no adjacent pair forms a token,
//   4. each symbol is its token; a character that is no token falls back to its bytes' <0xXX> tokens.
// Not here: SentencePiece's unigram (`t5`) model, and normalisation beyond the space escape (llama.cpp does none).

/// The SentencePiece merge tables of a vocabulary. Immutable, so shareable across threads.
struct SentencePieceMerges: Sendable {
    /// (nVocab,) tokenizer.ggml.scores: higher merges first.
    let scores: [Float]
    /// (256,) the <0xXX> token of each byte (else the token whose text is that single byte), -1 when neither
    /// exists; then the unknown token is emitted instead (llama.cpp stops with an exception there).
    let byteTokens: [Int32]
    /// Unknown token for bytes without a token, or nil.
    let unknownID: Int32?

    /// "▁", which stands for a space in SentencePiece vocabularies.
    static let spaceMarker: [UInt8] = [0xE2, 0x96, 0x81]

    init(scores: [Float], texts: ByteStringTable, unknownID: Int32?) {
        self.scores = scores
        self.unknownID = unknownID
        let hex = Array("0123456789ABCDEF".utf8)
        self.byteTokens = (0..<256).map { b -> Int32 in
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // "<0xXX>"
            return texts.id(name) ?? texts.id([UInt8(b)]) ?? -1
        }
    }

    /// Reusable buffers for one `encode` call.
    struct Scratch {
        var text: [UInt8] = []  // the escaped fragment
        var start: [Int32] = []  // (n,) byte offset of each symbol in `text`
        var length: [Int32] = []  // (n,) byte length, 0 once merged into its left neighbour
        var prev: [Int32] = []
        var next: [Int32] = []
        var heap = PriorityHeap<ScoredPair>()
    }

    /// Encodes one fragment.
    /// - Parameters:
    ///   - fragment: the UTF-8 of the fragment (valid UTF-8), without the space prefix.
    ///   - spacePrefix: put a space before it (tokenizer.ggml.add_space_prefix, at the text start and after a
    ///     special token).
    ///   - vocabulary: token texts -> ids (all tokens, special ones included, as llama.cpp's `text_to_token`).
    func encode(
        _ fragment: ArraySlice<UInt8>, spacePrefix: Bool, vocabulary: ByteStringTable, into out: inout [Int32],
        _ s: inout Scratch
    ) {
        s.text.removeAll(keepingCapacity: true)
        if spacePrefix { s.text += Self.spaceMarker }
        for b in fragment {
            if b == 0x20 { s.text += Self.spaceMarker } else { s.text.append(b) }
        }
        guard !s.text.isEmpty else { return }

        // One symbol per UTF-8 character (the lead byte gives the length, as llama.cpp's unicode_len_utf8).
        s.start.removeAll(keepingCapacity: true)
        s.length.removeAll(keepingCapacity: true)
        s.prev.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        var offset = 0
        while offset < s.text.count {
            let lead = s.text[offset]
            let n = min(lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4, s.text.count - offset)
            s.prev.append(Int32(s.start.count - 1))
            s.start.append(Int32(offset))
            s.length.append(Int32(n))
            offset += n
            s.next.append(offset == s.text.count ? -1 : Int32(s.start.count))
        }

        s.text.withUnsafeBufferPointer { text in
            s.heap.removeAll()
            for i in 1..<s.start.count { addPair(Int32(i - 1), Int32(i), text, vocabulary, &s) }
            while let pair = s.heap.pop() {
                let l = Int(pair.left)
                let r = Int(pair.right)
                // Stale if either side merged since the pair was queued (llama.cpp's size check).
                guard s.length[l] > 0, s.length[r] > 0, s.length[l] + s.length[r] == pair.size else { continue }
                s.length[l] += s.length[r]
                s.length[r] = 0
                s.next[l] = s.next[r]
                if s.next[r] >= 0 { s.prev[Int(s.next[r])] = pair.left }
                addPair(s.prev[l], pair.left, text, vocabulary, &s)
                addPair(pair.left, s.next[l], text, vocabulary, &s)
            }

            var i: Int32 = 0
            while i >= 0 {
                let start = Int(s.start[Int(i)])
                let piece = UnsafeBufferPointer(rebasing: text[start..<(start + Int(s.length[Int(i)]))])
                if let id = vocabulary.id(piece) {
                    out.append(id)
                } else {
                    for b in piece {
                        let id = byteTokens[Int(b)]
                        if id >= 0 {
                            out.append(id)
                        } else if let unknownID {
                            out.append(unknownID)
                        }
                    }
                }
                i = s.next[Int(i)]
            }
        }
    }

    /// Queues the merge of symbols `left` and `right` if their concatenated text is a token.
    @inline(__always)
    private func addPair(
        _ left: Int32, _ right: Int32, _ text: UnsafeBufferPointer<UInt8>, _ vocabulary: ByteStringTable,
        _ s: inout Scratch
    ) {
        guard left >= 0, right >= 0 else { return }
        let start = Int(s.start[Int(left)])
        let size = s.length[Int(left)] + s.length[Int(right)]
        guard let id = vocabulary.id(UnsafeBufferPointer(rebasing: text[start..<(start + Int(size))])) else { return }
        s.heap.push(ScoredPair(score: scores[Int(id)], left: left, right: right, size: size))
    }
}

// MARK: - Merge queue

/// A candidate merge of adjacent symbols, scored by the token it would form.
struct ScoredPair: Prioritized {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32  // byte length of the merged text, to recognise a stale entry

    /// Higher score first, then the leftmost pair (llama.cpp's `llm_bigram_spm::comparator`).
    @inline(__always)
    func precedes(_ other: ScoredPair) -> Bool {
        score != other.score ? score > other.score : left < other.left
    }
}
