// Benchmark: llama-bench's two tests on an executor. pp = a prompt of p tokens in batches; tg = n single-token
// forward passes. Both start from an empty cache, or, with a depth d (llama-bench -d), from a cache already holding
// d tokens, which are filled before the clock starts ("pp512 @ d4096", "tg32 @ d4096", as llama-bench names them).
// Tokenization and sampling are excluded; tokens are random ids (as llama-bench uses), so the numbers do not depend
// on a text.
import Foundation

public struct BenchmarkResult: Sendable {
    public var test: String  // "pp512" or "tg128"
    public var tokens: Int
    /// Tokens per second of each repetition.
    public var samples: [Double]

    public var mean: Double { samples.reduce(0, +) / Double(max(samples.count, 1)) }
    public var standardDeviation: Double {
        guard samples.count > 1 else { return 0 }
        let m = mean
        return (samples.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(samples.count - 1)).squareRoot()
    }
}

extension TransformerExecutor {
    /// Tokens per second of a p-token prompt after `depth` tokens of context, `repetitions` times after one warm-up.
    public func benchmarkPrompt(tokens p: Int, repetitions: Int, depth: Int = 0, seed: UInt64 = 1) throws
        -> BenchmarkResult
    {
        var rng = SeededGenerator(seed: seed)
        let prompt = (0..<p).map { _ in Int32(rng.next() % UInt64(config.nVocab)) }
        let context = randomTokens(depth, seed: seed &+ 100)
        var samples: [Double] = []
        for rep in 0...repetitions {
            try fillContext(context)
            let t0 = DispatchTime.now()
            _ = try forward(prompt)
            let s = seconds(since: t0)
            if rep > 0 { samples.append(Double(p) / s) }
        }
        reset()
        return BenchmarkResult(test: "pp\(p)" + depthSuffix(depth), tokens: p, samples: samples)
    }

    /// Tokens per second of n one-token steps after `depth` tokens of context, `repetitions` times after one
    /// warm-up. The context is filled again (untimed) before every repetition, so each times positions
    /// depth..<depth+n.
    public func benchmarkGeneration(tokens n: Int, repetitions: Int, depth: Int = 0, seed: UInt64 = 2) throws
        -> BenchmarkResult
    {
        var rng = SeededGenerator(seed: seed)
        let context = randomTokens(depth, seed: seed &+ 100)
        var samples: [Double] = []
        for rep in 0...repetitions {
            try fillContext(context)
            let t0 = DispatchTime.now()
            for _ in 0..<n { _ = try forward([Int32(rng.next() % UInt64(config.nVocab))]) }
            let s = seconds(since: t0)
            if rep > 0 { samples.append(Double(n) / s) }
        }
        reset()
        return BenchmarkResult(test: "tg\(n)" + depthSuffix(depth), tokens: n, samples: samples)
    }

    /// `count` random token ids (the untimed context of a depth test).
    private func randomTokens(_ count: Int, seed: UInt64) -> [Int32] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % UInt64(config.nVocab)) }
    }

    /// Empties the cache, then runs `context` through it (in batches), so the next token is at position
    /// `context.count`.
    private func fillContext(_ context: [Int32]) throws {
        reset()
        if !context.isEmpty { _ = try forward(context) }
    }

    /// llama-bench's test-name suffix for a depth: "" or " @ d4096".
    private func depthSuffix(_ depth: Int) -> String { depth > 0 ? " @ d\(depth)" : "" }
}
