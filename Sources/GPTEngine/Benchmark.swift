// Benchmark: llama-bench's two tests on an executor. pp = a prompt of p tokens in batches from an empty cache;
// tg = n single-token forward passes from an empty cache. Tokenization and sampling are excluded; tokens are
// random ids (as llama-bench uses), so the numbers do not depend on a text.
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
    /// Tokens per second of a p-token prompt, `repetitions` times after one warm-up.
    public func benchmarkPrompt(tokens p: Int, repetitions: Int, seed: UInt64 = 1) throws -> BenchmarkResult {
        var rng = SeededGenerator(seed: seed)
        let prompt = (0..<p).map { _ in Int32(rng.next() % UInt64(config.nVocab)) }
        var samples: [Double] = []
        for rep in 0...repetitions {
            reset()
            let t0 = DispatchTime.now()
            _ = try forward(prompt)
            let s = seconds(since: t0)
            if rep > 0 { samples.append(Double(p) / s) }
        }
        reset()
        return BenchmarkResult(test: "pp\(p)", tokens: p, samples: samples)
    }

    /// Tokens per second of n one-token steps, `repetitions` times after one warm-up.
    public func benchmarkGeneration(tokens n: Int, repetitions: Int, seed: UInt64 = 2) throws -> BenchmarkResult {
        var rng = SeededGenerator(seed: seed)
        var samples: [Double] = []
        for rep in 0...repetitions {
            reset()
            let t0 = DispatchTime.now()
            for _ in 0..<n { _ = try forward([Int32(rng.next() % UInt64(config.nVocab))]) }
            let s = seconds(since: t0)
            if rep > 0 { samples.append(Double(n) / s) }
        }
        reset()
        return BenchmarkResult(test: "tg\(n)", tokens: n, samples: samples)
    }
}
