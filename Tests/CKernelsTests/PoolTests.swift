// PoolTests: the CPU kernels' worker pool (cpu/pool.c). Its barrier holds on 1, 2, 3 and 8 threads (more threads
// than this 2-core machine has cores must not hang, only run slower); a one-token product, where each thread
// quantizes the row itself, gives the same floats on every thread count; callers on several threads at once (one
// owns the pool, the others run alone) get the same results as one caller; one-token products run as open jobs
// (late workers left out, their tiles taken by the others) give the same floats call after call.
import CKernels
import Foundation
import GPTCore
import Testing

extension CKernelsSuite {
    @Suite("Worker pool")
    struct PoolTests {
        @Test("barriers hold on 1, 2, 3 and 8 threads", arguments: [1, 2, 3, 8])
        func barrier(_ threads: Int) {
            let rounds = 500
            // The pool may be owned by another test's kernel for a moment: retry until it ran on every thread.
            var ran = 0
            for _ in 0..<50 where ran != threads {
                var cells = [Int64](repeating: 0, count: threads * rounds)
                var used: Int32 = 0
                let errors = ck_pool_check(Int32(threads), Int32(rounds), &cells, &used)
                #expect(errors == 0, "\(threads) threads: \(errors) cells unwritten after a barrier")
                ran = Int(used)
            }
            #expect(ran == threads, "the pool never ran the check on \(threads) threads")
        }

        @Test("bad arguments are refused")
        func badArguments() {
            var used: Int32 = 0
            #expect(ck_pool_check(0, 1, nil, &used) == -1)
        }

        /// out (n) of a one-token product on `threads` threads.
        private func product(_ format: WeightFormat, _ x: [Float], _ w: [UInt8], k: Int, n: Int, threads: Int32)
            -> [Float] {
            let type = Int32(format.ggmlType)
            var out = [Float](repeating: .nan, count: n)
            var scratch = [UInt8](repeating: 0, count: ck_matmul_scratch_bytes(type, 1, Int64(k)))
            w.withUnsafeBytes { wp in
                scratch.withUnsafeMutableBytes {
                    ck_matmul(type, &out, x, wp.baseAddress, 1, Int64(k), Int64(n), threads, $0.baseAddress)
                }
            }
            return out
        }

        @Test("a one-token product is the same on 1, 2, 3 and 8 threads",
              arguments: [WeightFormat.q4_0, .q4_1, .q8_0, .q4_K])
        func decodeProduct(_ format: WeightFormat) throws {
            let (k, n) = (1536, 576)  // SmolLM2's down projection: past the one-thread grain
            var rng = SplitMix64(seed: 15)
            let x = rng.floats(k)
            var w = [UInt8](repeating: 0, count: Int(ck_row_bytes(Int32(format.ggmlType), Int64(k))) * n)
            let rows = rng.floats(k * n)
            w.withUnsafeMutableBytes { ck_quantize_row(Int32(format.ggmlType), $0.baseAddress, rows, Int64(k * n)) }
            atEachLevel { level in
                let one = product(format, x, w, k: k, n: n, threads: 1)
                let finite = one.allSatisfy { $0.isFinite }
                #expect(finite)
                for threads: Int32 in [2, 3, 8] {
                    #expect(product(format, x, w, k: k, n: n, threads: threads) == one,
                            "\(format) \(levelName(level)): \(threads) threads differ from 1")
                }
            }
        }

        @Test("one-token Q/K/V products as open jobs, 300 in a row, equal the one-thread result", arguments: [2, 3, 8])
        func openJobs(_ threads: Int32) {
            // ck_matmul_multi with one row runs as an open job (cpu/pool.c): workers that start late are left out
            // and their tiles taken from the back by the others. On this 2-core machine 3 and 8 threads make late
            // workers common; a lost tile stays NaN, a tile computed from another layout differs.
            let type = Int32(WeightFormat.q8_0.ggmlType)
            let (k, ns) = (576, [576, 192, 195])
            var rng = SplitMix64(seed: 17)
            let x = rng.floats(k)
            let ws: [[UInt8]] = ns.map { n in
                var w = [UInt8](repeating: 0, count: Int(ck_row_bytes(type, Int64(k))) * n)
                let rows = rng.floats(k * n)
                w.withUnsafeMutableBytes { ck_quantize_row(type, $0.baseAddress, rows, Int64(k * n)) }
                return w
            }
            var scratch = [UInt8](repeating: 0, count: ck_matmul_scratch_bytes(type, 1, Int64(k)))
            func run(_ nt: Int32) -> [Float] {
                var out = [Float](repeating: .nan, count: ns.reduce(0, +))  // the three outputs back to back
                let heights = ns.map { Int64($0) }
                out.withUnsafeMutableBufferPointer { o in
                    ws[0].withUnsafeBytes { w0 in
                        ws[1].withUnsafeBytes { w1 in
                            ws[2].withUnsafeBytes { w2 in
                                let base = o.baseAddress!
                                var op: [UnsafeMutablePointer<Float>?] = [base, base + ns[0], base + ns[0] + ns[1]]
                                var wp: [UnsafeRawPointer?] = [w0.baseAddress, w1.baseAddress, w2.baseAddress]
                                scratch.withUnsafeMutableBytes {
                                    ck_matmul_multi(type, 3, &op, x, &wp, heights, 1, Int64(k), nt, $0.baseAddress)
                                }
                            }
                        }
                    }
                }
                return out
            }
            let one = run(1)
            #expect(one.allSatisfy { $0.isFinite })
            var differing = 0
            for _ in 0..<300 where run(threads) != one { differing += 1 }
            #expect(differing == 0, "\(threads) threads: \(differing) of 300 calls differ from one thread")
        }

        @Test("callers on four threads at once get what one caller gets")
        func concurrentCallers() async {
            let (k, n) = (576, 960)
            var rng = SplitMix64(seed: 16)
            let x = rng.floats(k)
            var w = [UInt8](repeating: 0, count: Int(ck_row_bytes(Int32(WeightFormat.q4_1.ggmlType), Int64(k))) * n)
            let rows = rng.floats(k * n)
            w.withUnsafeMutableBytes {
                ck_quantize_row(Int32(WeightFormat.q4_1.ggmlType), $0.baseAddress, rows, Int64(k * n))
            }
            let expected = product(.q4_1, x, w, k: k, n: n, threads: 1)
            let results = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 {
                    group.addTask { [x, w] in
                        (0..<50).allSatisfy { _ in self.product(.q4_1, x, w, k: k, n: n, threads: 2) == expected }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results == [true, true, true, true])
        }
    }
}
