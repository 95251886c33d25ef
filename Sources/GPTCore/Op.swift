// Op: one operation as a value — its tensors and its parameters — that a Backend runs with `run(_:)`.
// A model's forward pass is a list of these (a plan, see GPTEngine's ForwardPlan); wrappers (profiler, fault
// injector, attention observer) wrap the one entry point. Shapes: rows are the first dimension, `rows` is how many
// token rows an op covers (buffers are sized for the largest batch and serve shorter ones).

/// An operation on backend tensors. Destination first, then inputs, then sizes (llama2.c / llm.c order).
public enum Op {
    /// out (T, n) = table[tokens[t]] dequantized; table (nVocab, n) in any format.
    case embedding(out: any DeviceTensor, table: any DeviceTensor, tokens: [Int32])
    /// out (T, n) = x / sqrt(mean(x²) + eps) * weight; weight (n). Where weight is shorter than a row (n divides it), each row
    /// is normalised in groups of n: (T, w) as (T * w/n, n) (per-head norms, Gemma 3's queries and keys).
    case rmsNorm(out: any DeviceTensor, x: any DeviceTensor, weight: any DeviceTensor, rows: Int, eps: Float)
    /// out (T, n) = (x - mean) / sqrt(var + eps) * weight + bias.
    case layerNorm(
        out: any DeviceTensor, x: any DeviceTensor, weight: any DeviceTensor, bias: any DeviceTensor, rows: Int,
        eps: Float)
    /// outs[i] (T, N_i) = x (T, K) · weights[i] (N_i, K)ᵀ: one product, or several of one input (Q, K and V; gate
    /// and up) that a backend may run as one pass (one quantization of x, one parallel region).
    case matmul(outs: [any DeviceTensor], x: any DeviceTensor, weights: [any DeviceTensor], rows: Int)
    /// Rotates rows row..<row+rows of x (·, nHeads * headDim) in place; row `row + t` is at position startPos + t.
    case rope(Rope)
    /// dst[dstRow + i] = src[srcRow + i] for i in 0..<rows (same row width); an F16 dst (a KV cache) receives F32
    /// rows rounded to half precision; same-format rows are copied as they are.
    case copyRows(dst: any DeviceTensor, dstRow: Int, src: any DeviceTensor, srcRow: Int, rows: Int)
    /// Causal attention of some rows of q over one sequence's KV cache.
    case attention(Attention)
    /// The attention of several sequences in one op (a server's step: a decode row per running sequence plus prompt
    /// chunks): each element is one sequence's `.attention`, its rows of the same q and out over its own cache, all
    /// with the same heads, scale, kind and window. The same result as running each; a backend may run them as one
    /// parallel job.
    case batchAttention([Attention])
    /// out (T, n) = silu(gate) * up (out may alias gate).
    case swiglu(out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor, rows: Int)
    /// out (T, n) = gelu(x), tanh approximation.
    case gelu(out: any DeviceTensor, x: any DeviceTensor, rows: Int)
    /// out (T, n) = gelu(gate) * up (GeGLU), tanh approximation.
    case geglu(out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor, rows: Int)
    /// x (T, n) *= factor, in place.
    case scale(x: any DeviceTensor, factor: Float, rows: Int)
    /// out (T, n) = a + b (out may alias a).
    case add(out: any DeviceTensor, a: any DeviceTensor, b: any DeviceTensor, rows: Int)
    /// x (T, n) += bias (n), in place.
    case addBias(x: any DeviceTensor, bias: any DeviceTensor, rows: Int)

    /// The op family (for `gpt check`, `gpt profile` and errors).
    public var kind: OpKind {
        switch self {
        case .embedding: .embedding
        case .rmsNorm: .rmsNorm
        case .layerNorm: .layerNorm
        case .matmul: .matmul
        case .rope: .rope
        case .copyRows: .copyRows
        case .attention, .batchAttention: .attention
        case .swiglu: .swiglu
        case .gelu: .gelu
        case .geglu: .geglu
        case .scale: .scale
        case .add: .add
        case .addBias: .addBias
        }
    }

