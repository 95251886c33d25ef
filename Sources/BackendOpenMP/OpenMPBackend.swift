// OpenMPBackend ("openmp"): SwiftGPT's own C kernels, OpenMP threads and run-time SIMD, computing directly on the
// quantized weight blocks (no dequantized copy of the weights).
import CKernels
import GPTCore

open class OpenMPBackend: Backend {
    open var name: String { "openmp" }
    public let threads: Int
    /// Grows to the largest scratch an op has asked for; reused, so steady-state decoding allocates nothing.
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0

    public init(options: BackendOptions = BackendOptions()) {
        threads = CPUInfo.threads(options.threads)
    }

    deinit { free(scratch) }

    open var device: DeviceInfo {
        DeviceInfo(
            name: CPUInfo.modelName,
            details: [
                ("threads", "\(threads)"),
                ("simd", String(cString: ck_simd_name(ck_simd_level()))),
                ("weights", "quantized blocks in place (\(WeightFormat.names(WeightFormat.allCases.filter { supports(.matmul, $0) })))"),
            ])
    }

    open func supports(_ op: OpKind, _ format: WeightFormat) -> Bool {
        switch op {
        case .matmul: ck_format_supports(Int32(format.ggmlType), Int32(CK_CAN_MATMUL.rawValue)) != 0
        case .embedding: ck_format_supports(Int32(format.ggmlType), Int32(CK_CAN_DEQUANTIZE.rawValue)) != 0
        case .attention, .copyRows: format == .f32 || format == .f16  // F16: the KV cache
        default: format == .f32
        }
    }

    // MARK: - Memory

    open func allocate(_ shape: [Int], _ format: WeightFormat, label: String) throws -> any DeviceTensor {
        try CPUTensor(shape: shape, format: format, label: label)
    }

