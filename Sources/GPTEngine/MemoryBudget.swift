// MemoryBudget: what a loaded model holds in memory, by purpose, as llama.cpp's load log lists its buffers:
// weights, KV cache, activation buffers, logits, backend scratch. Printed by `gpt inspect` and `--verbose` loads;
// `gpt bench` measures the process's real peak beside it.
import Foundation
import GPTCore

public struct MemoryBudget: Sendable {
    /// Weights uploaded to the backend or computed on in place (mapped file pages, resident once read).
    public var weights: Int
    /// The single-sequence KV cache at its full context.
    public var kvCache: Int
    /// The plan's activation buffers for its largest batch, the logits buffer excepted.
    public var activations: Int
    /// The logits buffer (the rows of one output group) and the host copy of one row.
    public var logits: Int
    /// The backend's working memory at its largest: the biggest product or a full-context attention.
    public var scratch: Int

    public var total: Int { weights + kvCache + activations + logits + scratch }

    /// One line per part, in MiB, then the total: `  KV cache      90.0 MiB`.
    public func render() -> String {
        let parts = [("weights", weights), ("KV cache", kvCache), ("activations", activations), ("logits", logits),
                     ("scratch", scratch), ("total", total)]
        return parts.map { name, bytes in
            "  " + name.padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(format: "%8.1f MiB\n", Double(bytes) / 1_048_576)
        }.joined()
    }
}

extension TransformerExecutor {
    /// The memory this executor holds or will hold once its cache is full and its largest batch has run.
    public func memoryBudget() throws -> MemoryBudget {
        let c = config
        let rows = KVCache.layerRows(nCtx: nCtx, windows: layerWindows, rowsPerForward: maxBatch)
        let kv = 2 * rows.reduce(0) { $0 + kvFormat.byteCount($1 * c.kvDim) }
        let logitsBuffer = plan.logits?.byteCount ?? 0
        // Scratch: every op of the body at the largest batch, attention with the batch at the end of the context.
        let stand = try backend.allocate([1, c.kvDim], kvFormat, label: "kv_cache (budget)")
        var scratch = 0
        for step in plan.body {
            switch step {
            case .op(let op): scratch = max(scratch, backend.scratchBytes(for: op.with(rows: maxBatch)))
            case .attention(_, _, _, var a):
                (a.kCache, a.vCache, a.kind, a.rows, a.startPos) = (stand, stand, attention, maxBatch, nCtx - maxBatch)
                scratch = max(scratch, backend.scratchBytes(for: .attention(a)))
            default: break
            }
        }
        for op in plan.head { scratch = max(scratch, backend.scratchBytes(for: op.with(rows: plan.outputGroup))) }
        return MemoryBudget(weights: weightBytes, kvCache: kv, activations: plan.activationBytes - logitsBuffer,
                            logits: logitsBuffer + c.nVocab * 4, scratch: scratch)
    }
}
