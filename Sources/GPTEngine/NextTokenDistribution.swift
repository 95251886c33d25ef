// NextTokenDistribution: softmax(logits / T) over the whole vocabulary, ranked, with its entropy.

public struct NextTokenDistribution: Sendable {
    public let temperature: Float
    /// (nVocab), sums to 1.
    public let probabilities: [Float]
    /// Token ids, most likely first.
    public let ranked: [Int]

    /// - Throws: `EngineError.invalidArgument` unless `temperature` is positive and finite and every logit is finite
    ///   (a model with corrupt weights can produce NaN: no distribution or ranking means anything then).
    public init(logits: [Float], temperature: Float) throws(EngineError) {
        guard temperature.isFinite, temperature > 0 else {
            throw .invalidArgument("temperature \(temperature) must be a positive finite number")
        }
        try requireFiniteLogits(logits)
        self.temperature = temperature
        let m = logits.max() ?? 0
        var p = logits.map { Double(expf(($0 - m) / temperature)) }
        let total = p.reduce(0, +)
        for i in p.indices { p[i] /= total }
        probabilities = p.map { Float($0) }
        ranked = Array(logits.indices).sorted { logits[$0] > logits[$1] }
    }

    /// -Σ p ln p, in nats.
    public var entropy: Double {
        probabilities.reduce(0.0) { $1 > 0 ? $0 - Double($1) * log(Double($1)) : $0 }
    }
}

/// Throws unless every logit is finite: corrupt weights (a NaN scale, a tensor read at the wrong offset) give NaN
/// logits, and then neither a distribution nor a sampled token means anything (greedy would emit token 0 forever).
func requireFiniteLogits(_ logits: [Float]) throws(EngineError) {
    guard !logits.allSatisfy(\.isFinite) else { return }
    let bad = logits.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    throw .invalidArgument("the model produced \(bad) of \(logits.count) logits that are NaN or infinite: "
        + "its weights are probably corrupt (--check-tensors scans them)")
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
