// Every op of the OpenCL backend against CKernels' scalar references (ck_ref_*, double accumulation) on
// seeded inputs with awkward shapes, NMSE = Σ(a-b)²/Σb² (ggml test-backend-ops). Outputs carry a guard row that
// must come back untouched. The thresholds, and why:
//   floatOpNMSE 1e-6: F32 math on another device. Sums run in float in a different order than the reference
//     (relative error ~ sqrt(n) * 6e-8, NMSE ~ 1e-12 for n = 576), and OpenCL C allows exp/tanh/sin/cos 3-5 ulp
//     off; 1e-6 leaves room for GPUs whose libraries sit at those bounds while any indexing bug (a wrong row,
//     tail or nibble) gives NMSE > 1e-3. Measured on PoCL: see the printed values (about 1e-14).
//   matmulNMSE 1e-6 for every format: the kernels dequantize weights exactly (the reference multiplies by the
//     same decoded values) and, unlike the openmp backend, never quantize activations to 8 bits, so a quantized
//     product has the error of an F32 one. (ggml's 5e-4 for mul_mat covers activation quantization, absent here.)
//   ropeNMSE 1e-6: the angles are bit-identical to the reference's (same float product chain); what differs is
//     float cos/sin (up to 4 ulp in OpenCL C) against the reference's double ones.
import BackendOpenCL
import CKernels
import Foundation
import GPTCore
import Testing

let floatOpNMSE = 1e-6
let matmulNMSE = 1e-6
let ropeNMSE = 1e-6

@Suite(.serialized, .enabled(if: openCLAvailable, "no OpenCL platform: apt install pocl-opencl-icd"))
struct OpenCLOps {
    // MARK: Matmul

    struct MatmulCase: Sendable, CustomStringConvertible {
        var format: WeightFormat, T: Int, K: Int, N: Int
        var description: String { "MATMUL(format=\(format),T=\(T),K=\(K),N=\(N))" }

        static let all: [MatmulCase] = {
            var cases: [MatmulCase] = []
            for format in quantizableFormats {
                // K not a multiple of 32 only exists for the float formats: tails of the tiles and strides; the
                // K-quants take whole super-blocks of 256.
                let ks = !format.isQuantized ? [5, 32, 96, 576] : format.blockSize == 32 ? [32, 96, 576] : [256, 768]
                for T in [1, 5, 33] { for K in ks { for N in [1, 7, 576] { cases.append(MatmulCase(format: format, T: T, K: K, N: N)) } } }
            }
            return cases
        }()
    }

    @Test(arguments: MatmulCase.all)
    func matmul(_ c: MatmulCase) throws {
        let b = try backend()
        var rng = SeededRNG(seed: UInt64(c.T * 1_000_003 + c.K * 1009 + c.N) ^ UInt64(c.format.ggmlType))
        let x = rng.floats(c.T * c.K)
        let bytes = encode(rng.floats(c.N * c.K), c.format)
        let xt = try upload(b, [c.T, c.K], x)
        let wt = try uploadBytes(b, [c.N, c.K], c.format, bytes)
        let out = try guardedOutput(b, rows: c.T, cols: c.N)
        try b.run(.matmul(outs: [out], x: xt, weights: [wt], rows: c.T))
        let r = compare(try download(b, out), Reference.matmul(x, bytes, c.format, T: c.T, K: c.K, N: c.N))
        expectClose(r, matmulNMSE, c.description)
    }

    /// A batch buffer larger than the rows used: only `rows` rows are computed (the executor's prefill buffers).
    @Test func matmulUsesOnlyRows() throws {
        let b = try backend()
        var rng = SeededRNG(seed: 7)
        let (T, K, N) = (3, 64, 40)
        let x = rng.floats(8 * K)
        let bytes = encode(rng.floats(N * K), .q4_1)
        let xt = try upload(b, [8, K], x)
        let wt = try uploadBytes(b, [N, K], .q4_1, bytes)
        let out = try upload(b, [8, N], [Float](repeating: sentinel, count: 8 * N))
        try b.run(.matmul(outs: [out], x: xt, weights: [wt], rows: T))
        let ref = Reference.matmul(Array(x[0..<T * K]), bytes, .q4_1, T: T, K: K, N: N)
        expectClose(compare(try download(b, out), ref), matmulNMSE, "matmul rows=3 of 8")
    }

    // MARK: Embedding

    @Test(arguments: quantizableFormats, [32, 576])
    func embedding(_ format: WeightFormat, _ n32: Int) throws {
        // whole blocks of the format: the K-quants take 256-blocks (32 -> 256, 576 -> 4608)
        let n = format.blockSize > 32 ? n32 / 32 * format.blockSize : n32
        let b = try backend()
        var rng = SeededRNG(seed: UInt64(n) + UInt64(format.ggmlType))
        let vocab = 37
        let bytes = encode(rng.floats(vocab * n), format)
        let tokens: [Int32] = [0, 36, 5, 5, 17]
        let tt = try uploadBytes(b, [vocab, n], format, bytes)
        let out = try guardedOutput(b, rows: tokens.count, cols: n)
        try b.run(.embedding(out: out, table: tt, tokens: tokens))
        let ref = Reference.embedding(bytes, format, tokens: tokens, n: n)
        // Dequantization is exact in both: any difference is a bug.
        expectClose(compare(try download(b, out), ref), 0, "EMBEDDING(format=\(format),n=\(n))")
        #expect(throws: BackendError.self) { try b.run(.embedding(out: out, table: tt, tokens: [Int32(vocab)])) }
    }

