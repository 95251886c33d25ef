// TensorCheck: the scan of weights for NaN and infinite values (llama.cpp's --check-tensors). Every row is
// dequantized with CKernels' reference dequantizer, so one scan covers every format, scales included.
import CKernels
import GPTCore

/// A tensor holding NaN or infinite values.
public struct NonFiniteTensor: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let nanCount: Int
    public let infinityCount: Int
    /// Index (row-major, ggml order) of the first non-finite element.
    public let firstIndex: Int

    public init(name: String, nanCount: Int, infinityCount: Int, firstIndex: Int) {
        self.name = name
        self.nanCount = nanCount
        self.infinityCount = infinityCount
        self.firstIndex = firstIndex
    }

    public var description: String {
        "tensor '\(name)' holds \(nanCount) NaN and \(infinityCount) infinite values (first at element \(firstIndex))"
    }
}

extension WeightSource {
    /// Dequantizes every row of the tensors `names` (default: all the source lists) and reports those holding
    /// NaN or infinite values. Formats CKernels cannot dequantize are skipped (loading names them anyway).
    public func nonFiniteTensors(_ names: [String]? = nil) throws -> [NonFiniteTensor] {
        var found: [NonFiniteTensor] = []
        for name in names ?? tensorNames {
            guard let layout = tensorLayout(name),
                ck_format_supports(Int32(layout.format.ggmlType), Int32(CK_CAN_DEQUANTIZE.rawValue)) == 1
            else { continue }
            let cols = layout.shape.first ?? 1
            let rows = layout.shape.dropFirst().reduce(1, *)
            let rowBytes = layout.format.byteCount(cols)
            var row = [Float](repeating: 0, count: cols)
            var (nan, inf, first) = (0, 0, -1)
            try withTensorBytes(name) { raw in
                guard raw.count >= rows * rowBytes else {
                    throw EngineError.badTensor(name, path: path, "\(raw.count) bytes for \(rows) rows")
                }
                TensorLoader.withAligned(raw) { bytes in
                    row.withUnsafeMutableBufferPointer { out in
                        for r in 0..<rows {
                            ck_dequantize_row(Int32(layout.format.ggmlType), out.baseAddress!,
                                              bytes.baseAddress! + r * rowBytes, Int64(cols))
                            for (i, x) in out.enumerated() where !x.isFinite {
                                if x.isNaN { nan += 1 } else { inf += 1 }
                                if first < 0 { first = r * cols + i }
                            }
                        }
                    }
                }
            }
            if first >= 0 { found.append(NonFiniteTensor(name: name, nanCount: nan, infinityCount: inf, firstIndex: first)) }
        }
        return found
    }
}