    /// The tensor whose storage format decides whether a backend runs the op (the weights of a product, the
    /// table of an embedding, the KV cache of attention, the destination of a copy), else the first input.
    public var formatTensors: [any DeviceTensor] {
        switch self {
        case .embedding(_, let table, _): [table]
        case .rmsNorm(let out, let x, let w, _, _): [out, x, w]
        case .layerNorm(let out, let x, let w, let b, _, _): [out, x, w, b]
        case .matmul(_, _, let ws, _): ws
        case .rope(let r): [r.x]
        case .copyRows(let dst, _, _, _, _): [dst]
        case .attention(let a): [a.kCache]
        case .batchAttention(let list): list.map(\.kCache)
        case .swiglu(let out, let g, let u, _): [out, g, u]
        case .gelu(let out, let x, _): [out, x]
        case .geglu(let out, let g, let u, _): [out, g, u]
        case .scale(let x, _, _): [x]
        case .add(let out, let a, let b, _): [out, a, b]
        case .addBias(let x, let b, _): [x, b]
        }
    }

    /// The same op over `rows` rows (a plan's ops are written for the largest batch).
    public func with(rows n: Int) -> Op {
        switch self {
        case .embedding, .batchAttention: return self  // a batch's rows are its sequences'
        case .rmsNorm(let out, let x, let w, _, let eps): return .rmsNorm(out: out, x: x, weight: w, rows: n, eps: eps)
        case .layerNorm(let out, let x, let w, let b, _, let eps):
            return .layerNorm(out: out, x: x, weight: w, bias: b, rows: n, eps: eps)
        case .matmul(let outs, let x, let ws, _): return .matmul(outs: outs, x: x, weights: ws, rows: n)
        case .rope(var r):
            r.rows = n
            return .rope(r)
        case .copyRows(let dst, let dstRow, let src, let srcRow, _):
            return .copyRows(dst: dst, dstRow: dstRow, src: src, srcRow: srcRow, rows: n)
        case .attention(var a):
            a.rows = n
            return .attention(a)
        case .swiglu(let out, let g, let u, _): return .swiglu(out: out, gate: g, up: u, rows: n)
        case .gelu(let out, let x, _): return .gelu(out: out, x: x, rows: n)
        case .geglu(let out, let g, let u, _): return .geglu(out: out, gate: g, up: u, rows: n)
        case .scale(let x, let factor, _): return .scale(x: x, factor: factor, rows: n)
        case .add(let out, let a, let b, _): return .add(out: out, a: a, b: b, rows: n)
        case .addBias(let x, let b, _): return .addBias(x: x, bias: b, rows: n)
        }
    }

    /// Rows the op covers.
    public var rows: Int {
        switch self {
        case .embedding(_, _, let tokens): tokens.count
        case .rmsNorm(_, _, _, let n, _), .layerNorm(_, _, _, _, let n, _), .matmul(_, _, _, let n),
            .copyRows(_, _, _, _, let n), .swiglu(_, _, _, let n), .gelu(_, _, let n), .add(_, _, _, let n),
            .addBias(_, _, let n), .geglu(_, _, _, let n), .scale(_, _, let n):
            n
        case .rope(let r): r.rows
        case .attention(let a): a.rows
        case .batchAttention(let list): list.reduce(0) { $0 + $1.rows }
        }
    }

    // MARK: - Parameters of the position-dependent ops

    /// Rotary position embedding of rows row..<row+rows of x (·, nHeads * headDim), in place.
    public struct Rope {
        public var x: any DeviceTensor
        /// First row of x rotated, and how many.
        public var row: Int
        public var rows: Int
        /// Position of row `row`; the following rows are at consecutive positions.
        public var startPos: Int
        public var nHeads: Int
        public var headDim: Int
        public var freqBase: Float
        public var style: RopeStyle
        /// nil, or F32 (headDim / 2): pair i's angle is divided by freqFactors[i] (Llama 3's rope_freqs, Phi-3's
        /// LongRoPE factors).
        public var freqFactors: (any DeviceTensor)?
        /// Empty, or `rows` positions: row `row + i` is at positions[i] (the rows of several sequences in one op),
        /// and startPos is not used.
        public var positions: [Int32] = []

