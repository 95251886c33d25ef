// F16KVAttentionTests: the F16 KV cache kernels. ck_convert_f32_to_f16 bit for bit against ck_fp32_to_fp16;
// ck_attention_fused_f16kv and ck_attention_naive_f16kv against ck_ref_attention on the f16-rounded keys and values
// (the contract: the same results as converting the cache to float first), on the shapes of AttentionTests, at every
// SIMD level, on 1, 2 and 3 threads.

import GPTCore
import CKernels
import Foundation
import Testing

/// The halves of `values` (ck_fp32_to_fp16) and those halves back as floats.
private func halves(_ values: [Float]) -> (h: [UInt16], f: [Float]) {
    let h = values.map { ck_fp32_to_fp16($0) }
    return (h, h.map { ck_fp16_to_fp32($0) })
}

extension CKernelsSuite {
    @Suite("F16 KV attention")
    struct F16KVAttentionTests {
        /// The kernels compute on exactly the converted values, so only float rounding separates them from the
        /// double reference: the F32 threshold applies.
        static let maxNMSE = 1e-7

        @Test("ck_convert_f32_to_f16 is bit-exact with ck_fp32_to_fp16")
        func convertBitExact() {
            var rng = SplitMix64(seed: 1601)
            var bits: [UInt32] = []
            // every exponent, ties to even at the normal and subnormal ends, overflow, inf, NaN, signed zeros
            for _ in 0..<60_000 { bits.append(UInt32(truncatingIfNeeded: rng.next())) }
            for _ in 0..<20_000 { bits.append(UInt32(truncatingIfNeeded: rng.next()) & ~0x1FFF | 0x1000) }  // ties
            for _ in 0..<20_000 {  // around the fp16 range: 2^-26 ... 2^17
                let e = UInt32(101 + rng.next() % 43)
                bits.append(UInt32(truncatingIfNeeded: rng.next()) & 0x807F_FFFF | e << 23)
            }
            bits += [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0001, 0x7F80_0001, 0x477F_F000,
                     0x477F_EFFF, 0x3880_0000, 0x387F_FFFF, 0x3300_0000, 0x3300_0001, 0x32FF_FFFF]
            bits.append(contentsOf: [UInt32](repeating: 0x3F80_0000, count: 13))  // an odd tail
            let src = bits.map { Float(bitPattern: $0) }
            let expected = src.map { ck_fp32_to_fp16($0) }
            atEachLevel { level in
                for threads: Int32 in [1, 2, 3] {
                    for n in [src.count, 7, 1] {
                        var dst = [UInt16](repeating: 0xDEAD, count: n + 1)
                        ck_convert_f32_to_f16(&dst, src, Int64(n), threads)
                        let bad = (0..<n).filter { dst[$0] != expected[$0] }
                        #expect(
                            bad.isEmpty,
                            "\(levelName(level)) \(threads) threads n=\(n): \(bad.count) differ, first \(bad.first.map { String(format: "%08x -> %04x, want %04x", bits[$0], dst[$0], expected[$0]) } ?? "")"
                        )
                        #expect(dst[n] == 0xDEAD, "\(levelName(level)) n=\(n): wrote past the end")
                    }
                }
            }
        }

