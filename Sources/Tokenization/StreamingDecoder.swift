// StreamingDecoder: turns generated token ids into text as they arrive, never printing half a UTF-8 character.
// A byte-level token may end inside a character (an emoji is often two or three tokens); the incomplete tail is
// held back until the next token completes it.

/// Incremental decoder for generated tokens.
public struct StreamingDecoder {
    private let tokenizer: BPETokenizer
    private let renderSpecial: Bool
    /// Bytes received but not yet returned: at most one incomplete character (<= 3 bytes) between calls.
    private var pending: [UInt8] = []

    /// - Parameter renderSpecial: show control tokens ("<|im_end|>") as text, as `decode` does by default.
    public init(tokenizer: BPETokenizer, renderSpecial: Bool = true) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds one token and returns the text it completes: whole characters only, possibly "". Bytes that can
    /// never form a character (invalid UTF-8) are returned as U+FFFD rather than held forever.
    public mutating func append(_ id: Int32) -> String {
        tokenizer.appendPiece(id, renderSpecial: renderSpecial, to: &pending)
        let keep = Self.incompleteTailLength(pending)
        guard pending.count > keep else { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Returns whatever is held back (an incomplete character becomes U+FFFD) and resets the decoder.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the suffix of `bytes` that is the start of a UTF-8 character still missing bytes: a lead byte
    /// followed by fewer continuation bytes than it announces. 0 when the buffer ends on a whole character or on
    /// bytes that are invalid whatever comes next.
    static func incompleteTailLength(_ bytes: [UInt8]) -> Int {
        // Look back over at most 3 continuation bytes for the lead byte of the last character.
        var i = bytes.count - 1
        var continuation = 0
        while i >= 0 && continuation < 4 && bytes[i] & 0xC0 == 0x80 {
            continuation += 1
            i -= 1
        }
        guard i >= 0 else { return 0 }
        let lead = bytes[i]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 1
        case 0xE0...0xEF: needed = 2
        case 0xF0...0xF4: needed = 3
        default: return 0  // ASCII or an invalid lead byte: nothing to wait for
        }
        return continuation < needed ? continuation + 1 : 0
    }
}
