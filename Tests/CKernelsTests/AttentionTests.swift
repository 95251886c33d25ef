// AttentionTests: ck_attention_fused and ck_attention_naive against ck_ref_attention (and against each other) for
// query counts T, cache positions start_pos, head layouts (nh query heads over nkv KV heads) and head dimensions,
// at every SIMD level, on 1, 2 and 3 threads (2 and 3 exercise the flash-decoding key splits and their merge).

import GPTCore
import CKernels
import Foundation
import Testing

struct AttentionShape: CustomStringConvertible, Sendable {
    let T: Int, startPos: Int, nh: Int, nkv: Int, hd: Int
    /// Sliding window (0: every earlier key).
    var window = 0
    /// Rows of a ring cache (position j at row j % ring, kv_rows in ckernels.h); 0: the full cache.
    var ring = 0
    var description: String {
        "ATTN(T=\(T),start=\(startPos),nh=\(nh),nkv=\(nkv),hd=\(hd)" + (window > 0 ? ",window=\(window)" : "")
            + (ring > 0 ? ",ring=\(ring))" : ")")
    }

    /// The cache the kernels read for the full one (startPos + T rows of `width`): the full one, or its last
    /// `ring` positions laid out as a ring (older rows are lost, as in a sliding-window layer's cache).
    func stored<E: Numeric>(_ full: [E], width: Int) -> [E] {
        guard ring > 0 else { return full }
        var out = [E](repeating: 0, count: ring * width)
        for j in max(0, startPos + T - ring)..<(startPos + T) {
            out[(j % ring * width)..<((j % ring + 1) * width)] = full[(j * width)..<((j + 1) * width)]
        }
        return out
    }

    /// T in {1, 3, 17, 64, 130} x start_pos in {0, 1, 100, 1000} x (nh, nkv) in {(9,3), (4,4), (6,1)} x hd in
    /// {8, 64, 72}: grouped (SmolLM2), plain multi-head, multi-query; head sizes below, at and off 16.
    static let all: [AttentionShape] = [1, 3, 17, 64, 130].flatMap { t in
        [0, 1, 100, 1000].flatMap { p in
            [(9, 3), (4, 4), (6, 1)].flatMap { heads in
                [8, 64, 72].map { AttentionShape(T: t, startPos: p, nh: heads.0, nkv: heads.1, hd: $0) }
            }
        }
    } + windowed + ringed

    /// Sliding windows (Gemma 3, Mistral): smaller than, equal to and larger than the rows, inside one key block
    /// (64) and across several, for prefill and decode, so window masks, skipped blocks and key splits all run.
    static let windowed: [AttentionShape] = [(1, 1000, 5), (1, 1000, 512), (3, 100, 1), (17, 100, 16), (64, 1000, 64),
                                             (130, 0, 40), (130, 1000, 300), (64, 7, 1000)].flatMap { t, p, w in
        [(9, 3), (4, 1)].map { AttentionShape(T: t, startPos: p, nh: $0.0, nkv: $0.1, hd: 64, window: w) }
    }

    /// Sliding windows over ring caches of window + T - 1 rows and more (Gemma 3's window + batch): decode and
    /// chunks whose keys wrap around the ring's end, key blocks cut at the wrap, rings that have not wrapped yet.
    static let ringed: [AttentionShape] = [(1, 1100, 512, 1024), (1, 300, 64, 64), (1, 1000, 5, 7), (33, 1000, 512, 560),
                                           (7, 100, 16, 22), (130, 50, 40, 170), (64, 1000, 64, 127),
                                           (17, 3, 16, 40)].flatMap { t, p, w, r in
        [(9, 3), (4, 1)].map { AttentionShape(T: t, startPos: p, nh: $0.0, nkv: $0.1, hd: 64, window: w, ring: r) }
    }
}

extension CKernelsSuite {
    @Suite("Attention")
    struct AttentionTests {
        // f32 queries, keys and values: float rounding only (the reference sums in double), so test-backend-ops'
        // default 1e-7 applies; ggml's 5e-4 for FLASH_ATTN_EXT is for f16 K/V, which these kernels do not use.
        static let maxNMSE = 1e-7

