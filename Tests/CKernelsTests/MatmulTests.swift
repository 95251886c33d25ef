// MatmulTests: ck_matmul against ck_ref_matmul for every weight format, at every SIMD level the CPU runs, on
// 1 and 3 threads, over awkward and real shapes (T tokens x K inputs x N outputs, SmolLM2's 576 and 1536 among
// them). Guard words around the output and after the declared scratch catch out-of-bounds writes.

import GPTCore
import CKernels
import Testing

struct MatmulShape: CustomStringConvertible, Sendable {
    let T: Int, K: Int, N: Int
    var description: String { "MATMUL(T=\(T),K=\(K),N=\(N))" }

    /// T in {1, 2, 5, 7, 33, 64, 257} x K in {32, 64, 96, 576, 1536} x N in {1, 5, 7, 33, 576}, plus rows of 129
    /// blocks (K = 4128: more than one 64-block scale-table span, and an odd block at the end).
    static let all: [MatmulShape] =
        [1, 2, 5, 7, 33, 64, 257].flatMap { t in
            [32, 64, 96, 576, 1536].flatMap { k in [1, 5, 7, 33, 576].map { n in MatmulShape(T: t, K: k, N: n) } }
        } + [MatmulShape(T: 1, K: 4128, N: 7), MatmulShape(T: 6, K: 4128, N: 9)]
}

/// Weights in a byte buffer whose rows start 2 bytes past a 64-byte boundary (only block alignment is promised).
private final class MisalignedBytes {
    let pointer: UnsafeMutableRawPointer
    private let storage: UnsafeMutableRawPointer
    init(_ bytes: [UInt8]) {
        storage = .allocate(byteCount: bytes.count + 66, alignment: 64)
        pointer = storage + 2
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }
    deinit { storage.deallocate() }
}

extension CKernelsSuite {
    @Suite("Matmul")
    struct MatmulTests {
        /// Runs ck_matmul and checks guards; returns the output.
        private func run(_ format: Format, _ x: GuardedFloats, _ w: UnsafeRawPointer, _ s: MatmulShape, threads: Int32,
                         context: String) -> [Float] {
            let out = GuardedFloats(count: s.T * s.N)
            let scratch = GuardedScratch(bytes: ck_matmul_scratch_bytes(format.rawValue, Int64(s.T), Int64(s.K)))
            ck_matmul(format.rawValue, out.pointer, x.pointer, w, Int64(s.T), Int64(s.K), Int64(s.N), threads,
                      scratch.pointer)
            #expect(out.guardsIntact, "\(context): wrote outside out")
            #expect(scratch.guardsIntact, "\(context): used more scratch than ck_matmul_scratch_bytes")
            #expect(out.allFinite, "\(context): NaN or inf (or an output left unwritten)")
            return out.values
        }

        @Test("ck_matmul matches the reference in every format and SIMD level", arguments: MatmulShape.all)
        func matchesReference(_ s: MatmulShape) {
            // A single dot product can come out near zero while its rounding error does not, so small shapes are
            // repeated with fresh inputs until at least 64 outputs are pooled into one NMSE.
            let reps = max(1, (64 + s.T * s.N - 1) / (s.T * s.N))
            var sums: [String: (err: Double, ref: Double)] = [:]
            for rep in 0..<reps {
                var rng = SplitMix64(seed: UInt64(s.T * 1_000_003 + s.K * 1009 + s.N * 7 + rep))
                let x = GuardedFloats(rng.floats(s.T * s.K))
                let wf = rng.floats(s.N * s.K)
                for format in Format.allCases {
                    let w = MisalignedBytes(format.quantize(wf, rows: s.N, cols: s.K))
                    var expected = [Float](repeating: 0, count: s.T * s.N)
                    ck_ref_matmul(format.rawValue, &expected, x.pointer, w.pointer, Int64(s.T), Int64(s.K), Int64(s.N))
                    atEachLevel { level in
                        let key = "\(format) \(levelName(level))"
                        let one = run(format, x, w.pointer, s, threads: 1, context: "\(s) \(key) 1 thread")
                        let three = run(format, x, w.pointer, s, threads: 3, context: "\(s) \(key) 3 threads")
                        // every output is computed by one thread with the same code: thread count changes nothing
                        #expect(one == three, "\(s) \(key): 1 and 3 threads differ")
                        let e = one.withUnsafeBufferPointer { a in
                            expected.withUnsafeBufferPointer { b in squaredErrors(a, b) }
                        }
                        sums[key, default: (0, 0)].err += e.err
                        sums[key, default: (0, 0)].ref += e.ref
                    }
                }
            }
            for format in Format.allCases {
                for level in simdLevels {
                    let key = "\(format) \(levelName(level))"
                    let e = sums[key]!
                    let value = e.ref == 0 ? e.err : e.err / e.ref
                    #expect(value <= format.matmulMaxNMSE, "\(s) \(key): NMSE \(value) > \(format.matmulMaxNMSE)")
                }
            }
        }

