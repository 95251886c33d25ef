// ElementwiseTests: the row and element kernels (rms_norm, layer_norm, rope, swiglu, gelu, add, add_bias,
// embedding) against the references, at every SIMD level, on 1 and 2 threads, for lengths that are and are not
// multiples of the vector width, one row (decode) and many (prefill).

import GPTCore
import CKernels
import Testing

struct RowShape: CustomStringConvertible, Sendable {
    let T: Int, n: Int
    var description: String { "(T=\(T),n=\(n))" }
    static let all: [RowShape] = [1, 2, 7, 64, 257].flatMap { t in
        [1, 7, 33, 64, 576, 1536].map { RowShape(T: t, n: $0) }
    }
}

struct RopeShape: CustomStringConvertible, Sendable {
    let T: Int, startPos: Int, nh: Int, hd: Int, neox: Bool
    var description: String { "ROPE(T=\(T),start=\(startPos),nh=\(nh),hd=\(hd),\(neox ? "neox" : "norm"))" }
    static let all: [RopeShape] = [1, 5, 130].flatMap { t in
        [0, 1, 100, 4000].flatMap { p in
            [(9, 64), (3, 64), (2, 2), (4, 72), (1, 300)].flatMap { h in
                [false, true].map { RopeShape(T: t, startPos: p, nh: h.0, hd: h.1, neox: $0) }
            }
        }
    }
}

extension CKernelsSuite {
    @Suite("Elementwise")
    struct ElementwiseTests {
        /// Exact up to float rounding: test-backend-ops' default threshold.
        static let maxNMSE = 1e-7

        private func expectClose(
            _ out: GuardedFloats, _ expected: [Float], _ context: String, maxNMSE: Double = maxNMSE
        ) {
            #expect(out.guardsIntact, "\(context): wrote out of bounds")
            #expect(out.allFinite, "\(context): NaN or inf")
            let e = nmse(out.values, expected)
            #expect(e <= maxNMSE, "\(context): NMSE \(e)")
        }

        @Test("rms_norm and layer_norm", arguments: RowShape.all)
        func norms(_ s: RowShape) {
            var rng = SplitMix64(seed: UInt64(s.T * 131 + s.n))
            let x = GuardedFloats(rng.floats(s.T * s.n, scale: 3))
            let w = GuardedFloats(rng.floats(s.n)), b = GuardedFloats(rng.floats(s.n))
            let (t, n, eps) = (Int64(s.T), Int64(s.n), Float(1e-5))
            var rms = [Float](repeating: 0, count: s.T * s.n), ln = rms
            ck_ref_rms_norm(&rms, x.pointer, w.pointer, t, n, eps)
            ck_ref_layer_norm(&ln, x.pointer, w.pointer, b.pointer, t, n, eps)
            atEachLevel { level in
                for threads: Int32 in [1, 2] {
                    let context = "\(s) \(levelName(level)) \(threads) threads"
                    let out = GuardedFloats(count: s.T * s.n)
                    ck_rms_norm(out.pointer, x.pointer, w.pointer, t, n, eps, threads)
                    expectClose(out, rms, "RMS_NORM\(context)")
                    ck_layer_norm(out.pointer, x.pointer, w.pointer, b.pointer, t, n, eps, threads)
                    // n = 1: x - mean is exactly 0, so the output is b exactly in both
                    expectClose(out, ln, "LAYER_NORM\(context)")
                    // in place (out == x), as the executor may call it
                    let inPlace = GuardedFloats(x.values)
                    ck_rms_norm(inPlace.pointer, inPlace.pointer, w.pointer, t, n, eps, threads)
                    expectClose(inPlace, rms, "RMS_NORM in place \(context)")
                }
            }
        }

