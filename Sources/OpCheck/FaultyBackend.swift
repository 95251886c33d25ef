// FaultyBackend: a backend with a deliberate bug, so that the suite can prove it fails when a kernel is wrong.
// - `.shiftedColumns`: an off-by-one in matmul (output column j takes column j+1's value).
// - `.kQuantScales`: K-quant weights computed with wrongly unpacked sub-block scales (BlockLayout.misreadScales:
//   the classic slips of the 6-bit packing), as a kernel with a broken scale decoder would.
import GPTCore

public final class FaultyBackend: ForwardingBackend {
    public enum Fault: Sendable { case shiftedColumns, kQuantScales }
    public let fault: Fault

    public init(_ inner: any Backend, fault: Fault = .shiftedColumns) {
        self.fault = fault
        super.init(inner)
    }

    public override var name: String { "faulty(\(inner.name))" }

    /// `.kQuantScales`: the weights are stored with their scales rewritten as the broken decoder reads them.
    public override func write(_ t: any DeviceTensor, from bytes: UnsafeRawBufferPointer) throws {
        guard fault == .kQuantScales, BlockLayout.kScales(t.format) != nil else { return try inner.write(t, from: bytes) }
        var misread = [UInt8](bytes)
        BlockLayout.misreadScales(t.format, &misread)
        try misread.withUnsafeBytes { try inner.write(t, from: $0) }
    }

    /// Weights are always copied (through `write`), never used in place.
    public override func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer, owner: AnyObject,
                               label: String) throws -> (any DeviceTensor)? { nil }

    /// `.shiftedColumns`: after the real product, every output row of every matrix is shifted left by one column.
    public override func run(_ op: Op) throws {
        try inner.run(op)
        guard fault == .shiftedColumns, case .matmul(let outs, _, _, let rows) = op else { return }
        for out in outs {
            var values = [Float](repeating: 0, count: out.count)
            try values.withUnsafeMutableBufferPointer { try inner.read(out, into: $0) }
            let n = out.cols
            for r in 0..<rows where n > 1 {
                for j in 0..<(n - 1) { values[r * n + j] = values[r * n + j + 1] }
            }
            try values.withUnsafeBytes { try inner.write(out, from: $0) }
        }
    }
}
