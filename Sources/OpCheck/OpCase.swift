// OpCase: one row of the cross-backend suite (`gpt check`, BackendOpsTests): an op, a format, a shape, and the
// largest normalised mean squared error it may have against the scalar reference in CKernels/ref.
import GPTCore

public struct OpCase: Sendable, CustomStringConvertible, Hashable {
    public var op: OpKind
    public var format: WeightFormat
    /// Sizes by name: T (tokens), K, N, n, heads, start, nh, nkv, hd, window, vocab.
    public var sizes: [String: Int]
    public var attention: AttentionKind = .fused
    public var rope: RopeStyle = .adjacent
    /// Largest NMSE accepted (see `OpCase.threshold`).
    public var maxNMSE: Double

    public init(_ op: OpKind, _ format: WeightFormat = .f32, _ sizes: [String: Int],
                attention: AttentionKind = .fused, rope: RopeStyle = .adjacent, maxNMSE: Double? = nil) {
        self.op = op
        self.format = format
        self.sizes = sizes
        self.attention = attention
        self.rope = rope
        self.maxNMSE = maxNMSE ?? OpCase.threshold(op, format)
    }

    /// Per-op tolerances.
    /// - Float ops: 1e-7, ggml test-backend-ops' default (float kernels against a double reference differ by
    ///   rounding only, NMSE ~1e-12; 1e-7 still catches any real bug, which gives NMSE ~1e-2 or more).
    /// - Matmul with quantized or F16 weights: 5e-4, as ggml uses for mul_mat: the CPU kernels quantize the
    ///   activations to 8 bits (as llama.cpp does), which alone gives NMSE ~1e-5.
    /// - Attention: 1e-6: float exp and a different summation order over up to 8192 keys.
    public static func threshold(_ op: OpKind, _ format: WeightFormat) -> Double {
        switch op {
        case .matmul where format != .f32: 5e-4
        case .matmul: 1e-6
        case .attention: 1e-6
        default: 1e-7
        }
    }

    public func size(_ name: String) -> Int { sizes[name] ?? 0 }

    /// Like ggml's vars(): a failure line can be pasted back into `gpt check -p`.
    public var description: String {
        let keys = ["T", "K", "N", "parts", "n", "heads", "start", "nh", "nkv", "hd", "window", "ring", "seqs", "vocab", "factors"].filter { sizes[$0] != nil }
        var parts = ["format=\(format)"] + keys.map { "\($0)=\(sizes[$0]!)" }
        if op == .attention { parts.append("kind=\(attention)") }
        if op == .rope { parts.append("style=\(rope)") }
        return "\(op)(\(parts.joined(separator: ",")))"
    }

