// AttentionObserver: wraps a backend and keeps the probabilities of every naive attention op it runs (for
// `gpt attention`'s pictures). It asks the op for them as an explicit output; compute stays unaware of observers.
import GPTCore

public final class AttentionObserver: ForwardingBackend {
    /// One entry per naive attention call, in order: (nHeads, rows, keys) probabilities, zero above the diagonal.
    public private(set) var captured: [[Float]] = []
    private var buffer: (any DeviceTensor)?

    public override func run(_ op: Op) throws {
        guard case .attention(var a) = op, a.kind == .naive else { return try inner.run(op) }
        let count = a.nHeads * a.rows * a.keys
        if buffer.map({ $0.count < count }) ?? true {
            buffer = try inner.allocate([count], .f32, label: "attention probabilities")
        }
        a.probabilities = buffer
        try inner.run(.attention(a))
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { try inner.read(buffer!, into: $0) }
        captured.append(values)
    }

    public func clear() { captured.removeAll() }
}
