// The sampler on fixed logits: each filter's effect on the distribution, temperature, penalties, and seeds.
import GPTEngine
import Testing

@Suite("Sampler")
struct SamplerTests {
    /// logits 4, 3, 2, 1, 0 for tokens 0...4
    let logits: [Float] = [4, 3, 2, 1, 0]

    func options(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0) -> SamplingOptions {
        var o = SamplingOptions()
        o.temperature = temperature
        o.topK = topK
        o.topP = topP
        o.minP = minP
        return o
    }

    /// softmax(logits / t)
    func softmax(_ t: Float) -> [Float] {
        let e = logits.map { expf($0 / t) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    @Test("temperature 1 and no filters is the plain softmax")
    func plainSoftmax() {
        let c = Sampler.filter(logits, options: options())
        let expected = softmax(1)
        #expect(c.map(\.id) == [0, 1, 2, 3, 4])
        for (got, want) in zip(c.map(\.p), expected) { #expect(abs(got - want) < 1e-6) }
    }

    @Test("temperature sharpens below 1 and flattens above 1", arguments: [Float(0.5), 2])
    func temperature(_ t: Float) {
        let c = Sampler.filter(logits, options: options(temperature: t))
        for (got, want) in zip(c.map(\.p), softmax(t)) { #expect(abs(got - want) < 1e-6) }
        let top = c[0].p
        if t < 1 { #expect(top > softmax(1)[0]) } else { #expect(top < softmax(1)[0]) }
    }

    @Test("top-k keeps k tokens, renormalised")
    func topK() {
        let c = Sampler.filter(logits, options: options(topK: 2))
        #expect(c.map(\.id) == [0, 1])
        let p = softmax(1)
        #expect(abs(c[0].p - p[0] / (p[0] + p[1])) < 1e-6)
    }

    @Test("top-p keeps the smallest prefix reaching p")
    func topP() {
        let p = softmax(1)  // 0.636, 0.234, 0.086, 0.032, 0.012
        let c = Sampler.filter(logits, options: options(topP: 0.8))
        #expect(c.map(\.id) == [0, 1])  // 0.636 < 0.8 <= 0.870
        #expect(abs(c.map(\.p).reduce(0, +) - 1) < 1e-6)
        #expect(p[0] < 0.8 && p[0] + p[1] >= 0.8)
    }

    @Test("min-p drops tokens below min-p times the top probability")
    func minP() {
        // p1/p0 = e^-1 = 0.37, p2/p0 = e^-2 = 0.135, p3/p0 = 0.05
        let c = Sampler.filter(logits, options: options(minP: 0.1))
        #expect(c.map(\.id) == [0, 1, 2])
    }

    @Test("greedy takes the argmax")
    func greedy() {
        var s = Sampler(.greedy)
        #expect(s.sample([0.1, 5, 2]) == 1)
    }

    @Test("repetition penalty and presence penalty lower seen tokens")
    func penalties() {
        var o = SamplingOptions.greedy
        o.repetitionPenalty = 2  // token 1's logit 3.9 -> 1.95 < 3
        var s = Sampler(o)
        #expect(s.sample([3, 3.9, 0], history: [1]) == 0)
        o.repetitionPenalty = 1
        o.presencePenalty = 1  // 3.9 - 1 = 2.9 < 3
        s = Sampler(o)
        #expect(s.sample([3, 3.9, 0], history: [1]) == 0)
        #expect(s.sample([3, 3.9, 0], history: []) == 1)
    }

    @Test("sampled frequencies follow the filtered distribution")
    func frequencies() {
        var s = Sampler(options(temperature: 1))
        var counts = [Int](repeating: 0, count: logits.count)
        let n = 20000
        for _ in 0..<n { counts[Int(s.sample(logits))] += 1 }
        for (i, p) in softmax(1).enumerated() {
            // binomial standard deviation sqrt(n p (1-p)) <= 70; 5 sigma
            #expect(abs(Double(counts[i]) - Double(n) * Double(p)) < 350, "token \(i): \(counts[i]) of \(n), p \(p)")
        }
    }

    @Test("the same seed gives the same tokens; another seed differs")
    func seeds() {
        func draw(_ seed: UInt64) -> [Int32] {
            var o = options(temperature: 1.5)
            o.seed = seed
            var s = Sampler(o)
            return (0..<64).map { _ in s.sample(logits) }
        }
        #expect(draw(7) == draw(7))
        #expect(draw(7) != draw(8))
    }

    @Test("next-token distribution sums to 1 and its entropy grows with temperature")
    func distribution() throws {
        let cold = try NextTokenDistribution(logits: logits, temperature: 0.5)
        let hot = try NextTokenDistribution(logits: logits, temperature: 2)
        #expect(abs(cold.probabilities.reduce(0, +) - 1) < 1e-5)
        #expect(cold.ranked == [0, 1, 2, 3, 4])
        #expect(cold.entropy < hot.entropy)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
