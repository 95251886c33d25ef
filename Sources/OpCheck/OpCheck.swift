// OpCheck: runs one OpCase on a backend and on the scalar reference (CKernels/ref) with the same seeded inputs,
// and compares them by normalised mean squared error (ggml test-backend-ops' nmse: mse(a, b) / mse(b, 0)).
// A guard row after every output (and in-place input) catches writes past the rows an op was asked to cover.
import CKernels
import GPTCore

/// The outcome of one case on one backend.
public struct OpResult: Sendable {
    public var nmse: Double
    public var finite: Bool
    public var guardsIntact: Bool
    public var supported: Bool
    public var problem: String {
        if !supported { return "not supported" }
        if !finite { return "NaN or inf in the output" }
        if !guardsIntact { return "wrote past the last row (guard row changed)" }
        return ""
    }
    public func passed(_ c: OpCase) -> Bool { supported && finite && guardsIntact && nmse <= c.maxNMSE }
}

public enum OpCheck {
    /// The value guard rows are filled with.
    static let sentinel: Float = -7.0e30

    /// NMSE of `a` against the reference `b`: Σ(a-b)² / Σb² (0 when both are zero).
    public static func nmse(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var err = 0.0
        var ref = 0.0
        for i in a.indices {
            let d = Double(a[i]) - Double(b[i])
            err += d * d
            ref += Double(b[i]) * Double(b[i])
        }
        return ref == 0 ? err : err / ref
    }

