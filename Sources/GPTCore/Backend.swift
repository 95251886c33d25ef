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

/// A compute backend: memory, and one entry point that runs an `Op` value (ggml's `graph_compute` on one node).
/// Wrappers (the profiler, the fault injector, the attention observer) wrap `run` and `supports` only.
public protocol Backend: AnyObject {
    /// Registry name: "openmp", "blas", "opencl".
    var name: String { get }
    var device: DeviceInfo { get }
    /// Whether the backend runs ops of `kind` with weights (or inputs) in `format`: the format table.
    func supports(_ kind: OpKind, _ format: WeightFormat) -> Bool
    /// Whether the backend runs `op` as given: formats and shapes (ggml's supports_op). The executor asks this
    /// for every op of a model's plan at load, so an unsupported op fails then, by name, never mid-token.
    func supports(_ op: Op) -> Bool

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

    /// Runs `op` (or enqueues it: `synchronize()` and `read` make results visible). Each backend's implementation is
    /// one switch with one case per op.
    func run(_ op: Op) throws

    /// Waits until every enqueued op has finished.
    func synchronize() throws

    /// Bytes of working memory `run(op)` takes besides the op's tensors (quantized activations, attention
    /// workspaces), for the memory budget a load prints.
    func scratchBytes(for op: Op) -> Int
}

extension Backend {
    /// Backends that keep no scratch of their own.
    public func scratchBytes(for op: Op) -> Int { 0 }

    /// Device backends copy: their memory is not the host's.
    public func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer, owner: AnyObject,
                      label: String) throws -> (any DeviceTensor)? { nil }

    /// The format table for every tensor the op's support depends on, plus the shape rules every backend shares
    /// (widths that match, heads that divide, quantized rows of whole blocks). Backends with further limits
    /// (local memory, tile sizes) refine it.
    public func supports(_ op: Op) -> Bool { supportsByFormat(op) && op.shapesAreConsistent }

    /// `supports(kind, format)` for each tensor that decides the op's support.
    public func supportsByFormat(_ op: Op) -> Bool {
        op.formatTensors.allSatisfy { supports(op.kind, $0.format) }
    }
}

extension Op {
    /// The shape rules every backend shares; the kernels check the row ranges when they run.
    public var shapesAreConsistent: Bool {
        switch self {
        case .embedding(let out, let table, _):
            return out.cols == table.cols && table.cols % table.format.blockSize == 0
        case .rmsNorm(let out, let x, let w, _, _):
            return out.cols == x.cols && w.count > 0 && x.cols % w.count == 0
        case .layerNorm(let out, let x, let w, let b, _, _):
            return out.cols == x.cols && w.count == x.cols && b.count == x.cols
        case .matmul(let outs, let x, let ws, _):
            return !ws.isEmpty && outs.count == ws.count
                && zip(outs, ws).allSatisfy { out, w in
                    x.cols == w.cols && out.cols == w.rows && w.cols % w.format.blockSize == 0
                }
        case .rope(let r):
            return r.headDim % 2 == 0 && r.x.cols == r.nHeads * r.headDim
                && (r.positions.isEmpty || r.positions.count == r.rows)
                && r.freqFactors.map { $0.format == .f32 && $0.count == r.headDim / 2 } ?? true
        case .copyRows(let dst, _, let src, _, _):
            return dst.cols == src.cols && (src.format == .f32 || src.format == dst.format)
        case .attention(let a):
            return a.nKVHeads > 0 && a.nHeads % a.nKVHeads == 0 && a.q.cols == a.nHeads * a.headDim
                && a.out.cols == a.q.cols && a.kCache.cols == a.nKVHeads * a.headDim && a.vCache.cols == a.kCache.cols
                && a.kCache.format == a.vCache.format && a.q.format == .f32 && a.out.format == .f32
        case .batchAttention(let list):
            guard let a = list.first else { return false }
            return list.allSatisfy { b in
                Op.attention(b).shapesAreConsistent && b.out === a.out && b.q === a.q && b.nHeads == a.nHeads
                    && b.nKVHeads == a.nKVHeads && b.headDim == a.headDim && b.scale == a.scale && b.kind == a.kind
                    && b.window == a.window && b.kCache.format == a.kCache.format
            }
        case .swiglu(let out, let g, let u, _), .geglu(let out, let g, let u, _):
            return out.cols == g.cols && g.cols == u.cols
        case .scale:
            return true
        case .gelu(let out, let x, _):
            return out.cols == x.cols
        case .add(let out, let a, let b, _):
            return out.cols == a.cols && a.cols == b.cols
        case .addBias(let x, let b, _):
            return b.count == x.cols
        }
    }
}
