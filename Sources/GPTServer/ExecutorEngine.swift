// ExecutorEngine: the BatchEngine over GPTEngine's executor.
// INTERIM: one single-sequence executor per slot, run one chunk after another, until the multi-sequence executor
// lands on main; then this file becomes a thin adapter over it.
import GPTCore
import GPTEngine

public final class ExecutorEngine: BatchEngine {
    private let executors: [TransformerExecutor]
    public let contextPerSlot: Int
    public let maxBatchRows: Int
    public let vocabularySize: Int
    public var slotCount: Int { executors.count }

    public init(model: LanguageModel, slots: Int, contextPerSlot: Int, maxBatchRows: Int = 512) throws {
        executors = try (0..<slots).map { _ in
            try TransformerExecutor(weights: model.executor.weights, backend: model.backend, nCtx: contextPerSlot,
                                    maxBatch: maxBatchRows, attention: model.executor.attention,
                                    kvFormat: model.executor.kvFormat)
        }
        self.contextPerSlot = contextPerSlot
        self.maxBatchRows = maxBatchRows
        self.vocabularySize = model.config.nVocab
    }

    public func forward(_ chunks: [BatchChunk]) throws -> [[Float]] {
        var out: [[Float]] = []
        for chunk in chunks {
            let e = executors[chunk.slot]
            e.rewind(to: chunk.startPosition)
            precondition(e.position == chunk.startPosition, "slot \(chunk.slot) holds \(e.position) positions")
            let logits = try e.forward(chunk.tokens)
            if chunk.wantLogits { out.append(logits) }
        }
        return out
    }
}

/// The batch engine for `model` (what `gpt serve` and `gpt bench --parallel` run on).
public func makeBatchEngine(model: LanguageModel, slots: Int, contextPerSlot: Int, maxBatchRows: Int) throws
    -> any BatchEngine
{
    try ExecutorEngine(model: model, slots: slots, contextPerSlot: contextPerSlot, maxBatchRows: maxBatchRows)
}
