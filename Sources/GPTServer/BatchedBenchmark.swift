// BatchedBenchmark: llama-batched-bench's test on a BatchEngine. B sequences each read a prompt of PP tokens (all
// in one batch where the engine takes that many rows), then generate TG tokens together: every step is one
// forward call with one row per sequence. Reported: prompt and generation speed over all sequences (aggregate)
// and per sequence. Tokens are random ids; sampling is excluded.
import Foundation
import GPTCore
import GPTEngine

public struct BatchedBenchmarkResult: Sendable, Codable {
    public var promptTokens: Int  // PP
    public var generatedTokens: Int  // TG
    public var sequences: Int  // B
    /// KV positions in use at the end, over all sequences: B * (PP + TG).
    public var kvTokens: Int
    public var promptSeconds: Double
    public var generateSeconds: Double

    /// Prompt tokens per second, all sequences (S_PP).
    public var promptRate: Double { Double(sequences * promptTokens) / promptSeconds }
    /// Generated tokens per second, all sequences (S_TG).
    public var aggregateRate: Double { Double(sequences * generatedTokens) / generateSeconds }
    /// Generated tokens per second seen by one sequence.
    public var perSequenceRate: Double { Double(generatedTokens) / generateSeconds }
}

extension BatchEngine {
    /// Runs `sequences` sequences of `promptTokens` + `generatedTokens` (after one untimed warm-up step).
    public func benchmarkBatched(sequences: Int, promptTokens: Int, generatedTokens: Int, seed: UInt64 = 3) throws
        -> BatchedBenchmarkResult
    {
        precondition(sequences <= slotCount && promptTokens + generatedTokens <= contextPerSlot)
        var rng = SeededGenerator(seed: seed)
        func token() -> Int32 { Int32(rng.next() % UInt64(vocabularySize)) }
        _ = try forward((0..<sequences).map { BatchChunk(slot: $0, startPosition: 0, tokens: [token()], wantLogits: true) })

        // prompts: as many whole sequences per call as the engine's rows allow, split otherwise
        var t0 = DispatchTime.now()
        var pending = (0..<sequences).map { _ in (0..<promptTokens).map { _ in token() } }
        var fed = [Int](repeating: 0, count: sequences)
        while fed.indices.contains(where: { fed[$0] < promptTokens }) {
            var chunks: [BatchChunk] = []
            var rows = 0
            for s in 0..<sequences where fed[s] < promptTokens && rows < maxBatchRows {
                let n = min(promptTokens - fed[s], maxBatchRows - rows)
                chunks.append(BatchChunk(slot: s, startPosition: fed[s], tokens: Array(pending[s][fed[s]..<fed[s] + n]),
                                         wantLogits: fed[s] + n == promptTokens))
                fed[s] += n
                rows += n
            }
            _ = try forward(chunks)
        }
        pending = []
        let promptSeconds = elapsed(since: t0)

        t0 = DispatchTime.now()
        for step in 0..<generatedTokens {
            _ = try forward((0..<sequences).map {
                BatchChunk(slot: $0, startPosition: promptTokens + step, tokens: [token()], wantLogits: true)
            })
        }
        return BatchedBenchmarkResult(
            promptTokens: promptTokens, generatedTokens: generatedTokens, sequences: sequences,
            kvTokens: sequences * (promptTokens + generatedTokens), promptSeconds: promptSeconds,
            generateSeconds: elapsed(since: t0))
    }
}

private func elapsed(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
