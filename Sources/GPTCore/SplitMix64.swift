// SplitMix64 (Steele, Lea and Flood 2014): a tiny seeded generator, the same on every platform. Seeds the sampler's
// xoshiro state and makes the inputs of the op suite and the tests.

public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale), from the top 24 bits.
    public mutating func nextFloat(scale: Float = 1) -> Float {
        (Float(next() >> 40) * (1.0 / 16_777_216.0) * 2 - 1) * scale
    }

    /// `n` uniform floats in [-scale, scale).
    public mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in nextFloat(scale: scale) }
    }
}