    /// Weights are computed on where they lie: a GGUF file's mapped pages serve as they are, no copy.
    open func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer, owner: AnyObject,
                    label: String) throws -> (any DeviceTensor)? {
        let count = shape.reduce(1, *)
        guard count > 0, (shape.last ?? 1) % format.blockSize == 0, bytes.count == format.byteCount(count),
              bytes.baseAddress != nil else { return nil }
        return CPUTensor(adopting: bytes, shape: shape, format: format, owner: owner, label: label)
    }

    open func write(_ t: any DeviceTensor, from bytes: UnsafeRawBufferPointer) throws {
        let t = try cpu(t, .copyRows)
        guard t.owner == nil else {
            throw BackendError.device("\(name): \(t.label) is read-only (it lies in a mapped file)")
        }
        guard bytes.count == t.byteCount else {
            throw BackendError.shapeMismatch(op: .copyRows, "\(t.label): \(bytes.count) bytes for \(t.byteCount)")
        }
        t.data.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    open func read(_ t: any DeviceTensor, into floats: UnsafeMutableBufferPointer<Float>) throws {
        let t = try cpu(t, .copyRows)
        guard t.format == .f32, floats.count <= t.count else {
            throw BackendError.shapeMismatch(op: .copyRows, "read \(floats.count) floats of \(t.label) \(t.shape)")
        }
        floats.baseAddress!.update(from: t.floats, count: floats.count)
    }

    // MARK: - Ops

    open func run(_ op: Op) throws {
        let nt = Int32(threads)
        switch op {
        case .embedding(let out, let table, let tokens):
            let (o, tb) = (try f32(out, .embedding), try cpu(table, .embedding))
            try check(.embedding, tokens.count <= o.rows && o.cols == tb.cols, "\(tokens.count) tokens into \(o.shape)")
            for id in tokens where id < 0 || Int(id) >= tb.rows {
                throw BackendError.shapeMismatch(op: .embedding, "token \(id) outside table of \(tb.rows) rows")
            }
            ck_embedding(Int32(tb.format.ggmlType), o.floats, tb.data, tokens, Int64(tokens.count), Int64(tb.cols), nt)

        case .rmsNorm(let out, let x, let weight, let rows, let eps):
            let (o, xi, w) = (try f32(out, .rmsNorm), try f32(x, .rmsNorm), try f32(weight, .rmsNorm))
            try checkRows(.rmsNorm, rows, o, xi)
            try check(.rmsNorm, w.count > 0 && xi.cols % w.count == 0, "weight \(w.shape) for rows of \(xi.cols)")
            // a weight shorter than a row normalises each group of w.count elements (per-head norms)
            let groups = Int64(xi.cols / w.count)
            ck_rms_norm(o.floats, xi.floats, w.floats, Int64(rows) * groups, Int64(w.count), eps, nt)

        case .layerNorm(let out, let x, let weight, let bias, let rows, let eps):
            let (o, xi) = (try f32(out, .layerNorm), try f32(x, .layerNorm))
            let (w, b) = (try f32(weight, .layerNorm), try f32(bias, .layerNorm))
            try checkRows(.layerNorm, rows, o, xi)
            try check(.layerNorm, w.count == xi.cols && b.count == xi.cols, "weight/bias for rows of \(xi.cols)")
            ck_layer_norm(o.floats, xi.floats, w.floats, b.floats, Int64(rows), Int64(xi.cols), eps, nt)

        case .matmul(let outs, let x, let ws, let rows):
            // Q/K/V (or gate/up) in one C call: the input is quantized once and one parallel region covers every
            // matrix. Matrices in different formats run one call each.
            let xi = try f32(x, .matmul)
            let w = try ws.map { try cpu($0, .matmul) }
            let o = try outs.map { try f32($0, .matmul) }
            try check(.matmul, !w.isEmpty && o.count == w.count, "\(o.count) outputs for \(w.count) matrices")
            for (oi, wi) in zip(o, w) {
                try check(.matmul, rows <= oi.rows && rows <= xi.rows && xi.cols == wi.cols && oi.cols == wi.rows,
                          "\(rows) rows of x \(xi.shape) · w \(wi.shape)ᵀ -> \(oi.shape)")
            }
            let groups = w.first.map { first in w.allSatisfy { $0.format == first.format } } == true
                ? [Array(w.indices)] : w.indices.map { [$0] }
            let k = Int64(xi.cols)
            for group in groups {
                let fmt = Int32(w[group[0]].format.ggmlType)
                let s = try ensureScratch(ck_matmul_scratch_bytes(fmt, Int64(rows), k))
                var outPointers: [UnsafeMutablePointer<Float>?] = group.map { o[$0].floats }
                var weightPointers: [UnsafeRawPointer?] = group.map { UnsafeRawPointer(w[$0].data) }
                let ns: [Int64] = group.map { Int64(w[$0].rows) }
                ck_matmul_multi(fmt, Int32(group.count), &outPointers, xi.floats, &weightPointers, ns, Int64(rows), k,
                                nt, s)
            }

        case .rope(let r):
            let xi = try f32(r.x, .rope)
            try check(.rope, r.row >= 0 && r.row + r.rows <= xi.rows && xi.cols == r.nHeads * r.headDim
                      && r.headDim % 2 == 0 && r.startPos >= 0,
                      "rows \(r.row)..<\(r.row + r.rows) of \(xi.shape) as \(r.nHeads) heads of \(r.headDim)")
            let factors = try r.freqFactors.map { try f32($0, .rope) }
            try check(.rope, factors.map { $0.count == r.headDim / 2 } ?? true,
                      "\(factors?.count ?? 0) frequency factors for \(r.headDim / 2) pairs")
            if r.positions.isEmpty {
                ck_rope(xi.floats + r.row * xi.cols, Int64(r.rows), Int64(r.startPos), Int64(r.nHeads),
                        Int64(r.headDim), r.freqBase, factors.map { UnsafePointer($0.floats) }, r.style == .neox ? 1 : 0,
                        nt)
            } else {
                try check(.rope, r.positions.count == r.rows && r.positions.allSatisfy { $0 >= 0 },
                          "\(r.positions.count) positions for \(r.rows) rows")
                ck_rope_positions(xi.floats + r.row * xi.cols, Int64(r.rows), r.positions, Int64(r.nHeads),
                                  Int64(r.headDim), r.freqBase, factors.map { UnsafePointer($0.floats) },
                                  r.style == .neox ? 1 : 0, nt)
            }

        case .copyRows(let dst, let dstRow, let src, let srcRow, let rows):
            let (d, s) = (try cpu(dst, .copyRows), try cpu(src, .copyRows))
            try check(.copyRows, d.cols == s.cols && dstRow >= 0 && srcRow >= 0 && dstRow + rows <= d.rows
                      && srcRow + rows <= s.rows,
                      "rows \(srcRow)..<\(srcRow + rows) of \(s.shape) to \(dstRow) of \(d.shape)")
            switch (s.format, d.format) {
            case (.f32, .f16):
                let half = d.halves + dstRow * d.cols
                ck_convert_f32_to_f16(half, s.floats + srcRow * s.cols, Int64(rows * s.cols), nt)
            case (let a, let b) where a == b && !a.isQuantized:
                let rowBytes = d.format.byteCount(d.cols)
                (d.data + dstRow * rowBytes).copyMemory(from: s.data + srcRow * rowBytes, byteCount: rows * rowBytes)
            default:
                throw BackendError.unsupported(op: .copyRows, format: d.format, backend: name)
            }

        case .attention(let a):
            try attention(a)

        case .batchAttention(let list):
            try batchAttention(list)

        case .swiglu(let out, let gate, let up, let rows):
            let (o, g, u) = (try f32(out, .swiglu), try f32(gate, .swiglu), try f32(up, .swiglu))
            try checkRows(.swiglu, rows, o, g, u)
            ck_swiglu(o.floats, g.floats, u.floats, Int64(rows * o.cols), nt)

        case .gelu(let out, let x, let rows):
            let (o, xi) = (try f32(out, .gelu), try f32(x, .gelu))
            try checkRows(.gelu, rows, o, xi)
            ck_gelu(o.floats, xi.floats, Int64(rows * o.cols), nt)

        case .geglu(let out, let gate, let up, let rows):
            let (o, g, u) = (try f32(out, .geglu), try f32(gate, .geglu), try f32(up, .geglu))
            try checkRows(.geglu, rows, o, g, u)
            ck_geglu(o.floats, g.floats, u.floats, Int64(rows * o.cols), nt)

        case .scale(let x, let factor, let rows):
            let xi = try f32(x, .scale)
            try check(.scale, rows <= xi.rows, "\(rows) rows of \(xi.shape)")
            ck_scale(xi.floats, factor, Int64(rows * xi.cols), nt)

        case .add(let out, let a, let b, let rows):
            let (o, ai, bi) = (try f32(out, .add), try f32(a, .add), try f32(b, .add))
            try checkRows(.add, rows, o, ai, bi)
            ck_add(o.floats, ai.floats, bi.floats, Int64(rows * o.cols), nt)

        case .addBias(let x, let bias, let rows):
            let (xi, b) = (try f32(x, .addBias), try f32(bias, .addBias))
            try check(.addBias, rows <= xi.rows && b.count == xi.cols, "bias \(b.shape) on \(xi.shape)")
            ck_add_bias(xi.floats, b.floats, Int64(rows), Int64(xi.cols), nt)
        }
    }

    /// The tensors of one sequence's attention, checked: out and q, and its caches.
    private func attentionTensors(_ a: Op.Attention) throws -> (o: CPUTensor, q: CPUTensor, k: CPUTensor,
                                                                  v: CPUTensor) {
        let (o, qi) = (try f32(a.out, .attention), try f32(a.q, .attention))
        let (k, v) = (try cpu(a.kCache, .attention), try cpu(a.vCache, .attention))
        try check(.attention, a.nKVHeads > 0 && a.nHeads % a.nKVHeads == 0 && qi.cols == a.nHeads * a.headDim
                  && o.cols == qi.cols && a.row >= 0 && a.row + a.rows <= qi.rows && a.row + a.rows <= o.rows
                  && k.cols == a.nKVHeads * a.headDim && v.cols == k.cols && a.startPos >= 0
                  && k.rows >= a.cacheRowsNeeded && v.rows == k.rows && k.format == v.format,
                  "q \(qi.shape), cache \(k.shape) \(k.format), rows \(a.row)..<\(a.row + a.rows) at \(a.startPos), "
                    + "\(a.nHeads)/\(a.nKVHeads) heads")
        return (o, qi, k, v)
    }

    /// Fused attention of every sequence of a batch in one parallel job (work items: sequence x query block x KV
    /// head), reading each sequence's cache where it lies; naive attention runs one sequence at a time.
    private func batchAttention(_ list: [Op.Attention]) throws {
        guard let a = list.first else { return }
        try check(.attention, Op.batchAttention(list).shapesAreConsistent,
                  "\(list.count) sequences that differ in q, out, heads, scale, kind, window or cache format")
        guard a.kind == .fused, list.count > 1 else {
            for b in list { try attention(b) }
            return
        }
        var seqs: [ck_attn_seq] = []
        seqs.reserveCapacity(list.count)
        var (o, qi, f16) = (nil as CPUTensor?, nil as CPUTensor?, false)
        for b in list {
            let t = try attentionTensors(b)
            guard t.k.format == .f32 || t.k.format == .f16 else {
                throw BackendError.unsupported(op: .attention, format: t.k.format, backend: name)
            }
            (o, qi, f16) = (t.o, t.q, t.k.format == .f16)
            seqs.append(ck_attn_seq(row: Int64(b.row), T: Int64(b.rows), start_pos: Int64(b.startPos),
                                    kv_rows: Int64(t.k.rows), k: UnsafeRawPointer(t.k.data),
                                    v: UnsafeRawPointer(t.v.data)))
        }
        guard let o, let qi else { return }
        let s = try ensureScratch(scratchBytes(for: .batchAttention(list)))
        ck_attention_fused_batch(o.floats, qi.floats, seqs, Int64(seqs.count), f16 ? 1 : 0, Int64(a.nHeads),
                                 Int64(a.nKVHeads), Int64(a.headDim), a.scale, Int64(max(0, a.window)),
                                 Int32(threads), s)
    }

    private func attention(_ a: Op.Attention) throws {
        let (o, qi, k, v) = try attentionTensors(a)
        let (t, p, nh, nkv, hd) = (Int64(a.rows), Int64(a.startPos), Int64(a.nHeads), Int64(a.nKVHeads),
                                   Int64(a.headDim))
        let nt = Int32(threads)
        let (w, ring) = (Int64(max(0, a.window)), Int64(k.rows))  // position j at row j % ring
        let (out, q) = (o.floats + a.row * o.cols, qi.floats + a.row * qi.cols)
        let s = try ensureScratch(scratchBytes(for: .attention(a)))
        var probabilities: UnsafeMutableRawPointer?
        switch (a.kind, k.format) {
        case (.fused, .f32):
            ck_attention_fused(out, q, k.floats, v.floats, t, p, nh, nkv, hd, a.scale, w, ring, nt, s)
        case (.fused, .f16):
            ck_attention_fused_f16kv(out, q, k.halves, v.halves, t, p, nh, nkv, hd, a.scale, w, ring, nt, s)
        case (.naive, .f32):
            probabilities = s
            ck_attention_naive(out, q, k.floats, v.floats, t, p, nh, nkv, hd, a.scale, w, ring, nt, s)
        case (.naive, .f16):
            probabilities = s
            ck_attention_naive_f16kv(out, q, k.halves, v.halves, t, p, nh, nkv, hd, a.scale, w, ring, nt, s)
        default:
            throw BackendError.unsupported(op: .attention, format: k.format, backend: name)
        }
        if let target = a.probabilities, a.kind == .naive, let s = probabilities {
            // the kernel aligns the scratch start to 64 bytes (ensureScratch's memory already is)
            let dst = try f32(target, .attention)
            let count = a.nHeads * a.rows * a.keys
            try check(.attention, dst.count >= count, "probabilities \(dst.shape) for \(count) values")
            let aligned = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: s) + 63) & ~63)!
            dst.floats.update(from: aligned.assumingMemoryBound(to: Float.self), count: count)
        }
    }

    open func synchronize() throws {}

    /// The scratch of a product (its input rows quantized, for quantized weights) or of attention (fused: a
    /// workspace per thread and the key-split partials; naive: the whole score matrix). One buffer, grown to the
    /// largest of these, serves every op.
    open func scratchBytes(for op: Op) -> Int {
        switch op {
        case .matmul(_, let x, let ws, let rows):
            return ws.map { Int(ck_matmul_scratch_bytes(Int32($0.format.ggmlType), Int64(rows), Int64(x.cols))) }
                .max() ?? 0
        case .attention(let a):
            let (t, p, nh, hd) = (Int64(a.rows), Int64(a.startPos), Int64(a.nHeads), Int64(a.headDim))
            let f16 = a.kCache.format == .f16
            switch a.kind {
            case .fused:
                return Int(f16 ? ck_attention_fused_f16kv_scratch_bytes(t, p, nh, hd, Int32(threads))
                               : ck_attention_fused_scratch_bytes(t, p, nh, hd, Int32(threads)))
            case .naive:
                return Int(f16 ? ck_attention_naive_f16kv_scratch_bytes(t, p, nh)
                               : ck_attention_naive_scratch_bytes(t, p, nh))
            }
        case .batchAttention(let list):
            guard let a = list.first, a.kind == .fused, list.count > 1 else {
                return list.map { scratchBytes(for: .attention($0)) }.max() ?? 0
            }
            let rows = list.reduce(0) { $0 + $1.rows }
            return Int(ck_attention_fused_batch_scratch_bytes(Int64(rows), Int64(list.count), Int64(a.nHeads),
                                                              Int64(a.headDim), a.kCache.format == .f16 ? 1 : 0,
                                                              Int32(threads)))
        default:
            return 0
        }
    }

    // MARK: - Helpers

    public func cpu(_ t: any DeviceTensor, _ op: OpKind) throws -> CPUTensor {
        guard let c = t as? CPUTensor else {
            throw BackendError.device("\(name): \(op): tensor \(t.label) belongs to another backend")
        }
        return c
    }

    public func f32(_ t: any DeviceTensor, _ op: OpKind) throws -> CPUTensor {
        let c = try cpu(t, op)
        guard c.format == .f32 else { throw BackendError.unsupported(op: op, format: c.format, backend: name) }
        return c
    }

    func check(_ op: OpKind, _ condition: Bool, _ detail: @autoclosure () -> String) throws {
        if !condition { throw BackendError.shapeMismatch(op: op, detail()) }
    }

    func checkRows(_ op: OpKind, _ rows: Int, _ tensors: CPUTensor...) throws {
        let cols = tensors[0].cols
        for t in tensors where t.cols != cols || rows > t.rows {
            throw BackendError.shapeMismatch(op: op, "\(rows) rows of \(t.label) \(t.shape), expected width \(cols)")
        }
    }

    public func ensureScratch(_ bytes: Int) throws -> UnsafeMutableRawPointer? {
        if bytes == 0 { return scratch }
        if bytes > scratchBytes {
            free(scratch)
            var p: UnsafeMutableRawPointer?
            guard posix_memalign(&p, 64, bytes) == 0, let p else {
                scratch = nil
                scratchBytes = 0
                throw BackendError.allocationFailed(label: "\(name) scratch", bytes: bytes, "out of memory")
            }
            scratch = p
            scratchBytes = bytes
        }
        return scratch
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