        @Test("fused and naive f16kv attention match the reference on the rounded cache", arguments: AttentionShape.all)
        func matchesReference(_ s: AttentionShape) {
            var rng = SplitMix64(seed: UInt64(s.T * 7919 + s.startPos * 104_729 + s.nh * 31 + s.nkv * 17 + s.hd + 5))
            let nKeys = s.startPos + s.T
            let q = GuardedFloats(rng.floats(s.T * s.nh * s.hd))
            let (kh, kf) = halves(rng.floats(nKeys * s.nkv * s.hd))
            let (vh, vf) = halves(rng.floats(nKeys * s.nkv * s.hd))
            let scale = 3 / Float(s.hd).squareRoot()
            let (t, p, nh, nkv, hd) = (Int64(s.T), Int64(s.startPos), Int64(s.nh), Int64(s.nkv), Int64(s.hd))
            var expected = [Float](repeating: 0, count: s.T * s.nh * s.hd)
            ck_ref_attention(&expected, q.pointer, kf, vf, t, p, nh, nkv, hd, scale, Int64(s.window))
            let (ringK, ringV) = (s.stored(kh, width: s.nkv * s.hd), s.stored(vh, width: s.nkv * s.hd))

            atEachLevel { level in
                for threads: Int32 in [1, 2, 3] {
                    let context = "\(s) \(levelName(level)) \(threads) threads"
                    let fused = GuardedFloats(count: s.T * s.nh * s.hd)
                    let fusedScratch = GuardedScratch(
                        bytes: ck_attention_fused_f16kv_scratch_bytes(t, p, nh, hd, threads))
                    ck_attention_fused_f16kv(
                        fused.pointer, q.pointer, ringK, ringV, t, p, nh, nkv, hd, scale, Int64(s.window),
                        Int64(s.ring), threads, fusedScratch.pointer)
                    let naive = GuardedFloats(count: s.T * s.nh * s.hd)
                    let naiveScratch = GuardedScratch(bytes: ck_attention_naive_f16kv_scratch_bytes(t, p, nh))
                    ck_attention_naive_f16kv(
                        naive.pointer, q.pointer, ringK, ringV, t, p, nh, nkv, hd, scale, Int64(s.window),
                        Int64(s.ring), threads, naiveScratch.pointer)
                    for (name, out, scratch) in [("fused", fused, fusedScratch), ("naive", naive, naiveScratch)] {
                        #expect(out.guardsIntact && scratch.guardsIntact, "\(context) \(name): wrote out of bounds")
                        #expect(out.allFinite, "\(context) \(name): NaN or inf")
                        let e = nmse(out.values, expected)
                        #expect(e <= Self.maxNMSE, "\(context) \(name): NMSE \(e)")
                    }
                    #expect(nmse(fused.values, naive.values) <= Self.maxNMSE, "\(context): fused vs naive")
                }
            }
        }

        @Test("naive f16kv leaves the probabilities of the F32 kernel on the rounded cache in its scratch")
        func naiveScratchIsThePattern() {
            let (T, p, nh, nkv, hd) = (5, 3, 4, 2, 72)
            let nk = p + T
            var rng = SplitMix64(seed: 78)
            let q = rng.floats(T * nh * hd)
            let (kh, kf) = halves(rng.floats(nk * nkv * hd))
            let (vh, vf) = halves(rng.floats(nk * nkv * hd))
            let bytes = ck_attention_naive_f16kv_scratch_bytes(Int64(T), Int64(p), Int64(nh))
            #expect(bytes == ck_attention_naive_scratch_bytes(Int64(T), Int64(p), Int64(nh)))
            let s16 = GuardedScratch(bytes: bytes), s32 = GuardedScratch(bytes: bytes)
            var out16 = [Float](repeating: 0, count: T * nh * hd), out32 = out16
            func probs(_ s: GuardedScratch) -> [Float] {
                let start = (Int(bitPattern: s.pointer) + 63) & ~63
                return Array(UnsafeBufferPointer(start: UnsafePointer<Float>(bitPattern: start)!, count: nh * T * nk))
            }
            atEachLevel { level in
                ck_attention_naive_f16kv(&out16, q, kh, vh, Int64(T), Int64(p), Int64(nh), Int64(nkv), Int64(hd),
                                         0.5, 0, 0, 2, s16.pointer)
                ck_attention_naive(&out32, q, kf, vf, Int64(T), Int64(p), Int64(nh), Int64(nkv), Int64(hd), 0.5, 0, 0, 2,
                                   s32.pointer)
                let (a, b) = (probs(s16), probs(s32))
                #expect(nmse(a, b) <= 1e-10, "\(levelName(level))")
                #expect(nmse(out16, out32) <= 1e-10, "\(levelName(level))")
                for row in 0..<(nh * T) {
                    let t = row % T
                    #expect(a[(row * nk + p + t + 1)..<(row * nk + nk)].allSatisfy { $0 == 0 })
                }
            }
        }

        @Test("fused f16kv scratch does not grow with the context")
        func fusedScratchIsBounded() {
            let short = ck_attention_fused_f16kv_scratch_bytes(1, 10, 9, 64, 2)
            let long = ck_attention_fused_f16kv_scratch_bytes(1, 1_000_000, 9, 64, 2)
            #expect(short == long)
            #expect(short >= ck_attention_fused_scratch_bytes(1, 10, 9, 64, 2))
            let prefill = ck_attention_fused_f16kv_scratch_bytes(8192, 0, 9, 64, 2)
            #expect(prefill < 1 << 20, "per-thread tiles, not T x T scores: \(prefill) bytes")
        }
    }
}
