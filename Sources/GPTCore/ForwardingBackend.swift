// ForwardingBackend: passes every call to another backend. Subclasses override the ops they change: tests
// inject faults this way, and the profiler times each op.

open class ForwardingBackend: Backend {
    public let inner: any Backend
    public init(_ inner: any Backend) { self.inner = inner }

    open var name: String { inner.name }
    open var device: DeviceInfo { inner.device }
    open func supports(_ op: OpKind, _ format: WeightFormat) -> Bool { inner.supports(op, format) }
    open func allocate(_ shape: [Int], _ format: WeightFormat, label: String) throws -> any DeviceTensor {
        try inner.allocate(shape, format, label: label)
    }
    open func write(_ t: any DeviceTensor, from bytes: UnsafeRawBufferPointer) throws {
        try inner.write(t, from: bytes)
    }
    open func read(_ t: any DeviceTensor, into floats: UnsafeMutableBufferPointer<Float>) throws {
        try inner.read(t, into: floats)
    }
    open func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer, owner: AnyObject,
                    label: String) throws -> (any DeviceTensor)? {
        try inner.adopt(shape, format, bytes: bytes, owner: owner, label: label)
    }
    open func embedding(_ out: any DeviceTensor, table: any DeviceTensor, tokens: [Int32]) throws {
        try inner.embedding(out, table: table, tokens: tokens)
    }
    open func rmsNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor, rows: Int,
                        eps: Float) throws {
        try inner.rmsNorm(out, x, weight: weight, rows: rows, eps: eps)
    }
    open func layerNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor,
                          bias: any DeviceTensor, rows: Int, eps: Float) throws {
        try inner.layerNorm(out, x, weight: weight, bias: bias, rows: rows, eps: eps)
    }

    open func matmul(_ out: any DeviceTensor, _ x: any DeviceTensor, _ w: any DeviceTensor, rows: Int) throws {
        try inner.matmul(out, x, w, rows: rows)
    }
    open func matmuls(_ outs: [any DeviceTensor], _ x: any DeviceTensor, _ ws: [any DeviceTensor],
                      rows: Int) throws {
        try inner.matmuls(outs, x, ws, rows: rows)
    }
    open func rope(_ x: any DeviceTensor, rows: Int, startPos: Int, nHeads: Int, headDim: Int, freqBase: Float,
                     style: RopeStyle) throws {
        try inner.rope(x, rows: rows, startPos: startPos, nHeads: nHeads, headDim: headDim, freqBase: freqBase,
                       style: style)
    }
    open func copyRows(_ dst: any DeviceTensor, dstRow: Int, _ src: any DeviceTensor, srcRow: Int,
                         rows: Int) throws {
        try inner.copyRows(dst, dstRow: dstRow, src, srcRow: srcRow, rows: rows)
    }
    open func attention(_ out: any DeviceTensor, q: any DeviceTensor, kCache: any DeviceTensor,
                          vCache: any DeviceTensor, rows: Int, startPos: Int, nHeads: Int, nKVHeads: Int,
                          headDim: Int, scale: Float, kind: AttentionKind) throws {
        try inner.attention(out, q: q, kCache: kCache, vCache: vCache, rows: rows, startPos: startPos,
                            nHeads: nHeads, nKVHeads: nKVHeads, headDim: headDim, scale: scale, kind: kind)
    }
    open func swiglu(_ out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor, rows: Int) throws {
        try inner.swiglu(out, gate: gate, up: up, rows: rows)
    }
    open func gelu(_ out: any DeviceTensor, _ x: any DeviceTensor, rows: Int) throws {
        try inner.gelu(out, x, rows: rows)
    }
    open func add(_ out: any DeviceTensor, _ a: any DeviceTensor, _ b: any DeviceTensor, rows: Int) throws {
        try inner.add(out, a, b, rows: rows)
    }
    open func addBias(_ x: any DeviceTensor, bias: any DeviceTensor, rows: Int) throws {
        try inner.addBias(x, bias: bias, rows: rows)
    }
    open func synchronize() throws { try inner.synchronize() }
}
