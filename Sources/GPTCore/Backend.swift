// Backend: the one protocol the transformer executor drives. A backend owns device memory and runs ops on it.
// Ops may be enqueued (OpenCL); `synchronize()` and `read` make results visible on the host.

/// A tensor owned by a backend. Rows are the first dimension: shape `[rows, cols]` (or `[n]`).
public protocol DeviceTensor: AnyObject {
    var shape: [Int] { get }
    var format: WeightFormat { get }
    var label: String { get }
}

extension DeviceTensor {
    public var count: Int { shape.reduce(1, *) }
    /// Elements per row (the last dimension).
    public var cols: Int { shape.last ?? 1 }
    /// Number of rows (product of all but the last dimension).
    public var rows: Int { shape.dropLast().reduce(1, *) }
    public var byteCount: Int { format.byteCount(count) }
}

/// Facts about the device a backend runs on, for `gpt backends` and reports.
public struct DeviceInfo: Sendable, CustomStringConvertible {
    public var name: String
    public var details: [(key: String, value: String)]

    public init(name: String, details: [(key: String, value: String)] = []) {
        self.name = name
        self.details = details
    }

    public var description: String {
        ([name] + details.map { "\($0.key)=\($0.value)" }).joined(separator: ", ")
    }
}

/// Settings a backend is made with; never read from globals.
public struct BackendOptions: Sendable {
    /// CPU threads (0 = one per physical core).
    public var threads: Int
    /// OpenCL device index across all platforms.
    public var deviceIndex: Int

    public init(threads: Int = 0, deviceIndex: Int = 0) {
        self.threads = threads
        self.deviceIndex = deviceIndex
    }
}

/// A compute backend. Ops take the destination first, then inputs, then sizes (llama2.c order).
/// `rows` is the number of token rows an op covers, so that buffers sized for a batch serve shorter ones.
public protocol Backend: AnyObject {
    /// Registry name: "openmp", "blas", "opencl".
    var name: String { get }
    var device: DeviceInfo { get }
    /// Whether the backend runs `op` with weights (or inputs) in `format`.
    func supports(_ op: OpKind, _ format: WeightFormat) -> Bool

    // MARK: Memory

    func allocate(_ shape: [Int], _ format: WeightFormat, label: String) throws -> any DeviceTensor
    /// Copies raw bytes (already in `t.format`) into the tensor; `bytes.count == t.byteCount`.
    func write(_ t: any DeviceTensor, from bytes: UnsafeRawBufferPointer) throws
    /// Copies the first `floats.count` elements of an F32 tensor to the host.
    func read(_ t: any DeviceTensor, into floats: UnsafeMutableBufferPointer<Float>) throws
    /// Uses `bytes` (already in `format`, e.g. a tensor in a memory-mapped file) in place as a read-only tensor, if
    /// the backend computes from host memory in that format; nil: allocate and `write` a copy instead.
    /// `owner` keeps the memory alive for as long as the tensor lives.
    func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer, owner: AnyObject,
               label: String) throws -> (any DeviceTensor)?

    // MARK: Ops

    /// out (T, n) = table[tokens[t]] dequantized; table (nVocab, n) in any format.
    func embedding(_ out: any DeviceTensor, table: any DeviceTensor, tokens: [Int32]) throws
    /// out (T, n) = x / sqrt(mean(x²) + eps) * weight; weight (n).
    func rmsNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor, rows: Int, eps: Float) throws
    /// out (T, n) = (x - mean) / sqrt(var + eps) * weight + bias.
    func layerNorm(
        _ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor, bias: any DeviceTensor, rows: Int,
        eps: Float) throws
    /// out (T, N) = x (T, K) · w (N, K)ᵀ; w in any supported format, x and out F32.
    func matmul(_ out: any DeviceTensor, _ x: any DeviceTensor, _ w: any DeviceTensor, rows: Int) throws
    /// outs[i] (T, N_i) = x (T, K) · ws[i] (N_i, K)ᵀ: several projections of one input (Q, K and V; gate and up),
    /// which a backend may run as one pass (one quantization of x, one parallel region).
    func matmuls(_ outs: [any DeviceTensor], _ x: any DeviceTensor, _ ws: [any DeviceTensor], rows: Int) throws
    /// Rotates x (T, nHeads * headDim) in place; row t is at position startPos + t.
    func rope(
        _ x: any DeviceTensor, rows: Int, startPos: Int, nHeads: Int, headDim: Int, freqBase: Float, style: RopeStyle
    ) throws
    /// dst[dstRow + i] = src[srcRow + i] for i in 0..<rows (same row width); an F16 dst (a KV cache) receives the F32
    /// rows rounded to half precision.
    func copyRows(_ dst: any DeviceTensor, dstRow: Int, _ src: any DeviceTensor, srcRow: Int, rows: Int) throws
    /// Causal attention. q (T, nHeads*headDim) at positions startPos..<startPos+T; kCache, vCache (nCtx,
    /// nKVHeads*headDim) hold positions 0..<startPos+T, in F32 or, where `supports(.attention, .f16)`, F16;
    /// out (T, nHeads*headDim). Query head h reads KV head
    /// h / (nHeads / nKVHeads). Scores are scaled by `scale` before the softmax.
    func attention(
        _ out: any DeviceTensor, q: any DeviceTensor, kCache: any DeviceTensor, vCache: any DeviceTensor, rows: Int,
        startPos: Int, nHeads: Int, nKVHeads: Int, headDim: Int, scale: Float, kind: AttentionKind) throws
    /// out (T, n) = silu(gate) * up.
    func swiglu(_ out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor, rows: Int) throws
    /// out (T, n) = gelu(x), tanh approximation.
    func gelu(_ out: any DeviceTensor, _ x: any DeviceTensor, rows: Int) throws
    /// out (T, n) = a + b (out may alias a).
    func add(_ out: any DeviceTensor, _ a: any DeviceTensor, _ b: any DeviceTensor, rows: Int) throws
    /// x (T, n) += bias (n), in place.
    func addBias(_ x: any DeviceTensor, bias: any DeviceTensor, rows: Int) throws

    /// Waits until every enqueued op has finished.
    func synchronize() throws
}

extension Backend {
    /// One matmul after another.
    public func matmuls(_ outs: [any DeviceTensor], _ x: any DeviceTensor, _ ws: [any DeviceTensor],
                        rows: Int) throws {
        precondition(outs.count == ws.count, "one output per weight matrix")
        for (out, w) in zip(outs, ws) { try matmul(out, x, w, rows: rows) }
    }

    /// Device backends copy: their memory is not the host's.
    public func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer, owner: AnyObject,
                      label: String) throws -> (any DeviceTensor)? { nil }
}
