// BLASBackend ("blas"): projections through OpenBLAS (sgemm for a batch of tokens, sgemv for one) on weights
// dequantized to F32 once at upload — 4 bytes a weight instead of 0.6, the price of using a stock BLAS.
// Every other op is the shared C kernels of the openmp backend.
import BackendOpenMP
import CKernels
import COpenBLAS
import GPTCore

public final class BLASBackend: OpenMPBackend {
    public override var name: String { "blas" }

    public override init(options: BackendOptions = BackendOptions()) {
        super.init(options: options)
        // OpenBLAS keeps one process-wide thread count; set it to this backend's.
        openblas_set_num_threads(Int32(threads))
    }

    public override var device: DeviceInfo {
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS"
        return DeviceInfo(
            name: CPUInfo.modelName,
            details: [
                ("threads", "\(threads)"),
                ("blas", config.trimmingCharacters(in: .whitespaces)),
                ("blas core", openblas_get_corename().map { String(cString: $0) } ?? "?"),
                ("weights", "dequantized to F32 at load (about 6.4x the memory of Q4_1) from "
                    + WeightFormat.names(WeightFormat.allCases.filter { supports(.matmul, $0) })),
            ])
    }

    /// Products and lookups run on F32 copies, so every format the reference dequantizers read is supported.
    public override func supports(_ op: OpKind, _ format: WeightFormat) -> Bool {
        switch op {
        case .matmul, .embedding: ck_format_supports(Int32(format.ggmlType), Int32(CK_CAN_DEQUANTIZE.rawValue)) != 0
        default: super.supports(op, format)
        }
    }

    /// Matrices in quantized or F16 formats are stored as F32; `write` converts them.
    public override func allocate(_ shape: [Int], _ format: WeightFormat, label: String) throws -> any DeviceTensor {
        if shape.count == 2 && format != .f32 {
            return try CPUTensor(shape: shape, format: .f32, sourceFormat: format, label: label)
        }
        return try super.allocate(shape, format, label: label)
    }

    /// Only F32 data is used in place; everything else is converted by `write`.
    public override func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer,
                               owner: AnyObject, label: String) throws -> (any DeviceTensor)? {
        shape.count == 2 && format != .f32
            ? nil : try super.adopt(shape, format, bytes: bytes, owner: owner, label: label)
    }

    public override func write(_ t: any DeviceTensor, from bytes: UnsafeRawBufferPointer) throws {
        let c = try cpu(t, .copyRows)
        guard c.sourceFormat != c.format else { return try super.write(t, from: bytes) }
        guard bytes.count == c.sourceFormat.byteCount(c.count) else {
            throw BackendError.shapeMismatch(op: .copyRows, "\(c.label): \(bytes.count) bytes of \(c.sourceFormat)")
        }
        let rowBytes = c.sourceFormat.byteCount(c.cols)
        for r in 0..<c.rows {
            ck_dequantize_row(Int32(c.sourceFormat.ggmlType), c.floats + r * c.cols,
                              bytes.baseAddress! + r * rowBytes, Int64(c.cols))
        }
    }

    /// Products through OpenBLAS, one sgemm/sgemv per matrix (the C multi-matmul is for quantized weights); every
    /// other op is the openmp backend's.
    public override func run(_ op: Op) throws {
        guard case .matmul(let outs, let x, let ws, let rows) = op else { return try super.run(op) }
        let xi = try f32(x, .matmul)
        guard outs.count == ws.count, !ws.isEmpty else {
            throw BackendError.shapeMismatch(op: .matmul, "\(outs.count) outputs for \(ws.count) matrices")
        }
        for (out, w) in zip(outs, ws) {
            let (o, wt) = (try f32(out, .matmul), try f32(w, .matmul))
            guard rows <= o.rows, rows <= xi.rows, xi.cols == wt.cols, o.cols == wt.rows else {
                throw BackendError.shapeMismatch(
                    op: .matmul, "x \(xi.shape) · w \(wt.shape)ᵀ -> \(o.shape), \(rows) rows")
            }
            let (n, k) = (Int32(wt.rows), Int32(wt.cols))
            if rows == 1 {
                // y (N) = W (N, K) · x (K)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1, wt.floats, k, xi.floats, 1, 0, o.floats, 1)
            } else {
                // Y (T, N) = X (T, K) · Wᵀ
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), n, k, 1, xi.floats, k, wt.floats,
                            k, 0, o.floats, n)
            }
        }
    }
}

extension BackendEntry {
    public static let blas = BackendEntry(
        name: "blas",
        summary: "OpenBLAS sgemm/sgemv on weights dequantized to F32 at load; other ops share the C kernels",
        priority: 10,
        probe: { options in .available(BLASBackend(options: options).device) },
        make: { options in BLASBackend(options: options) })
}