    /// Runs `c` on `backend` and on the reference.
    public static func run(_ c: OpCase, on backend: any Backend, seed: UInt64 = 1234) throws -> OpResult {
        guard backend.supports(c.op, c.format) else {
            return OpResult(nmse: .infinity, finite: true, guardsIntact: true, supported: false)
        }
        var rng = SplitMix64(seed: seed)
        let s = c.size
        let io = DeviceIO(backend: backend)
        var out: [Float] = []
        var expected: [Float] = []
        var guardRow: [Float] = []

        switch c.op {
        case .matmul where s("parts") > 1:
            // matmuls: `parts` weight matrices of N rows each applied to one input (Q/K/V, gate/up)
            let (t, k, n, parts) = (s("T"), s("K"), s("N"), s("parts"))
            let x = rng.floats(t * k)
            let xd = try io.upload(x, [t, k])
            var weights: [any DeviceTensor] = []
            var outs: [any DeviceTensor] = []
            for _ in 0..<parts {
                let wBytes = BlockLayout.randomRows(c.format, rows: n, cols: k, &rng)
                var part = [Float](repeating: 0, count: t * n)
                wBytes.withUnsafeBytes { w in
                    ck_ref_matmul(Int32(c.format.ggmlType), &part, x, w.baseAddress, Int64(t), Int64(k), Int64(n))
                }
                expected += part
                weights.append(try io.uploadRaw(wBytes, [n, k], c.format))
                outs.append(try io.guarded([t + 1, n]))
            }
            try backend.run(.matmul(outs: outs, x: xd, weights: weights, rows: t))
            for od in outs {
                let (values, guardValues) = try io.download(od, rows: t)
                out += values
                guardRow += guardValues
            }
        case .matmul:
            let (t, k, n) = (s("T"), s("K"), s("N"))
            let x = rng.floats(t * k)
            let wBytes = BlockLayout.randomRows(c.format, rows: n, cols: k, &rng)
            expected = [Float](repeating: 0, count: t * n)
            wBytes.withUnsafeBytes { w in
                ck_ref_matmul(Int32(c.format.ggmlType), &expected, x, w.baseAddress, Int64(t), Int64(k), Int64(n))
            }
            let xd = try io.upload(x, [t, k])
            let wd = try io.uploadRaw(wBytes, [n, k], c.format)
            let od = try io.guarded([t + 1, n])
            try backend.run(.matmul(outs: [od], x: xd, weights: [wd], rows: t))
            (out, guardRow) = try io.download(od, rows: t)
        case .embedding:
            let (t, n, vocab) = (s("T"), s("n"), s("vocab"))
            let tokens = (0..<t).map { _ in Int32(rng.next() % UInt64(vocab)) }
            let table = BlockLayout.randomRows(c.format, rows: vocab, cols: n, &rng)
            expected = [Float](repeating: 0, count: t * n)
            table.withUnsafeBytes {
                ck_ref_embedding(Int32(c.format.ggmlType), &expected, $0.baseAddress, tokens, Int64(t), Int64(n))
            }
            let td = try io.uploadRaw(table, [vocab, n], c.format)
            let od = try io.guarded([t + 1, n])
            try backend.run(.embedding(out: od, table: td, tokens: tokens))
            (out, guardRow) = try io.download(od, rows: t)
        case .rmsNorm, .layerNorm:
            // heads > 1: rows of heads * n normalised per head of n (a weight shorter than the row)
            let (t, n, heads) = (s("T"), s("n"), max(1, s("heads")))
            let x = rng.floats(t * heads * n, scale: 3)
            let w = rng.floats(n)
            let b = rng.floats(n)
            expected = [Float](repeating: 0, count: t * heads * n)
            let eps: Float = 1e-5
            if c.op == .rmsNorm {
                ck_ref_rms_norm(&expected, x, w, Int64(t * heads), Int64(n), eps)
            } else {
                ck_ref_layer_norm(&expected, x, w, b, Int64(t), Int64(n), eps)
            }
            let (xd, wd, bd) = (try io.upload(x, [t, heads * n]), try io.upload(w, [n]), try io.upload(b, [n]))
            let od = try io.guarded([t + 1, heads * n])
            if c.op == .rmsNorm {
                try backend.run(.rmsNorm(out: od, x: xd, weight: wd, rows: t, eps: eps))
            } else {
                try backend.run(.layerNorm(out: od, x: xd, weight: wd, bias: bd, rows: t, eps: eps))
            }
            (out, guardRow) = try io.download(od, rows: t)
        case .rope:
            let (t, start, nh, hd) = (s("T"), s("start"), s("nh"), s("hd"))
            let x = rng.floats(t * nh * hd)
            expected = x
            // divisors in [1, 5) when the case has factors
            let factors: [Float]? = s("factors") == 1 ? rng.floats(hd / 2).map { 1 + 4 * abs($0) } : nil
            // "seqs" > 0: row i belongs to sequence i % seqs, at start + 37 (i % seqs) + i / seqs (one op over the
            // rows of several sequences, each at its own position)
            let positions: [Int32] = s("seqs") > 0 ? (0..<t).map { Int32(start + 37 * ($0 % s("seqs")) + $0 / s("seqs")) }
                : []
            if positions.isEmpty {
                ck_ref_rope(&expected, Int64(t), Int64(start), Int64(nh), Int64(hd), 10000, factors,
                            c.rope == .neox ? 1 : 0)
            } else {
                expected.withUnsafeMutableBufferPointer { e in
                    for (i, p) in positions.enumerated() {
                        ck_ref_rope(e.baseAddress! + i * nh * hd, 1, Int64(p), Int64(nh), Int64(hd), 10000, factors,
                                    c.rope == .neox ? 1 : 0)
                    }
                }
            }
            let xd = try io.guarded([t + 1, nh * hd], fill: x)
            let fd = try factors.map { try io.upload($0, [hd / 2]) }
            var rope = Op.Rope(x: xd, rows: t, startPos: start, nHeads: nh, headDim: hd, freqBase: 10000,
                               style: c.rope, freqFactors: fd)
            rope.positions = positions
            try backend.run(.rope(rope))
            (out, guardRow) = try io.download(xd, rows: t)
        case .attention:
            // "seqs" > 1: that many sequences of T rows each in one batchAttention op, sequence i at start + 37 i
            // over its own cache (a server's step)
            let (t, start, nh, nkv, hd, seqs) = (s("T"), s("start"), s("nh"), s("nkv"), s("hd"), max(1, s("seqs")))
            let q = rng.floats(seqs * t * nh * hd)
            let qd = try io.upload(q, [seqs * t, nh * hd])
            let od = try io.guarded([seqs * t + 1, nh * hd])
            let scale = 1 / Float(hd).squareRoot()
            expected = [Float](repeating: 0, count: seqs * t * nh * hd)
            var each: [Op.Attention] = []
            for i in 0..<seqs {
                let first = start + 37 * i, ctx = first + t
                var k = rng.floats(ctx * nkv * hd)
                var v = rng.floats(ctx * nkv * hd)
                if c.format == .f16 {
                    // the reference sees the same half-rounded cache the backend stores
                    k = k.map { ck_fp16_to_fp32(ck_fp32_to_fp16($0)) }
                    v = v.map { ck_fp16_to_fp32(ck_fp32_to_fp16($0)) }
                }
                let rowValues = t * nh * hd
                expected.withUnsafeMutableBufferPointer { e in
                    q.withUnsafeBufferPointer { qp in
                        ck_ref_attention(e.baseAddress! + i * rowValues, qp.baseAddress! + i * rowValues, k, v,
                                         Int64(t), Int64(first), Int64(nh), Int64(nkv), Int64(hd), scale,
                                         Int64(s("window")))
                    }
                }
                // a ring (s("ring") rows) keeps only the last positions, position j at row j % ring
                let rows = s("ring") > 0 ? min(s("ring"), ctx) : ctx, width = nkv * hd
                func stored(_ full: [Float]) -> [Float] {
                    var out = [Float](repeating: 0, count: rows * width)
                    for j in max(0, ctx - rows)..<ctx {
                        out[(j % rows * width)..<((j % rows + 1) * width)] = full[(j * width)..<((j + 1) * width)]
                    }
                    return out
                }
                let kd = try io.uploadCache(stored(k), [rows, width], c.format)
                let vd = try io.uploadCache(stored(v), [rows, width], c.format)
                each.append(Op.Attention(out: od, q: qd, kCache: kd, vCache: vd, row: i * t, rows: t, startPos: first,
                                         nHeads: nh, nKVHeads: nkv, headDim: hd, scale: scale, kind: c.attention,
                                         window: s("window")))
            }
            try backend.run(seqs > 1 ? .batchAttention(each) : .attention(each[0]))
            (out, guardRow) = try io.download(od, rows: seqs * t)
        case .swiglu, .gelu, .geglu, .add:
            let (t, n) = (s("T"), s("n"))
            let a = rng.floats(t * n, scale: 4)
            let b = rng.floats(t * n, scale: 4)
            expected = [Float](repeating: 0, count: t * n)
            switch c.op {
            case .swiglu: ck_ref_swiglu(&expected, a, b, Int64(t * n))
            case .gelu: ck_ref_gelu(&expected, a, Int64(t * n))
            case .geglu:
                ck_ref_gelu(&expected, a, Int64(t * n))
                for i in expected.indices { expected[i] *= b[i] }
            default: for i in a.indices { expected[i] = a[i] + b[i] }
            }
            let (ad, bd) = (try io.upload(a, [t, n]), try io.upload(b, [t, n]))
            let od = try io.guarded([t + 1, n])
            switch c.op {
            case .swiglu: try backend.run(.swiglu(out: od, gate: ad, up: bd, rows: t))
            case .gelu: try backend.run(.gelu(out: od, x: ad, rows: t))
            case .geglu: try backend.run(.geglu(out: od, gate: ad, up: bd, rows: t))
            default: try backend.run(.add(out: od, a: ad, b: bd, rows: t))
            }
            (out, guardRow) = try io.download(od, rows: t)
        case .scale:
            let (t, n) = (s("T"), s("n"))
            let x = rng.floats(t * n)
            let factor: Float = 25.3  // √640, Gemma 3 270M's embedding scale
            expected = x.map { $0 * factor }
            let xd = try io.guarded([t + 1, n], fill: x)
            try backend.run(.scale(x: xd, factor: factor, rows: t))
            (out, guardRow) = try io.download(xd, rows: t)
        case .addBias:
            let (t, n) = (s("T"), s("n"))
            let x = rng.floats(t * n)
            let b = rng.floats(n)
            expected = x
            for r in 0..<t { for j in 0..<n { expected[r * n + j] += b[j] } }
            let xd = try io.guarded([t + 1, n], fill: x)
            try backend.run(.addBias(x: xd, bias: try io.upload(b, [n]), rows: t))
            (out, guardRow) = try io.download(xd, rows: t)
        case .copyRows:
            // copy rows 1..<t+1 of src into rows start..<start+t of dst
            let (t, n, start) = (s("T"), s("n"), s("start"))
            let src = rng.floats((t + 1) * n)
            let dst = rng.floats((start + t) * n)
            expected = dst
            for r in 0..<t { for j in 0..<n { expected[(start + r) * n + j] = src[(1 + r) * n + j] } }
            let sd = try io.upload(src, [t + 1, n])
            let dd = try io.guarded([start + t + 1, n], fill: dst)
            try backend.run(.copyRows(dst: dd, dstRow: start, src: sd, srcRow: 1, rows: t))
            (out, guardRow) = try io.download(dd, rows: start + t)
        }
        return OpResult(
            nmse: nmse(out, expected), finite: out.allSatisfy(\.isFinite),
            guardsIntact: guardRow.allSatisfy { $0 == sentinel }, supported: true)
    }
}

