// BatchEngine: what the scheduler needs from a multi-sequence executor. One forward call carries rows of several
// sequences, each in its own KV-cache slot: new prompts in chunks plus one decode token per running sequence.

/// Tokens of one sequence for one forward call: `tokens` go to positions `startPosition..<startPosition+count`
/// of slot `slot`. Positions from `startPosition` on are overwritten, so a slot that holds a longer sequence is
/// reused for a new one by starting at the length of the common prefix.
public struct BatchChunk: Sendable, Equatable {
    public var slot: Int
    public var startPosition: Int
    public var tokens: [Int32]
    /// Whether the logits of the chunk's last row are wanted (the end of a prompt, or a decode token).
    public var wantLogits: Bool

    public init(slot: Int, startPosition: Int, tokens: [Int32], wantLogits: Bool) {
        self.slot = slot
        self.startPosition = startPosition
        self.tokens = tokens
        self.wantLogits = wantLogits
    }
}

/// A model that runs several sequences per forward pass. Used from one thread at a time (the scheduler's).
public protocol BatchEngine: AnyObject {
    /// Sequence slots in the KV cache.
    var slotCount: Int { get }
    /// Positions each slot holds.
    var contextPerSlot: Int { get }
    /// Most rows (tokens over all chunks) one forward call takes.
    var maxBatchRows: Int { get }
    var vocabularySize: Int { get }
    /// Runs `chunks` (distinct slots) and returns the logits (vocabularySize) of the last row of each chunk that
    /// wants them, in the order of `chunks`.
    func forward(_ chunks: [BatchChunk]) throws -> [[Float]]
    /// Makes slot `destination` hold the first `count` positions of slot `source` (which holds at least that many):
    /// a prompt prefix that another sequence already computed (a shared system prompt) is copied, not recomputed.
    func copyPrefix(from source: Int, to destination: Int, count: Int) throws
    /// Whether a chunk of `slot` may start at `position` (<= what it holds): false where a sliding-window layer's
    /// ring has overwritten the window before it (the prompt is then fed from 0).
    func canResume(slot: Int, at position: Int) -> Bool
}

extension BatchEngine {
    /// Engines whose caches keep every position can resume anywhere they hold.
    public func canResume(slot: Int, at position: Int) -> Bool { true }
}
