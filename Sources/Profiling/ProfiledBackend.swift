// ProfiledBackend: wraps another backend and times every op (synchronising after each, so that enqueued device
// work is counted where it runs), recording calls, time, FLOPs and bytes per op × format × shape, and a timeline
// for Chrome's trace-event format.
import Foundation
import GPTCore

/// One timed op call.
public struct OpEvent: Sendable {
    public var op: OpKind
    public var key: String  // op(format, shape)
    public var startNanoseconds: UInt64
    public var durationNanoseconds: UInt64
    public var flops: Double
    public var bytes: Double
}

/// Totals for one op × format × shape.
public struct OpStats: Sendable {
    public var key: String
    public var op: OpKind
    public var calls = 0
    public var nanoseconds: UInt64 = 0
    public var flops = 0.0
    public var bytes = 0.0
}

public final class ProfiledBackend: ForwardingBackend {
    public private(set) var events: [OpEvent] = []
    public var recording = true
    private let origin = DispatchTime.now().uptimeNanoseconds

    public override var name: String { inner.name }

    public func clear() { events.removeAll(keepingCapacity: true) }

    /// Totals per key, slowest first.
    public var stats: [OpStats] {
        var table: [String: OpStats] = [:]
        for e in events {
            table[e.key, default: OpStats(key: e.key, op: e.op)].calls += 1
            table[e.key]!.nanoseconds += e.durationNanoseconds
            table[e.key]!.flops += e.flops
            table[e.key]!.bytes += e.bytes
        }
        return table.values.sorted { $0.nanoseconds > $1.nanoseconds }
    }

    private static func f(_ t: any DeviceTensor) -> String { t.format.rawValue }

    public override func run(_ op: Op) throws {
        guard recording else { return try inner.run(op) }
        let (key, flops, bytes) = Self.cost(op)
        try inner.synchronize()
        let t0 = DispatchTime.now().uptimeNanoseconds
        try inner.run(op)
        try inner.synchronize()
        let t1 = DispatchTime.now().uptimeNanoseconds
        events.append(OpEvent(op: op.kind, key: key, startNanoseconds: t0 - origin, durationNanoseconds: t1 - t0,
                              flops: flops, bytes: bytes))
    }

    /// The row key (op, format, shape), FLOPs and bytes moved of one op.
    static func cost(_ op: Op) -> (key: String, flops: Double, bytes: Double) {
        switch op {
        case .embedding(let out, let table, let tokens):
            let bytes = Double(table.format.byteCount(table.cols) * tokens.count + 4 * out.cols * tokens.count)
            return ("embedding(\(f(table)), T=\(tokens.count), n=\(out.cols))", 0, bytes)
        case .rmsNorm(_, let x, _, let rows, _):
            let n = Double(rows * x.cols)
            return ("rmsNorm(T=\(rows), n=\(x.cols))", 4 * n, 8 * n)
        case .layerNorm(_, let x, _, _, let rows, _):
            let n = Double(rows * x.cols)
            return ("layerNorm(T=\(rows), n=\(x.cols))", 7 * n, 8 * n)
        case .matmul(_, let x, let ws, let rows):
            let k = x.cols
            let n = ws.reduce(0) { $0 + $1.rows }
            // weights read once, activations in, results out
            let bytes = Double(ws.reduce(0) { $0 + $1.byteCount } + 4 * rows * (k + n))
            let key = ws.count == 1
                ? "matmul(\(f(ws[0])), T=\(rows), K=\(k), N=\(n))"
                : "matmuls(\(f(ws[0])), T=\(rows), K=\(k), N=\(ws.map { String($0.rows) }.joined(separator: "+")))"
            return (key, 2 * Double(rows * k * n), bytes)
        case .rope(let r):
            let n = Double(r.rows * r.nHeads * r.headDim)
            return ("rope(T=\(r.rows), heads=\(r.nHeads), hd=\(r.headDim))", 3 * n, 8 * n)
        case .copyRows(_, _, let src, _, let rows):
            return ("copyRows(T=\(rows), n=\(src.cols))", 0, Double(8 * rows * src.cols))
        case .attention(let a):
            // query t attends to startPos + t + 1 keys: QKᵀ and PV are 2 FLOPs per (key, dim) each
            let pairs = Double(a.rows) * Double(a.startPos) + Double(a.rows * (a.rows + 1) / 2)
            let flops = 4 * pairs * Double(a.nHeads * a.headDim)
            let ctx = Double(a.keysRead)
            let bytes = 2 * ctx * Double(a.kCache.format.byteCount(a.nKVHeads * a.headDim))
                + Double(8 * a.rows * a.nHeads * a.headDim)
            let bucket = a.keys <= 512 ? "≤512" : "≤\(1 << Int(ceil(log2(ctx))))"
            return ("attention(\(a.kind), \(a.kCache.format) cache, T=\(a.rows), ctx\(bucket), "
                        + "heads=\(a.nHeads)/\(a.nKVHeads))", flops, bytes)
        case .batchAttention(let list):
            // the sum of each sequence's attention, one row per batch size
            let costs = list.map { cost(.attention($0)) }
            let a = list.first
            return ("attention(\(a.map { "\($0.kind), \($0.kCache.format) cache" } ?? ""), \(list.count) sequences, "
                        + "T=\(op.rows), heads=\(a?.nHeads ?? 0)/\(a?.nKVHeads ?? 0))",
                    costs.reduce(0) { $0 + $1.flops }, costs.reduce(0) { $0 + $1.bytes })
        case .swiglu(let out, _, _, let rows):
            let n = Double(rows * out.cols)
            return ("swiglu(T=\(rows), n=\(out.cols))", 6 * n, 12 * n)
        case .gelu(let out, _, let rows):
            let n = Double(rows * out.cols)
            return ("gelu(T=\(rows), n=\(out.cols))", 10 * n, 8 * n)
        case .geglu(let out, _, _, let rows):
            let n = Double(rows * out.cols)
            return ("geglu(T=\(rows), n=\(out.cols))", 11 * n, 12 * n)
        case .scale(let x, _, let rows):
            let n = Double(rows * x.cols)
            return ("scale(T=\(rows), n=\(x.cols))", n, 8 * n)
        case .add(let out, _, _, let rows):
            let n = Double(rows * out.cols)
            return ("add(T=\(rows), n=\(out.cols))", n, 12 * n)
        case .addBias(let x, _, let rows):
            let n = Double(rows * x.cols)
            return ("addBias(T=\(rows), n=\(x.cols))", n, 8 * n)
        }
    }
}