    // MARK: Norms

    @Test(arguments: [1, 5, 33], [1, 7, 96, 576, 1000])
    func rmsNorm(_ T: Int, _ n: Int) throws {
        let b = try backend()
        var rng = SeededRNG(seed: UInt64(T * 7919 + n))
        let (x, w) = (rng.floats(T * n, 3), rng.floats(n))
        let out = try guardedOutput(b, rows: T, cols: n)
        try b.run(.rmsNorm(out: out, x: try upload(b, [T, n], x), weight: try upload(b, [n], w), rows: T, eps: 1e-5))
        let r = compare(try download(b, out), Reference.rmsNorm(x, w, T: T, n: n, eps: 1e-5))
        expectClose(r, floatOpNMSE, "RMS_NORM(T=\(T),n=\(n))")
    }

    @Test(arguments: [1, 5, 33], [1, 7, 96, 576, 1000])
    func layerNorm(_ T: Int, _ n: Int) throws {
        let b = try backend()
        var rng = SeededRNG(seed: UInt64(T * 7907 + n))
        // An offset mean checks the two-pass variance.
        let x = rng.floats(T * n, 3).map { $0 + 10 }
        let (w, bias) = (rng.floats(n), rng.floats(n))
        let out = try guardedOutput(b, rows: T, cols: n)
        try b.run(.layerNorm(out: out, x: try upload(b, [T, n], x), weight: try upload(b, [n], w),
                                bias: try upload(b, [n], bias), rows: T, eps: 1e-5))
        let r = compare(try download(b, out), Reference.layerNorm(x, w, bias, T: T, n: n, eps: 1e-5))
        expectClose(r, n == 1 ? 1e-6 : floatOpNMSE, "LAYER_NORM(T=\(T),n=\(n))")
    }

    @Test func normInPlace() throws {
        let b = try backend()
        var rng = SeededRNG(seed: 3)
        let (x, w) = (rng.floats(5 * 96), rng.floats(96))
        let xt = try upload(b, [5, 96], x)
        try b.run(.rmsNorm(out: xt, x: xt, weight: try upload(b, [96], w), rows: 5, eps: 1e-6))
        let r = compare(try download(b, xt), Reference.rmsNorm(x, w, T: 5, n: 96, eps: 1e-6))
        expectClose(r, floatOpNMSE, "RMS_NORM in place")
    }

    // MARK: RoPE

    struct RopeCase: Sendable, CustomStringConvertible {
        var T: Int, startPos: Int, nh: Int, hd: Int, base: Float, style: RopeStyle
        var description: String { "ROPE(T=\(T),start=\(startPos),nh=\(nh),hd=\(hd),base=\(base),\(style))" }
        static let all: [RopeCase] = {
            var cases: [RopeCase] = []
            for style in RopeStyle.allCases {
                for (T, start) in [(1, 0), (5, 3), (33, 1000), (1, 8191)] {
                    for (nh, hd) in [(9, 64), (4, 72), (3, 2)] {
                        for base: Float in [10000, 500_000] {
                            cases.append(RopeCase(T: T, startPos: start, nh: nh, hd: hd, base: base, style: style))
                        }
                    }
                }
            }
            return cases
        }()
    }

    @Test(arguments: RopeCase.all)
    func rope(_ c: RopeCase) throws {
        let b = try backend()
        var rng = SeededRNG(seed: UInt64(c.T * 31 + c.startPos * 17 + c.hd))
        let n = c.nh * c.hd
        let x = rng.floats(c.T * n)
        let xt = try upload(b, [c.T + 1, n], x + [Float](repeating: sentinel, count: n))
        try b.run(.rope(Op.Rope(x: xt, rows: c.T, startPos: c.startPos, nHeads: c.nh, headDim: c.hd,
                                   freqBase: c.base, style: c.style)))
        let ref = Reference.rope(x, T: c.T, startPos: c.startPos, nh: c.nh, hd: c.hd, base: c.base,
                                 neox: c.style == .neox)
        expectClose(compare(try download(b, xt), ref), ropeNMSE, c.description)
    }

    // MARK: Elementwise

