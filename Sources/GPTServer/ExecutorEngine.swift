// ExecutorEngine: the BatchEngine over GPTEngine's multi-sequence executor. One KV cache with a slot per sequence;
// each forward call is one executor.forward(_:cache:), so the products read every weight once for the rows of all
// running sequences and attention runs per sequence over its own slot.
import GPTCore
import GPTEngine

public final class ExecutorEngine: BatchEngine {
    private let executor: TransformerExecutor
    private let cache: KVCache
    public let contextPerSlot: Int
    public var maxBatchRows: Int { executor.maxBatch }
    public let vocabularySize: Int
    public var slotCount: Int { cache.slots }

    /// A cache of `slots` sequences of `contextPerSlot` positions each, on the model's own executor (its weights,
    /// backend, attention kind and KV format; the model's single-sequence cache is not touched).
    public init(model: LanguageModel, slots: Int, contextPerSlot: Int) throws {
        executor = model.executor
        cache = try executor.makeCache(slots: slots, nCtx: contextPerSlot)
        // The scheduler owns slot assignment: every slot is taken for it up front.
        for _ in 0..<slots { _ = cache.allocate() }
        self.contextPerSlot = contextPerSlot
        self.vocabularySize = model.config.nVocab
    }

    public func forward(_ chunks: [BatchChunk]) throws -> [[Float]] {
        let batch = chunks.map {
            SequenceChunk(slot: $0.slot, startPosition: $0.startPosition, tokens: $0.tokens, wantLogits: $0.wantLogits)
        }
        let logits = try executor.forward(batch, cache: cache)
        return zip(chunks, logits).compactMap { $0.wantLogits ? $1 : nil }
    }

    public func copyPrefix(from source: Int, to destination: Int, count: Int) throws {
        try cache.copyPrefix(from: source, to: destination, count: count)
    }

    public func canResume(slot: Int, at position: Int) -> Bool { cache.canResume(slot, at: position) }
}

/// The batch engine for `model` (what `gpt serve` and `gpt bench --parallel` run on). Rows per pass are the
/// model executor's (its --batch).
public func makeBatchEngine(model: LanguageModel, slots: Int, contextPerSlot: Int) throws -> any BatchEngine {
    try ExecutorEngine(model: model, slots: slots, contextPerSlot: contextPerSlot)
}
