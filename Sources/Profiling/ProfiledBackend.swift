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

    private func timed(_ op: OpKind, _ key: @autoclosure () -> String, flops: Double, bytes: Double,
                       _ body: () throws -> Void) throws {
        guard recording else { return try body() }
        try inner.synchronize()
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        try inner.synchronize()
        let t1 = DispatchTime.now().uptimeNanoseconds
        events.append(OpEvent(op: op, key: key(), startNanoseconds: t0 - origin, durationNanoseconds: t1 - t0,
                              flops: flops, bytes: bytes))
    }

    private static func f(_ t: any DeviceTensor) -> String { t.format.rawValue }

    public override func embedding(_ out: any DeviceTensor, table: any DeviceTensor, tokens: [Int32]) throws {
        let bytes = Double(table.format.byteCount(table.cols) * tokens.count + 4 * out.cols * tokens.count)
        try timed(.embedding, "embedding(\(Self.f(table)), T=\(tokens.count), n=\(out.cols))", flops: 0, bytes: bytes) {
            try inner.embedding(out, table: table, tokens: tokens)
        }
    }

    public override func rmsNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor,
                                 rows: Int, eps: Float) throws {
        let n = Double(rows * x.cols)
        try timed(.rmsNorm, "rmsNorm(T=\(rows), n=\(x.cols))", flops: 4 * n, bytes: 8 * n) {
            try inner.rmsNorm(out, x, weight: weight, rows: rows, eps: eps)
        }
    }

    public override func layerNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, weight: any DeviceTensor,
                                   bias: any DeviceTensor, rows: Int, eps: Float) throws {
        let n = Double(rows * x.cols)
        try timed(.layerNorm, "layerNorm(T=\(rows), n=\(x.cols))", flops: 7 * n, bytes: 8 * n) {
            try inner.layerNorm(out, x, weight: weight, bias: bias, rows: rows, eps: eps)
        }
    }

    public override func matmul(_ out: any DeviceTensor, _ x: any DeviceTensor, _ w: any DeviceTensor,
                                rows: Int) throws {
        let (k, n) = (w.cols, w.rows)
        // weights read once, activations in, results out
        let bytes = Double(w.byteCount + 4 * rows * (k + n))
        try timed(.matmul, "matmul(\(Self.f(w)), T=\(rows), K=\(k), N=\(n))", flops: 2 * Double(rows * k * n),
                  bytes: bytes) {
            try inner.matmul(out, x, w, rows: rows)
        }
    }

    public override func matmuls(_ outs: [any DeviceTensor], _ x: any DeviceTensor, _ ws: [any DeviceTensor],
                                 rows: Int) throws {
        let k = x.cols
        let n = ws.reduce(0) { $0 + $1.rows }
        let bytes = Double(ws.reduce(0) { $0 + $1.byteCount } + 4 * rows * (k + n))
        let parts = ws.map { String($0.rows) }.joined(separator: "+")
        try timed(.matmul, "matmuls(\(Self.f(ws[0])), T=\(rows), K=\(k), N=\(parts))",
                  flops: 2 * Double(rows * k * n), bytes: bytes) {
            try inner.matmuls(outs, x, ws, rows: rows)
        }
    }

    public override func rope(_ x: any DeviceTensor, rows: Int, startPos: Int, nHeads: Int, headDim: Int,
                              freqBase: Float, style: RopeStyle) throws {
        let n = Double(rows * nHeads * headDim)
        try timed(.rope, "rope(T=\(rows), heads=\(nHeads), hd=\(headDim))", flops: 3 * n, bytes: 8 * n) {
            try inner.rope(x, rows: rows, startPos: startPos, nHeads: nHeads, headDim: headDim, freqBase: freqBase,
                           style: style)
        }
    }

    public override func copyRows(_ dst: any DeviceTensor, dstRow: Int, _ src: any DeviceTensor, srcRow: Int,
                                  rows: Int) throws {
        try timed(.copyRows, "copyRows(T=\(rows), n=\(src.cols))", flops: 0, bytes: Double(8 * rows * src.cols)) {
            try inner.copyRows(dst, dstRow: dstRow, src, srcRow: srcRow, rows: rows)
        }
    }

    public override func attention(_ out: any DeviceTensor, q: any DeviceTensor, kCache: any DeviceTensor,
                                   vCache: any DeviceTensor, rows: Int, startPos: Int, nHeads: Int, nKVHeads: Int,
                                   headDim: Int, scale: Float, kind: AttentionKind) throws {
        // query t attends to startPos + t + 1 keys: QKᵀ and PV are 2 FLOPs per (key, dim) each
        let pairs = Double(rows) * Double(startPos) + Double(rows * (rows + 1) / 2)
        let flops = 4 * pairs * Double(nHeads * headDim)
        let ctx = Double(startPos + rows)
        let bytes = 2 * ctx * Double(kCache.format.byteCount(nKVHeads * headDim)) + Double(8 * rows * nHeads * headDim)
        let bucket = startPos + rows <= 512 ? "≤512" : "≤\(1 << Int(ceil(log2(Double(startPos + rows)))))"
        try timed(.attention, "attention(\(kind), \(kCache.format) cache, T=\(rows), ctx\(bucket), heads=\(nHeads)/\(nKVHeads))",
                  flops: flops, bytes: bytes) {
            try inner.attention(out, q: q, kCache: kCache, vCache: vCache, rows: rows, startPos: startPos,
                                nHeads: nHeads, nKVHeads: nKVHeads, headDim: headDim, scale: scale, kind: kind)
        }
    }

    public override func swiglu(_ out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor,
                                rows: Int) throws {
        let n = Double(rows * out.cols)
        try timed(.swiglu, "swiglu(T=\(rows), n=\(out.cols))", flops: 6 * n, bytes: 12 * n) {
            try inner.swiglu(out, gate: gate, up: up, rows: rows)
        }
    }

    public override func gelu(_ out: any DeviceTensor, _ x: any DeviceTensor, rows: Int) throws {
        let n = Double(rows * out.cols)
        try timed(.gelu, "gelu(T=\(rows), n=\(out.cols))", flops: 10 * n, bytes: 8 * n) {
            try inner.gelu(out, x, rows: rows)
        }
    }

    public override func add(_ out: any DeviceTensor, _ a: any DeviceTensor, _ b: any DeviceTensor,
                             rows: Int) throws {
        let n = Double(rows * out.cols)
        try timed(.add, "add(T=\(rows), n=\(out.cols))", flops: n, bytes: 12 * n) {
            try inner.add(out, a, b, rows: rows)
        }
    }

    public override func addBias(_ x: any DeviceTensor, bias: any DeviceTensor, rows: Int) throws {
        let n = Double(rows * x.cols)
        try timed(.addBias, "addBias(T=\(rows), n=\(x.cols))", flops: n, bytes: 8 * n) {
            try inner.addBias(x, bias: bias, rows: rows)
        }
    }
}