        public init(x: any DeviceTensor, row: Int = 0, rows: Int, startPos: Int, nHeads: Int, headDim: Int,
                    freqBase: Float, style: RopeStyle, freqFactors: (any DeviceTensor)? = nil) {
            self.x = x
            self.row = row
            self.rows = rows
            self.startPos = startPos
            self.nHeads = nHeads
            self.headDim = headDim
            self.freqBase = freqBase
            self.style = style
            self.freqFactors = freqFactors
        }

        /// The op as runs of rows at consecutive positions, each without `positions` (one run per sequence), for
        /// backends that rotate from a start position only.
        public var runs: [Rope] {
            guard !positions.isEmpty else { return [self] }
            var runs: [Rope] = []
            var i = 0
            while i < positions.count {
                var n = 1
                while i + n < positions.count && positions[i + n] == positions[i] + Int32(n) { n += 1 }
                var r = self
                (r.row, r.rows, r.startPos, r.positions) = (row + i, n, Int(positions[i]), [])
                runs.append(r)
                i += n
            }
            return runs
        }
    }

    /// Causal attention. Rows row..<row+rows of q (·, nHeads*headDim) are at positions startPos..<startPos+rows
    /// of one sequence; kCache, vCache (R, nKVHeads*headDim) hold its positions in F32 or, where the backend
    /// supports it, F16, position j at row j % R: all of 0..<startPos+rows (R >= keys), or, with a window, a ring
    /// of R >= window + rows - 1 rows that still holds every key some row sees (`cacheRowsNeeded`). The same rows
    /// of out (·, nHeads*headDim) receive the result. Query head h reads KV head h / (nHeads / nKVHeads). Scores
    /// are scaled by `scale` before the softmax.
    public struct Attention {
        public var out: any DeviceTensor
        public var q: any DeviceTensor
        public var kCache: any DeviceTensor
        public var vCache: any DeviceTensor
        /// First row of q and out, and how many.
        public var row: Int
        public var rows: Int
        public var startPos: Int
        public var nHeads: Int
        public var nKVHeads: Int
        public var headDim: Int
        public var scale: Float
        public var kind: AttentionKind
        /// > 0: sliding-window attention, the query at position p sees keys p-window+1...p only (a local layer reads
        /// at most `window` keys); 0: every earlier key.
        public var window: Int
        /// When set, the naive kernel leaves its probabilities here: (nHeads, rows, startPos + rows) F32, zero
        /// above the causal diagonal (attention pictures). Ignored by fused attention.
        public var probabilities: (any DeviceTensor)?

        public init(out: any DeviceTensor, q: any DeviceTensor, kCache: any DeviceTensor, vCache: any DeviceTensor,
                    row: Int = 0, rows: Int, startPos: Int, nHeads: Int, nKVHeads: Int, headDim: Int, scale: Float,
                    kind: AttentionKind, window: Int = 0, probabilities: (any DeviceTensor)? = nil) {
            self.out = out
            self.q = q
            self.kCache = kCache
            self.vCache = vCache
            self.row = row
            self.rows = rows
            self.startPos = startPos
            self.nHeads = nHeads
            self.nKVHeads = nKVHeads
            self.headDim = headDim
            self.scale = scale
            self.kind = kind
            self.window = window
            self.probabilities = probabilities
        }

        /// Keys of the cache the op covers: positions 0...startPos+rows-1.
        public var keys: Int { startPos + rows }
        /// Keys the op reads at most (for costs): the window plus the rows, or all of them.
        public var keysRead: Int { window > 0 ? min(keys, window + rows) : keys }
        /// Fewest rows the caches may have: every key (a full cache), or with a window the span of keys the rows
        /// see together, window + rows - 1 (a ring holds them without overwriting any).
        public var cacheRowsNeeded: Int { window > 0 ? min(keys, window + rows - 1) : keys }
    }
}

extension Op: CustomStringConvertible {
    /// `matmul(q4_1 blk.0.attn_q.weight, T=5)`: the op, the format and label of the tensor that decides support.
    public var description: String {
        let t = formatTensors.first
        return "\(kind)(\(t.map { "\($0.format) \($0.label)" } ?? ""), T=\(rows))"
    }
}
