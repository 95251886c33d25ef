// FaultyBackend: a backend with a deliberate off-by-one bug in matmul (output column j takes column j+1's value),
// so that the suite can prove it fails when a kernel is wrong.
import GPTCore

public final class FaultyBackend: ForwardingBackend {
    public override var name: String { "faulty(\(inner.name))" }

    /// The bug: after the real product, every output row is shifted left by one column.
    public override func matmul(_ out: any DeviceTensor, _ x: any DeviceTensor, _ w: any DeviceTensor,
                                rows: Int) throws {
        try inner.matmul(out, x, w, rows: rows)
        var values = [Float](repeating: 0, count: out.count)
        try values.withUnsafeMutableBufferPointer { try inner.read(out, into: $0) }
        let n = out.cols
        for r in 0..<rows where n > 1 {
            for j in 0..<(n - 1) { values[r * n + j] = values[r * n + j + 1] }
        }
        try values.withUnsafeBytes { try inner.write(out, from: $0) }
    }

    /// The same bug for every matrix of a multi-matmul.
    public override func matmuls(_ outs: [any DeviceTensor], _ x: any DeviceTensor, _ ws: [any DeviceTensor],
                                 rows: Int) throws {
        for (out, w) in zip(outs, ws) { try matmul(out, x, w, rows: rows) }
    }
}