        @Test("fused and naive attention match the reference", arguments: AttentionShape.all)
        func matchesReference(_ s: AttentionShape) {
            var rng = SplitMix64(seed: UInt64(s.T * 7919 + s.startPos * 104_729 + s.nh * 31 + s.nkv * 17 + s.hd))
            let nKeys = s.startPos + s.T
            let q = GuardedFloats(rng.floats(s.T * s.nh * s.hd))
            let kFull = rng.floats(nKeys * s.nkv * s.hd), vFull = rng.floats(nKeys * s.nkv * s.hd)
            let k = GuardedFloats(s.stored(kFull, width: s.nkv * s.hd))
            let v = GuardedFloats(s.stored(vFull, width: s.nkv * s.hd))
            // A scale 3x the usual 1/sqrt(hd) makes the softmax peaky enough that masking errors would show.
            let scale = 3 / Float(s.hd).squareRoot()
            let (t, p, nh, nkv, hd) = (Int64(s.T), Int64(s.startPos), Int64(s.nh), Int64(s.nkv), Int64(s.hd))
            var expected = [Float](repeating: 0, count: s.T * s.nh * s.hd)
            ck_ref_attention(&expected, q.pointer, kFull, vFull, t, p, nh, nkv, hd, scale, Int64(s.window))

            atEachLevel { level in
                for threads: Int32 in [1, 2, 3] {
                    let context = "\(s) \(levelName(level)) \(threads) threads"
                    let fused = GuardedFloats(count: s.T * s.nh * s.hd)
                    let fusedScratch = GuardedScratch(bytes: ck_attention_fused_scratch_bytes(t, p, nh, hd, threads))
                    ck_attention_fused(
                        fused.pointer, q.pointer, k.pointer, v.pointer, t, p, nh, nkv, hd, scale, Int64(s.window),
                        Int64(s.ring), threads, fusedScratch.pointer)
                    let naive = GuardedFloats(count: s.T * s.nh * s.hd)
                    let naiveScratch = GuardedScratch(bytes: ck_attention_naive_scratch_bytes(t, p, nh))
                    ck_attention_naive(
                        naive.pointer, q.pointer, k.pointer, v.pointer, t, p, nh, nkv, hd, scale, Int64(s.window),
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

        @Test("naive attention leaves the probabilities in its scratch (ckernels.h), zero above the diagonal")
        func naiveScratchIsThePattern() throws {
            let (T, p, nh, nkv, hd) = (5, 3, 4, 2, 8)
            let nk = p + T
            var rng = SplitMix64(seed: 77)
            let q = rng.floats(T * nh * hd), k = rng.floats(nk * nkv * hd), v = rng.floats(nk * nkv * hd)
            let scale: Float = 0.5
            // probabilities in double, straight from the definition
            var expected = [Float](repeating: 0, count: nh * T * nk)
            for h in 0..<nh {
                for t in 0..<T {
                    let visible = p + t + 1
                    let scores = (0..<visible).map { (j: Int) -> Double in
                        var dot = 0.0
                        for d in 0..<hd {
                            dot += Double(q[t * nh * hd + h * hd + d]) * Double(k[j * nkv * hd + h / 2 * hd + d])
                        }
                        return dot * Double(scale)
                    }
                    let m = scores.max()!
                    let e = scores.map { Foundation.exp($0 - m) }
                    let sum = e.reduce(0, +)
                    for j in 0..<visible { expected[(h * T + t) * nk + j] = Float(e[j] / sum) }
                }
            }
            let bytes = ck_attention_naive_scratch_bytes(Int64(T), Int64(p), Int64(nh))
            let scratch = GuardedScratch(bytes: bytes)
            var out = [Float](repeating: 0, count: T * nh * hd)
            atEachLevel { level in
                ck_attention_naive(&out, q, k, v, Int64(T), Int64(p), Int64(nh), Int64(nkv), Int64(hd), scale, 0, 0, 2,
                                   scratch.pointer)
                let start = (Int(bitPattern: scratch.pointer) + 63) & ~63
                let probs = Array(UnsafeBufferPointer(
                    start: UnsafePointer<Float>(bitPattern: start)!, count: nh * T * nk))
                #expect(nmse(probs, expected) <= 1e-7, "\(levelName(level))")
                for row in 0..<(nh * T) {
                    let t = row % T
                    #expect(probs[(row * nk + p + t + 1)..<(row * nk + nk)].allSatisfy { $0 == 0 })
                }
            }
        }

        /// Decode rows over short and long caches: Gemma 3's layers (4 heads of 256 over 1 KV head; local ones with
        /// a window of 512 over a ring of 1024, global ones without) and SmolLM2's (9 heads of 64 over 3), at key
        /// counts around the split thresholds (parts of at least 16 keys, from 32 keys on for Gemma).
        static let decodeSplits: [AttentionShape] =
            [0, 1, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 127, 128, 200, 511, 600, 1100].flatMap { p in
                [AttentionShape(T: 1, startPos: p, nh: 4, nkv: 1, hd: 256),
                 AttentionShape(T: 1, startPos: p, nh: 4, nkv: 1, hd: 256, window: 512, ring: 1024)]
            } + [40, 57, 100, 229, 300].map { AttentionShape(T: 1, startPos: $0, nh: 9, nkv: 3, hd: 64) }

        @Test("decode attention split across threads (open job, last part merges) matches the reference, the same call after call",
              arguments: decodeSplits)
        func decodeSplitsMatch(_ s: AttentionShape) {
            var rng = SplitMix64(seed: UInt64(s.startPos * 104_729 + s.nh * 31 + s.hd + s.window))
            let nKeys = s.startPos + s.T
            let q = rng.floats(s.T * s.nh * s.hd)
            // an F16 cache, as the models keep it; the reference reads the same values as floats
            let kh = rng.floats(nKeys * s.nkv * s.hd).map { ck_fp32_to_fp16($0) }
            let vh = rng.floats(nKeys * s.nkv * s.hd).map { ck_fp32_to_fp16($0) }
            let (ringK, ringV) = (s.stored(kh, width: s.nkv * s.hd), s.stored(vh, width: s.nkv * s.hd))
            let scale = 3 / Float(s.hd).squareRoot()
            let (t, p, nh, nkv, hd) = (Int64(s.T), Int64(s.startPos), Int64(s.nh), Int64(s.nkv), Int64(s.hd))
            var expected = [Float](repeating: 0, count: s.T * s.nh * s.hd)
            ck_ref_attention(&expected, q, kh.map { ck_fp16_to_fp32($0) }, vh.map { ck_fp16_to_fp32($0) }, t, p, nh,
                             nkv, hd, scale, Int64(s.window))
            atEachLevel { level in
                // 3 and 8 threads on this 2-core machine: workers often start late or not at all (open jobs)
                for threads: Int32 in [2, 3, 8] {
                    let context = "\(s) \(levelName(level)) \(threads) threads"
                    let scratch = GuardedScratch(bytes: ck_attention_fused_f16kv_scratch_bytes(t, p, nh, hd, threads))
                    var first: [Float]?
                    for call in 0..<20 {
                        let out = GuardedFloats(count: s.T * s.nh * s.hd)
                        ck_attention_fused_f16kv(out.pointer, q, ringK, ringV, t, p, nh, nkv, hd, scale,
                                                 Int64(s.window), Int64(s.ring), threads, scratch.pointer)
                        #expect(out.guardsIntact && scratch.guardsIntact, "\(context): wrote out of bounds")
                        #expect(out.allFinite, "\(context) call \(call): NaN or inf (a part not merged)")
                        let e = nmse(out.values, expected)
                        #expect(e <= Self.maxNMSE, "\(context) call \(call): NMSE \(e)")
                        // the parts' boundaries depend on the thread count only, not on which threads ran them
                        if let first { #expect(out.values == first, "\(context) call \(call): differs from call 0") }
                        else { first = out.values }
                    }
                }
            }
        }

        @Test("fused scratch does not grow with the context")
        func fusedScratchIsBounded() {
            let short = ck_attention_fused_scratch_bytes(1, 10, 9, 64, 2)
            let long = ck_attention_fused_scratch_bytes(1, 1_000_000, 9, 64, 2)
            #expect(short == long)
            let prefill = ck_attention_fused_scratch_bytes(8192, 0, 9, 64, 2)
            #expect(prefill < 1 << 20, "per-thread tiles, not T x T scores: \(prefill) bytes")
        }
    }
}
