// Sampler: turns logits into the next token. Softmax with temperature, top-k, top-p, min-p, repetition and
// presence penalties, and a seeded generator so that the same seed gives the same text on every backend.

import GPTCore

/// Sampling settings; the defaults are the ones `gpt` documents.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 = greedy (argmax). Logits are divided by the temperature before the softmax.
    public var temperature: Float = 0.8
    /// Keep the k most likely tokens (0 = all).
    public var topK: Int = 40
    /// Keep the smallest set whose probability reaches p (1 = all).
    public var topP: Float = 0.95
    /// Drop tokens whose probability is below minP times the most likely one's (0 = off).
    public var minP: Float = 0.05
    /// Divide positive logits (multiply negative ones) of recently seen tokens by this (1 = off).
    public var repetitionPenalty: Float = 1.0
    /// Subtract this from the logits of every recently seen token (0 = off).
    public var presencePenalty: Float = 0.0
    /// Subtract this times the number of times a token was recently seen from its logit (0 = off; OpenAI's
    /// `frequency_penalty`).
    public var frequencyPenalty: Float = 0.0
    /// How many recent tokens the penalties look at.
    public var penaltyWindow: Int = 64
    public var seed: UInt64 = 0

    public init() {}

    /// Checks every setting (a NaN passes `< 0` checks, so each is tested for what it must be).
    /// - Throws: `EngineError.invalidArgument` naming the setting and its value.
    public func validate() throws(EngineError) {
        func bad(_ name: String, _ value: Any, _ rule: String) -> EngineError {
            .invalidArgument("sampling: \(name) \(value) \(rule)")
        }
        guard temperature.isFinite, temperature >= 0 else { throw bad("temperature", temperature, "must be >= 0") }
        guard topK >= 0 else { throw bad("top-k", topK, "must be >= 0") }
        guard topP.isFinite, topP >= 0, topP <= 1 else { throw bad("top-p", topP, "must be in 0...1") }
        guard minP.isFinite, minP >= 0, minP <= 1 else { throw bad("min-p", minP, "must be in 0...1") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw bad("repetition penalty", repetitionPenalty, "must be > 0")
        }
        guard presencePenalty.isFinite else { throw bad("presence penalty", presencePenalty, "must be finite") }
        guard frequencyPenalty.isFinite else { throw bad("frequency penalty", frequencyPenalty, "must be finite") }
        guard penaltyWindow >= 0 else { throw bad("penalty window", penaltyWindow, "must be >= 0") }
    }

    /// Greedy decoding: always the most likely token.
    public static var greedy: SamplingOptions {
        var o = SamplingOptions()
        o.temperature = 0
        return o
    }
}

/// xoshiro256**, seeded through splitmix64: small, fast, and the same stream on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
    }

    public mutating func next() -> UInt64 {
        func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    /// A uniform float in [0, 1) with 24 random bits.
    public mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

public struct Sampler: Sendable {
    public var options: SamplingOptions
    private var rng: SeededGenerator

    public init(_ options: SamplingOptions) {
        self.options = options
        self.rng = SeededGenerator(seed: options.seed)
    }

    /// Picks the next token from `logits` (nVocab); `history` holds the tokens seen so far (for penalties).
    public mutating func sample(_ logits: [Float], history: [Int32] = []) -> Int32 {
        var logits = logits
        applyPenalties(&logits, history: history)
        // `!(t > 0)` also catches NaN, which `validate` refuses; greedy is the defined fallback.
        if !(options.temperature > 0) || logits.count < 2 { return Int32(Sampler.argmax(logits)) }
        let candidates = Sampler.filter(logits, options: options)
        let r = rng.nextUnit()
        var acc: Float = 0
        for c in candidates {
            acc += c.p
            if r < acc { return c.id }
        }
        return candidates.last!.id
    }

    /// The tokens left after penalties-free filtering, with probabilities renormalised to sum to 1, most likely
    /// first: temperature softmax, then top-k, top-p and min-p.
    public static func filter(_ logits: [Float], options: SamplingOptions) -> [(id: Int32, p: Float)] {
        let temperature = max(options.temperature, 1e-6)
        var order = Array(0..<logits.count)
        let k = options.topK > 0 ? min(options.topK, logits.count) : logits.count
        if k < logits.count {
            order = partialTopK(logits, k)
        } else {
            order.sort { logits[$0] > logits[$1] }
        }
        guard !order.isEmpty else { return [] }
        let maxLogit = logits[order[0]]
        var probs = order.map { expf((logits[$0] - maxLogit) / temperature) }
        let total = probs.reduce(0, +)
        // NaN or infinite logits (or settings `validate` refuses) leave no distribution: take the first candidate.
        guard total.isFinite, total > 0 else { return [(Int32(order[0]), 1)] }
        for i in probs.indices { probs[i] /= total }
        var keep = probs.count
        if options.topP < 1 {
            var acc: Float = 0
            for (i, p) in probs.enumerated() {
                acc += p
                if acc >= options.topP {
                    keep = i + 1
                    break
                }
            }
        }
        if options.minP > 0 {
            let threshold = probs[0] * options.minP
            keep = min(keep, max(1, probs.prefix(keep).firstIndex { $0 < threshold } ?? keep))
        }
        keep = max(1, keep)
        let kept = probs.prefix(keep).reduce(0, +)
        return (0..<keep).map { (Int32(order[$0]), probs[$0] / kept) }
    }

    private func applyPenalties(_ logits: inout [Float], history: [Int32]) {
        guard options.repetitionPenalty != 1 || options.presencePenalty != 0 || options.frequencyPenalty != 0 else {
            return
        }
        var counts: [Int32: Int] = [:]
        for id in history.suffix(max(0, options.penaltyWindow)) { counts[id, default: 0] += 1 }
        for (id, count) in counts where id >= 0 && Int(id) < logits.count {
            let i = Int(id)
            if options.repetitionPenalty != 1 {
                logits[i] = logits[i] > 0 ? logits[i] / options.repetitionPenalty : logits[i] * options.repetitionPenalty
            }
            logits[i] -= options.presencePenalty + options.frequencyPenalty * Float(count)
        }
    }

    public static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    /// Indices of the k largest values, largest first.
    public static func partialTopK(_ values: [Float], _ k: Int) -> [Int] {
        values.withUnsafeBufferPointer { partialTopK($0, k) }
    }

    /// Indices of the k largest values, largest first (the lower index first among equal values).
    public static func partialTopK(_ values: UnsafeBufferPointer<Float>, _ k: Int) -> [Int] {
        // A small sorted buffer beats sorting 49k entries for the usual k <= 100.
        var top: [Int] = []
        top.reserveCapacity(k + 1)
        for i in values.indices {
            if top.count == k, values[i] <= values[top[k - 1]] { continue }
            var j = top.count
            top.append(i)
            while j > 0 && values[top[j - 1]] < values[i] {
                top[j] = top[j - 1]
                j -= 1
            }
            top[j] = i
            if top.count > k { top.removeLast() }
        }
        return top
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