    /// Every case of the suite: awkward sizes (1, 5, 7, 33, 257: not multiples of 32 or of any tile) mixed with
    /// SmolLM2's real shapes (576, 1536, 9 query heads sharing 3 KV heads, head dimension 64), in every format of
    /// the table (a backend reports the ones it does not run as not supported).
    public static var all: [OpCase] {
        var cases: [OpCase] = []
        let formats = WeightFormat.allCases
        // matmul: decode (T = 1) and prefill (T > 1) shapes
        let matmulShapes: [(Int, Int, Int)] = [
            (1, 32, 1), (1, 576, 576), (1, 576, 192), (1, 1536, 576), (1, 576, 1536), (2, 64, 7), (5, 96, 33),
            (7, 576, 5), (33, 576, 576), (64, 1536, 576), (257, 64, 33),
        ]
        for f in formats {
            // K (and an embedding row) holds whole blocks: rounded up to 256 for the K-quants (576 -> 768)
            func whole(_ k: Int) -> Int { (k + f.blockSize - 1) / f.blockSize * f.blockSize }
            for (t, k, n) in matmulShapes { cases.append(OpCase(.matmul, f, ["T": t, "K": whole(k), "N": n])) }
            // several matrices on one input, as the executor runs Q/K/V and gate/up
            for (t, k, n) in [(1, 576, 192), (5, 96, 33), (33, 64, 7)] {
                cases.append(OpCase(.matmul, f, ["T": t, "K": whole(k), "N": n, "parts": 3]))
            }
            for t in [1, 7] {
                cases.append(OpCase(.embedding, f, ["T": t, "n": f.isQuantized ? whole(96) : 33, "vocab": 50]))
            }
        }
        for (t, n) in [(1, 576), (5, 33), (7, 1536), (33, 7)] {
            cases.append(OpCase(.rmsNorm, .f32, ["T": t, "n": n]))
            // per-head norms (Gemma 3's queries and keys): 4 heads of n
            cases.append(OpCase(.rmsNorm, .f32, ["T": t, "n": n, "heads": 4]))
            cases.append(OpCase(.layerNorm, .f32, ["T": t, "n": n]))
            cases.append(OpCase(.swiglu, .f32, ["T": t, "n": n]))
            cases.append(OpCase(.gelu, .f32, ["T": t, "n": n]))
            cases.append(OpCase(.geglu, .f32, ["T": t, "n": n]))
            cases.append(OpCase(.scale, .f32, ["T": t, "n": n]))
            cases.append(OpCase(.add, .f32, ["T": t, "n": n]))
            cases.append(OpCase(.addBias, .f32, ["T": t, "n": n]))
            cases.append(OpCase(.copyRows, .f32, ["T": t, "n": n, "start": 3]))
        }
        for style in RopeStyle.allCases {
            for (t, start, nh, hd) in [(1, 0, 9, 64), (5, 17, 3, 64), (7, 1000, 2, 72), (33, 4000, 9, 8)] {
                cases.append(OpCase(.rope, .f32, ["T": t, "start": start, "nh": nh, "hd": hd], rope: style))
            }
            // the rows of several sequences, each at its own position (a server's step)
            for (t, start, nh, hd, seqs) in [(8, 0, 9, 64, 8), (7, 100, 3, 64, 3)] {
                cases.append(OpCase(.rope, .f32, ["T": t, "start": start, "nh": nh, "hd": hd, "seqs": seqs], rope: style))
            }
            // with per-pair frequency factors (Llama 3's rope_freqs, Phi-3's LongRoPE)
            for (t, start, nh, hd) in [(5, 17, 3, 64), (7, 1000, 2, 72)] {
                cases.append(OpCase(.rope, .f32, ["T": t, "start": start, "nh": nh, "hd": hd, "factors": 1], rope: style))
            }
        }
        // attention: one query over short and long caches (decode), many queries (prefill), odd heads and dims,
        // up to SmolLM2's 8192-token context
        let attentionShapes: [(Int, Int, Int, Int, Int)] = [
            (1, 0, 9, 3, 64), (1, 1, 9, 3, 64), (1, 100, 9, 3, 64), (3, 0, 4, 4, 8), (5, 7, 6, 1, 72),
            (17, 3, 6, 2, 64), (64, 0, 9, 3, 64), (130, 1000, 9, 3, 64), (1, 4095, 9, 3, 64), (1, 8191, 9, 3, 64),
            (64, 8128, 9, 3, 64), (257, 0, 3, 3, 40),
        ]
        // sliding windows (Gemma 3: 512 keys, 4 query heads over 1 KV head of 256; Mistral-style on SmolLM2's heads):
        // decode far past the window, prefill across it
        let windowShapes: [(Int, Int, Int, Int, Int, Int)] = [
            (1, 4095, 4, 1, 256, 512), (33, 1000, 4, 1, 256, 512), (7, 100, 9, 3, 64, 16), (130, 0, 9, 3, 64, 40),
        ]
        // sliding windows over a ring cache (a local layer's: window + batch rows, position j at row j % ring):
        // decode and chunks whose keys wrap around the ring's end, and the smallest ring, window + T - 1
        let ringShapes: [(Int, Int, Int, Int, Int, Int, Int)] = [
            (1, 1100, 4, 1, 256, 512, 1024), (33, 1000, 4, 1, 256, 512, 560), (7, 100, 9, 3, 64, 16, 22),
            (130, 50, 9, 3, 64, 40, 170),
        ]
        // format = the KV cache's: F32, or F16 (compared with the reference on the same half-rounded keys/values)
        for kvFormat in [WeightFormat.f32, .f16] {
            for kind in AttentionKind.allCases {
                for (t, start, nh, nkv, hd) in attentionShapes {
                    cases.append(OpCase(.attention, kvFormat, ["T": t, "start": start, "nh": nh, "nkv": nkv, "hd": hd],
                                        attention: kind))
                }
                for (t, start, nh, nkv, hd, window) in windowShapes {
                    cases.append(OpCase(.attention, kvFormat, ["T": t, "start": start, "nh": nh, "nkv": nkv, "hd": hd,
                                                               "window": window], attention: kind))
                }
                for (t, start, nh, nkv, hd, window, ring) in ringShapes {
                    cases.append(OpCase(.attention, kvFormat, ["T": t, "start": start, "nh": nh, "nkv": nkv, "hd": hd,
                                                               "window": window, "ring": ring], attention: kind))
                }
                // several sequences in one op (sequence i at start + 37 i, its own cache): decode rows of a server's
                // step, prompt chunks, few sequences over a long cache (keys split), rings of a sliding window
                for (seqs, t, start, nh, nkv, hd, window, ring) in [
                    (8, 1, 0, 9, 3, 64, 0, 0), (3, 5, 20, 9, 3, 64, 0, 0), (2, 1, 1000, 9, 3, 64, 0, 0),
                    (4, 1, 600, 4, 1, 256, 512, 513), (3, 7, 100, 9, 3, 64, 16, 22),
                ] {
                    cases.append(OpCase(.attention, kvFormat, ["T": t, "start": start, "nh": nh, "nkv": nkv, "hd": hd,
                                                               "window": window, "ring": ring, "seqs": seqs],
                                        attention: kind))
                }
            }
        }
        return cases
    }
}