    @Test(arguments: [1, 5, 33], [7, 576])
    func elementwise(_ T: Int, _ n: Int) throws {
        let b = try backend()
        var rng = SeededRNG(seed: UInt64(T * 13 + n))
        let (x, y, bias) = (rng.floats(T * n, 6), rng.floats(T * n, 6), rng.floats(n))
        let (xt, yt) = (try upload(b, [T, n], x), try upload(b, [T, n], y))

        let s = try guardedOutput(b, rows: T, cols: n)
        try b.run(.swiglu(out: s, gate: xt, up: yt, rows: T))
        expectClose(compare(try download(b, s), Reference.swiglu(x, y)), floatOpNMSE, "SWIGLU(T=\(T),n=\(n))")

        let g = try guardedOutput(b, rows: T, cols: n)
        try b.run(.gelu(out: g, x: xt, rows: T))
        expectClose(compare(try download(b, g), Reference.gelu(x)), floatOpNMSE, "GELU(T=\(T),n=\(n))")

        let a = try guardedOutput(b, rows: T, cols: n)
        try b.run(.add(out: a, a: xt, b: yt, rows: T))
        expectClose(compare(try download(b, a), zip(x, y).map { Double($0) + Double($1) }), floatOpNMSE,
                    "ADD(T=\(T),n=\(n))")

        let xb = try upload(b, [T + 1, n], x + [Float](repeating: sentinel, count: n))
        try b.run(.addBias(x: xb, bias: try upload(b, [n], bias), rows: T))
        let ref = x.enumerated().map { Double($0.element) + Double(bias[$0.offset % n]) }
        expectClose(compare(try download(b, xb), ref), floatOpNMSE, "ADD_BIAS(T=\(T),n=\(n))")

        try b.run(.add(out: xt, a: xt, b: yt, rows: T))  // out aliases a
        expectClose(compare(try download(b, xt), zip(x, y).map { Double($0) + Double($1) }), floatOpNMSE,
                    "ADD in place")
    }

    @Test func copyRows() throws {
        let b = try backend()
        var rng = SeededRNG(seed: 11)
        let src = rng.floats(5 * 24)
        let dst = [Float](repeating: sentinel, count: 10 * 24)
        let (s, d) = (try upload(b, [5, 24], src), try upload(b, [10, 24], dst))
        try b.run(.copyRows(dst: d, dstRow: 6, src: s, srcRow: 1, rows: 3))
        var expected = dst
        expected.replaceSubrange(6 * 24..<9 * 24, with: src[24..<4 * 24])
        #expect(try download(b, d) == expected)
        #expect(throws: BackendError.self) { try b.run(.copyRows(dst: d, dstRow: 8, src: s, srcRow: 0, rows: 3)) }
    }

    // MARK: Attention

    struct AttentionCase: Sendable, CustomStringConvertible {
        var T: Int, startPos: Int, nh: Int, nkv: Int, hd: Int
        var description: String { "ATTENTION(T=\(T),start=\(startPos),heads=\(nh)/\(nkv),hd=\(hd))" }
        static let all: [AttentionCase] = {
            // Decode at short and long caches (the long ones split keys across work-groups and merge), prefill
            // blocks that do and do not divide T, and both ends: T = 130 and start_pos + T = 1000.
            let lengths = [(1, 0), (1, 1), (1, 63), (1, 1000), (2, 0), (3, 997), (5, 3), (7, 257), (33, 0),
                           (33, 100), (130, 0), (130, 870)]
            var cases: [AttentionCase] = []
            for (nh, nkv) in [(9, 3), (4, 4)] {
                for hd in [64, 72] {
                    for (T, start) in lengths { cases.append(AttentionCase(T: T, startPos: start, nh: nh, nkv: nkv, hd: hd)) }
                }
            }
            return cases
        }()
    }

    /// Both kernels against the reference (computed once per case).
    @Test(arguments: AttentionCase.all)
    func attention(_ c: AttentionCase) throws {
        let b = try backend()
        var rng = SeededRNG(seed: UInt64(c.T * 4099 + c.startPos * 3 + c.hd + c.nh))
        let nk = c.startPos + c.T
        let (qn, kvn) = (c.nh * c.hd, c.nkv * c.hd)
        let q = rng.floats(c.T * qn, 3)
        let (k, v) = (rng.floats(nk * kvn), rng.floats(nk * kvn))
        // Two cache rows past the visible positions hold NaN: reading them would poison the output.
        let nan = [Float](repeating: .nan, count: 2 * kvn)
        let kc = try upload(b, [nk + 2, kvn], k + nan, "k cache")
        let vc = try upload(b, [nk + 2, kvn], v + nan, "v cache")
        let qt = try upload(b, [c.T, qn], q, "q")
        let scale = 1 / Float(c.hd).squareRoot()
        let ref = Reference.attention(q, k, v, T: c.T, startPos: c.startPos, nh: c.nh, nkv: c.nkv, hd: c.hd,
                                      scale: scale)
        for kind in AttentionKind.allCases {
            let out = try guardedOutput(b, rows: c.T, cols: qn)
            try b.run(.attention(Op.Attention(out: out, q: qt, kCache: kc, vCache: vc, rows: c.T, startPos: c.startPos,
                                              nHeads: c.nh, nKVHeads: c.nkv, headDim: c.hd, scale: scale, kind: kind)))
            expectClose(compare(try download(b, out), ref), floatOpNMSE, "\(c) \(kind)")
        }
    }
}