/// Uploads and downloads through the Backend protocol only.
struct DeviceIO {
    let backend: any Backend

    func upload(_ values: [Float], _ shape: [Int]) throws -> any DeviceTensor {
        let t = try backend.allocate(shape, .f32, label: "input")
        try values.withUnsafeBytes { try backend.write(t, from: $0) }
        return t
    }

    /// A KV cache in F32 or F16 (half bit patterns).
    func uploadCache(_ values: [Float], _ shape: [Int], _ format: WeightFormat) throws -> any DeviceTensor {
        guard format == .f16 else { return try upload(values, shape) }
        let halves = values.map { ck_fp32_to_fp16($0) }
        let t = try backend.allocate(shape, .f16, label: "kv_cache")
        try halves.withUnsafeBytes { try backend.write(t, from: $0) }
        return t
    }

    func uploadRaw(_ bytes: [UInt8], _ shape: [Int], _ format: WeightFormat) throws -> any DeviceTensor {
        let t = try backend.allocate(shape, format, label: "weights")
        try bytes.withUnsafeBytes { try backend.write(t, from: $0) }
        return t
    }

    /// A tensor whose last row is the guard; the other rows hold `fill` (or the sentinel too).
    func guarded(_ shape: [Int], fill: [Float] = []) throws -> any DeviceTensor {
        let count = shape.reduce(1, *)
        var values = [Float](repeating: OpCheck.sentinel, count: count)
        values.replaceSubrange(0..<fill.count, with: fill)
        return try upload(values, shape)
    }

    /// The first `rows` rows, and the guard row after them.
    func download(_ t: any DeviceTensor, rows: Int) throws -> ([Float], [Float]) {
        try backend.synchronize()
        var all = [Float](repeating: 0, count: t.count)
        try all.withUnsafeMutableBufferPointer { try backend.read(t, into: $0) }
        let n = t.cols
        return (Array(all[0..<(rows * n)]), Array(all[(rows * n)..<((rows + 1) * n)]))
    }
}