        @Test("rope (llama.cpp angles)", arguments: RopeShape.all)
        func rope(_ s: RopeShape) {
            var rng = SplitMix64(seed: UInt64(s.T * 7 + s.startPos * 13 + s.nh * 17 + s.hd))
            let x = rng.floats(s.T * s.nh * s.hd, scale: 2)
            var expected = x
            let (t, p, nh, hd) = (Int64(s.T), Int64(s.startPos), Int64(s.nh), Int64(s.hd))
            ck_ref_rope(&expected, t, p, nh, hd, 10000, nil, s.neox ? 1 : 0)
            // Llama 3 / Phi-3 frequency factors: divisors of each pair's angle
            let factors = rng.floats(s.hd / 2).map { 1 + 4 * abs($0) }
            var expectedFactors = x
            ck_ref_rope(&expectedFactors, t, p, nh, hd, 10000, factors, s.neox ? 1 : 0)
            if s.startPos + s.T > 1 { #expect(expectedFactors != expected, "the factors change the rotation") }
            atEachLevel { level in
                for threads: Int32 in [1, 2] {
                    let out = GuardedFloats(x)
                    ck_rope(out.pointer, t, p, nh, hd, 10000, nil, s.neox ? 1 : 0, threads)
                    expectClose(out, expected, "\(s) \(levelName(level)) \(threads) threads")
                    let outFactors = GuardedFloats(x)
                    ck_rope(outFactors.pointer, t, p, nh, hd, 10000, factors, s.neox ? 1 : 0, threads)
                    expectClose(outFactors, expectedFactors, "\(s) factors \(levelName(level)) \(threads) threads")
                }
            }
            // position 0 is the identity
            if s.startPos == 0 {
                let out = GuardedFloats(x)
                ck_rope(out.pointer, 1, 0, nh, hd, 10000, nil, s.neox ? 1 : 0, 1)
                #expect(Array(out.values[0..<(s.nh * s.hd)]) == Array(x[0..<(s.nh * s.hd)]))
            }
        }

        @Test("swiglu, gelu, add, add_bias", arguments: RowShape.all)
        func activations(_ s: RowShape) {
            let count = s.T * s.n
            var rng = SplitMix64(seed: UInt64(s.T * 977 + s.n))
            // gate up to +-12 reaches the saturated ends of silu; gelu sees +-6
            let gate = GuardedFloats(rng.floats(count, scale: 12)), up = GuardedFloats(rng.floats(count, scale: 2))
            let bias = GuardedFloats(rng.floats(s.n))
            var swiglu = [Float](repeating: 0, count: count), gelu = swiglu
            ck_ref_swiglu(&swiglu, gate.pointer, up.pointer, Int64(count))
            let xg = GuardedFloats(gate.values.map { $0 / 2 })
            ck_ref_gelu(&gelu, xg.pointer, Int64(count))
            let sum = zip(gate.values, up.values).map { $0 + $1 }
            let biased = gate.values.enumerated().map { $0.element + bias.values[$0.offset % s.n] }
            atEachLevel { level in
                for threads: Int32 in [1, 2] {
                    let context = "\(s) \(levelName(level)) \(threads) threads"
                    let out = GuardedFloats(count: count)
                    ck_swiglu(out.pointer, gate.pointer, up.pointer, Int64(count), threads)
                    expectClose(out, swiglu, "SWIGLU\(context)")
                    ck_gelu(out.pointer, xg.pointer, Int64(count), threads)
                    expectClose(out, gelu, "GELU\(context)")
                    ck_add(out.pointer, gate.pointer, up.pointer, Int64(count), threads)
                    expectClose(out, sum, "ADD\(context)", maxNMSE: 0)
                    let aliased = GuardedFloats(gate.values)  // out == a, as in the residual connection
                    ck_add(aliased.pointer, aliased.pointer, up.pointer, Int64(count), threads)
                    expectClose(aliased, sum, "ADD in place \(context)", maxNMSE: 0)
                    let x = GuardedFloats(gate.values)
                    ck_add_bias(x.pointer, bias.pointer, Int64(s.T), Int64(s.n), threads)
                    expectClose(x, biased, "ADD_BIAS\(context)", maxNMSE: 0)
                }
            }
        }

        @Test("swiglu and gelu in their tails: finite, and accurate wherever the value is a normal float")
        func activationTails() {
            // from -200 to 200: exp overflows and underflows on both sides, gelu's negative tail is tiny but not 0
            let x = stride(from: Float(-200), through: 200, by: 0.37).map { $0 }
            let up = [Float](repeating: 1.5, count: x.count)
            var swiglu = [Float](repeating: 0, count: x.count), gelu = swiglu
            ck_ref_swiglu(&swiglu, x, up, Int64(x.count))
            ck_ref_gelu(&gelu, x, Int64(x.count))
            atEachLevel { level in
                var out = [Float](repeating: .nan, count: x.count)
                for (name, expected) in [("swiglu", swiglu), ("gelu", gelu)] {
                    if name == "swiglu" {
                        ck_swiglu(&out, x, up, Int64(x.count), 1)
                    } else {
                        ck_gelu(&out, x, Int64(x.count), 1)
                    }
                    // 2e-5: gelu's e^-2y takes the float rounding of y times |2y| (up to 87 before it underflows)
                    for i in x.indices where !(out[i].isFinite
                        && abs(out[i] - expected[i]) <= 2e-5 * abs(expected[i]) + 1e-37)
                    {
                        Issue.record("\(name) \(levelName(level)) x = \(x[i]): \(out[i]), expected \(expected[i])")
                    }
                }
            }
        }

        @Test("embedding rows are the dequantized table rows", arguments: Format.allCases)
        func embedding(_ format: Format) {
            let (vocab, n) = (50, 576)
            var rng = SplitMix64(seed: 5)
            let table = format.quantize(rng.floats(vocab * n), rows: vocab, cols: n)
            for t in [1, 7, 300] {
                let tokens = (0..<t).map { _ in Int32(rng.next() % UInt64(vocab)) } + [Int32(vocab - 1)]
                var expected = [Float](repeating: 0, count: tokens.count * n)
                ck_ref_embedding(format.rawValue, &expected, table, tokens, Int64(tokens.count), Int64(n))
                for threads: Int32 in [1, 2] {
                    let out = GuardedFloats(count: tokens.count * n)
                    ck_embedding(format.rawValue, out.pointer, table, tokens, Int64(tokens.count), Int64(n), threads)
                    expectClose(out, expected, "EMBEDDING(\(format),T=\(tokens.count)) \(threads) threads", maxNMSE: 0)
                }
            }
        }
    }

    @Suite("SIMD levels")
    struct SIMDLevelTests {
        @Test("levels clamp to what the CPU runs and have names")
        func levels() {
            defer { ck_simd_set_level(ck_simd_detect()) }
            let best = ck_simd_detect()
            #expect(ck_simd_level() == best)
            ck_simd_set_level(99)
            #expect(ck_simd_level() == best)
            ck_simd_set_level(-1)
            #expect(ck_simd_level() == Int32(CK_SIMD_SCALAR.rawValue))
            #expect(String(cString: ck_simd_name(Int32(CK_SIMD_AVX512.rawValue))) == "avx512")
            #expect(ck_max_threads() >= 1)
        }
    }
}
