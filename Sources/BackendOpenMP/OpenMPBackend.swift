// OpenMPBackend ("openmp"): SwiftGPT's own C kernels, OpenMP threads and run-time SIMD, computing directly on the
// quantized weight blocks (no dequantized copy of the weights).
import CKernels
import GPTCore

open class OpenMPBackend: Backend {
    open var name: String { "openmp" }
    public let threads: Int
    /// Called after each naive attention with its probabilities (nHeads, rows, startPos + rows), zero above the
    /// causal diagonal: `gpt attention` draws them. The pointer is valid only during the call.
    public var attentionObserver: ((_ probabilities: UnsafeBufferPointer<Float>, _ heads: Int, _ rows: Int,
                                    _ keys: Int) -> Void)?
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

    open func embedding(_ out: any DeviceTensor, table: any DeviceTensor, tokens: [Int32]) throws {
        let (o, tb) = (try f32(out, .embedding), try cpu(table, .embedding))
        try check(.embedding, tokens.count <= o.rows && o.cols == tb.cols, "\(tokens.count) tokens into \(o.shape)")
        for id in tokens where id < 0 || Int(id) >= tb.rows {
            throw BackendError.shapeMismatch(op: .embedding, "token \(id) outside table of \(tb.rows) rows")
        }
        ck_embedding(Int32(tb.format.ggmlType), o.floats, tb.data, tokens, Int64(tokens.count), Int64(tb.cols),
                     Int32(threads))
    }

