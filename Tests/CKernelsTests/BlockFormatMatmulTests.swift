// BlockFormatMatmulTests: ck_matmul on the formats read as random blocks (Q5_0, Q5_1, the K-quants, BF16, IQ4: every bit
// pattern of quants and sub-block scales, from OpCheck's BlockLayout) against ck_ref_matmul, at every SIMD level
// the CPU runs, on 1 and 3 threads; decode (T = 1) and prefill shapes, rows of one and of many super-blocks.
import CKernels
import GPTCore
import OpCheck
import Testing

extension CKernelsSuite {
    @Suite("Block-format matmul")
    struct BlockFormatMatmulTests {
        static let formats: [WeightFormat] = [.q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .bf16, .iq4_nl, .iq4_xs]

        @Test("ck_matmul matches the reference at every SIMD level", arguments: formats)
        func matchesReference(_ format: WeightFormat) {
            let type = Int32(format.ggmlType)
            for (t, k, n) in [(1, 256, 7), (1, 1536, 33), (5, 512, 9), (33, 768, 5), (7, 4096, 4), (130, 256, 6)] {
                var rng = SplitMix64(seed: UInt64(t * 7919 + k * 31 + n) ^ UInt64(format.ggmlType))
                let x = rng.floats(t * k)
                let w = BlockLayout.randomRows(format, rows: n, cols: k, &rng)
                var expected = [Float](repeating: 0, count: t * n)
                w.withUnsafeBytes { ck_ref_matmul(type, &expected, x, $0.baseAddress, Int64(t), Int64(k), Int64(n)) }
                atEachLevel { level in
                    var outputs: [[Float]] = []
                    for threads: Int32 in [1, 3] {
                        let out = GuardedFloats(count: t * n)
                        let scratch = GuardedScratch(bytes: ck_matmul_scratch_bytes(type, Int64(t), Int64(k)))
                        w.withUnsafeBytes {
                            ck_matmul(type, out.pointer, x, $0.baseAddress, Int64(t), Int64(k), Int64(n), threads,
                                      scratch.pointer)
                        }
                        #expect(out.guardsIntact && scratch.guardsIntact && out.allFinite, "\(format) \(t)x\(k)x\(n)")
                        outputs.append(out.values)
                    }
                    let context = "\(format) T=\(t) K=\(k) N=\(n) \(levelName(level))"
                    #expect(outputs[0] == outputs[1], "\(context): 1 and 3 threads differ")
                    let limit = format.isQuantized ? 5e-4 : 1e-7
                    let value = nmse(outputs[0], expected)
                    #expect(value <= limit, "\(context): NMSE \(value)")
                }
            }
        }
    }
}