        @Test("the check catches a kernel that reads the wrong weight row", arguments: Format.allCases)
        func catchesOffByOneRow(_ format: Format) {
            // Like test-backend-ops' faulty backends: rows 1...N of w against the reference of rows 0..<N must fail.
            let s = MatmulShape(T: 5, K: 576, N: 33)
            var rng = SplitMix64(seed: 99)
            let x = GuardedFloats(rng.floats(s.T * s.K))
            let w = format.quantize(rng.floats((s.N + 1) * s.K), rows: s.N + 1, cols: s.K)
            var expected = [Float](repeating: 0, count: s.T * s.N)
            ck_ref_matmul(format.rawValue, &expected, x.pointer, w, Int64(s.T), Int64(s.K), Int64(s.N))
            let shifted = w.withUnsafeBytes { run(format, x, $0.baseAddress! + ck_row_bytes(format.rawValue, 576), s,
                                                   threads: 2, context: "shifted") }
            #expect(nmse(shifted, expected) > 100 * format.matmulMaxNMSE)
        }

        @Test("zero and tiny activation blocks give zeros, not NaN", arguments: Format.allCases)
        func zeroAndTinyActivations(_ format: Format) {
            let s = MatmulShape(T: 5, K: 96, N: 7)
            var rng = SplitMix64(seed: 3)
            let w = format.quantize(rng.floats(s.N * s.K), rows: s.N, cols: s.K)
            // block 0 all zero, block 1 subnormal (about 1e-39: 1 / its scale would overflow), block 2 ordinary
            let row = [Float](repeating: 0, count: 32) + (0..<32).map { Float($0 - 16) * 0x1p-130 } + rng.floats(32)
            let x = GuardedFloats(Array([[Float]](repeating: row, count: s.T).joined()))
            var expected = [Float](repeating: 0, count: s.T * s.N)
            ck_ref_matmul(format.rawValue, &expected, x.pointer, w, Int64(s.T), Int64(s.K), Int64(s.N))
            atEachLevel { level in
                let out = w.withUnsafeBytes { run(format, x, $0.baseAddress!, s, threads: 1, context: "\(format)") }
                #expect(nmse(out, expected) <= format.matmulMaxNMSE, "\(format) \(levelName(level))")
            }
        }

        @Test("scratch: quantized activations only")
        func scratchBytes() {
            #expect(ck_matmul_scratch_bytes(Format.f32.rawValue, 512, 576) == 0)
            #expect(ck_matmul_scratch_bytes(Format.f16.rawValue, 512, 576) == 0)
            for format in [Format.q4_0, .q4_1, .q8_0] {
                let bytes = ck_matmul_scratch_bytes(format.rawValue, 512, 1536)
                // 1536 int8 + 48 scales + 48 sums per row, rounded to 64 bytes, plus 64 to align the start
                #expect(bytes >= 512 * (1536 + 48 * 8) && bytes <= 512 * (1536 + 48 * 8 + 64) + 64)
            }
        }
    }
}