    open func rmsNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor, rows: Int,
                      eps: Float) throws {
        let (o, xi, w) = (try f32(out, .rmsNorm), try f32(x, .rmsNorm), try f32(weight, .rmsNorm))
        try checkRows(.rmsNorm, rows, o, xi)
        try check(.rmsNorm, w.count == xi.cols, "weight \(w.shape) for rows of \(xi.cols)")
        ck_rms_norm(o.floats, xi.floats, w.floats, Int64(rows), Int64(xi.cols), eps, Int32(threads))
    }

    open func layerNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor,
                        bias: any DeviceTensor, rows: Int, eps: Float) throws {
        let (o, xi) = (try f32(out, .layerNorm), try f32(x, .layerNorm))
        let (w, b) = (try f32(weight, .layerNorm), try f32(bias, .layerNorm))
        try checkRows(.layerNorm, rows, o, xi)
        try check(.layerNorm, w.count == xi.cols && b.count == xi.cols, "weight/bias for rows of \(xi.cols)")
        ck_layer_norm(o.floats, xi.floats, w.floats, b.floats, Int64(rows), Int64(xi.cols), eps, Int32(threads))
    }

    open func matmul(_ out: any DeviceTensor, _ x: any DeviceTensor, _ w: any DeviceTensor, rows: Int) throws {
        let (o, xi, wt) = (try f32(out, .matmul), try f32(x, .matmul), try cpu(w, .matmul))
        try check(.matmul, rows <= o.rows && rows <= xi.rows, "\(rows) rows of \(xi.shape) into \(o.shape)")
        try check(.matmul, xi.cols == wt.cols && o.cols == wt.rows, "x \(xi.shape) · w \(wt.shape)ᵀ -> \(o.shape)")
        let fmt = Int32(wt.format.ggmlType)
        let s = try ensureScratch(ck_matmul_scratch_bytes(fmt, Int64(rows), Int64(wt.cols)))
        ck_matmul(fmt, o.floats, xi.floats, wt.data, Int64(rows), Int64(wt.cols), Int64(wt.rows), Int32(threads), s)
    }

    /// Q/K/V (or gate/up) in one C call: the input is quantized once and one parallel region covers every matrix.
    open func matmuls(_ outs: [any DeviceTensor], _ x: any DeviceTensor, _ ws: [any DeviceTensor], rows: Int) throws {
        let xi = try f32(x, .matmul)
        let w = try ws.map { try cpu($0, .matmul) }
        let o = try outs.map { try f32($0, .matmul) }
        guard let fmt = w.first?.format, o.count == w.count, w.allSatisfy({ $0.format == fmt }) else {
            for (out, weight) in zip(outs, ws) { try matmul(out, x, weight, rows: rows) }
            return
        }
        for (oi, wi) in zip(o, w) {
            try check(.matmul, rows <= oi.rows && rows <= xi.rows && xi.cols == wi.cols && oi.cols == wi.rows,
                      "x \(xi.shape) · w \(wi.shape)ᵀ -> \(oi.shape)")
        }
        let k = Int64(xi.cols)
        let s = try ensureScratch(ck_matmul_scratch_bytes(Int32(fmt.ggmlType), Int64(rows), k))
        var outPointers: [UnsafeMutablePointer<Float>?] = o.map { $0.floats }
        var weightPointers: [UnsafeRawPointer?] = w.map { UnsafeRawPointer($0.data) }
        let ns: [Int64] = w.map { Int64($0.rows) }
        ck_matmul_multi(Int32(fmt.ggmlType), Int32(w.count), &outPointers, xi.floats, &weightPointers, ns,
                        Int64(rows), k, Int32(threads), s)
    }

    open func rope(_ x: any DeviceTensor, rows: Int, startPos: Int, nHeads: Int, headDim: Int, freqBase: Float,
                   style: RopeStyle) throws {
        let xi = try f32(x, .rope)
        try check(.rope, rows <= xi.rows && xi.cols == nHeads * headDim && headDim % 2 == 0,
                  "\(xi.shape) as \(nHeads) heads of \(headDim)")
        ck_rope(xi.floats, Int64(rows), Int64(startPos), Int64(nHeads), Int64(headDim), freqBase,
                style == .neox ? 1 : 0, Int32(threads))
    }

    open func copyRows(_ dst: any DeviceTensor, dstRow: Int, _ src: any DeviceTensor, srcRow: Int, rows: Int) throws {
        let (d, s) = (try cpu(dst, .copyRows), try f32(src, .copyRows))
        try check(.copyRows, d.cols == s.cols && dstRow >= 0 && srcRow >= 0 && dstRow + rows <= d.rows
                  && srcRow + rows <= s.rows, "rows \(srcRow)..<\(srcRow + rows) of \(s.shape) to \(dstRow) of \(d.shape)")
        switch d.format {
        case .f32:
            (d.floats + dstRow * d.cols).update(from: s.floats + srcRow * s.cols, count: rows * s.cols)
        case .f16:
            let half = d.data.assumingMemoryBound(to: UInt16.self) + dstRow * d.cols
            ck_convert_f32_to_f16(half, s.floats + srcRow * s.cols, Int64(rows * s.cols), Int32(threads))
        default:
            throw BackendError.unsupported(op: .copyRows, format: d.format, backend: name)
        }
    }

    open func attention(_ out: any DeviceTensor, q: any DeviceTensor, kCache: any DeviceTensor,
                        vCache: any DeviceTensor, rows: Int, startPos: Int, nHeads: Int, nKVHeads: Int,
                        headDim: Int, scale: Float, kind: AttentionKind) throws {
        let (o, qi) = (try f32(out, .attention), try f32(q, .attention))
        let (k, v) = (try cpu(kCache, .attention), try cpu(vCache, .attention))
        try check(.attention, nKVHeads > 0 && nHeads % nKVHeads == 0 && qi.cols == nHeads * headDim
                  && o.cols == qi.cols && rows <= qi.rows && rows <= o.rows && k.cols == nKVHeads * headDim
                  && v.cols == k.cols && startPos + rows <= k.rows && startPos + rows <= v.rows
                  && k.format == v.format,
                  "q \(qi.shape), cache \(k.shape) \(k.format), \(rows) rows at \(startPos), \(nHeads)/\(nKVHeads) heads")
        let (t, p, nh, nkv, hd) = (Int64(rows), Int64(startPos), Int64(nHeads), Int64(nKVHeads), Int64(headDim))
        let nt = Int32(threads)
        var probabilities: UnsafeMutableRawPointer?
        switch (kind, k.format) {
        case (.fused, .f32):
            let s = try ensureScratch(ck_attention_fused_scratch_bytes(t, p, nh, hd, nt))
            ck_attention_fused(o.floats, qi.floats, k.floats, v.floats, t, p, nh, nkv, hd, scale, nt, s)
        case (.fused, .f16):
            let s = try ensureScratch(ck_attention_fused_f16kv_scratch_bytes(t, p, nh, hd, nt))
            ck_attention_fused_f16kv(o.floats, qi.floats, k.halves, v.halves, t, p, nh, nkv, hd, scale, nt, s)
        case (.naive, .f32):
            probabilities = try ensureScratch(ck_attention_naive_scratch_bytes(t, p, nh))
            ck_attention_naive(o.floats, qi.floats, k.floats, v.floats, t, p, nh, nkv, hd, scale, nt,
                               probabilities)
        case (.naive, .f16):
            probabilities = try ensureScratch(ck_attention_naive_f16kv_scratch_bytes(t, p, nh))
            ck_attention_naive_f16kv(o.floats, qi.floats, k.halves, v.halves, t, p, nh, nkv, hd, scale, nt,
                                     probabilities)
        default:
            throw BackendError.unsupported(op: .attention, format: k.format, backend: name)
        }
        if let attentionObserver, let s = probabilities {
            // the kernel aligns the scratch start to 64 bytes (ensureScratch's memory already is)
            let aligned = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: s) + 63) & ~63)!
            let count = nHeads * rows * (startPos + rows)
            attentionObserver(UnsafeBufferPointer(start: aligned.assumingMemoryBound(to: Float.self), count: count),
                              nHeads, rows, startPos + rows)
        }
    }

    open func swiglu(_ out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor, rows: Int) throws {
        let (o, g, u) = (try f32(out, .swiglu), try f32(gate, .swiglu), try f32(up, .swiglu))
        try checkRows(.swiglu, rows, o, g, u)
        ck_swiglu(o.floats, g.floats, u.floats, Int64(rows * o.cols), Int32(threads))
    }

    open func gelu(_ out: any DeviceTensor, _ x: any DeviceTensor, rows: Int) throws {
        let (o, xi) = (try f32(out, .gelu), try f32(x, .gelu))
        try checkRows(.gelu, rows, o, xi)
        ck_gelu(o.floats, xi.floats, Int64(rows * o.cols), Int32(threads))
    }

    open func add(_ out: any DeviceTensor, _ a: any DeviceTensor, _ b: any DeviceTensor, rows: Int) throws {
        let (o, ai, bi) = (try f32(out, .add), try f32(a, .add), try f32(b, .add))
        try checkRows(.add, rows, o, ai, bi)
        ck_add(o.floats, ai.floats, bi.floats, Int64(rows * o.cols), Int32(threads))
    }

    open func addBias(_ x: any DeviceTensor, bias: any DeviceTensor, rows: Int) throws {
        let (xi, b) = (try f32(x, .addBias), try f32(bias, .addBias))
        try check(.addBias, rows <= xi.rows && b.count == xi.cols, "bias \(b.shape) on \(xi.shape)")
        ck_add_bias(xi.floats, b.floats, Int64(rows), Int64(xi.cols), Int32(threads))
    }

    open func synchronize() throws {}

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
