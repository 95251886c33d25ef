// TransformerExecutor: the forward pass, read top to bottom as the whole model (llama2.c's forward()).
// It owns the KV cache and the activation buffers on the backend, and talks to the device only through `Backend`.
import GPTCore

/// Runs a model on a backend. Not thread-safe: one executor serves one sequence at a time.
public final class TransformerExecutor {
    public let config: ModelConfig
    public let weights: ModelWeights
    public let backend: any Backend
    /// Positions the KV cache holds.
    public let nCtx: Int
    /// Most tokens one forward call processes; longer prompts are split into batches of this size.
    public let maxBatch: Int
    public var attention: AttentionKind
    /// How the KV cache stores keys and values: F16 (half the memory and bandwidth, llama.cpp's default) where the
    /// backend's attention reads it, else F32.
    public let kvFormat: WeightFormat
    /// Positions already in the KV cache.
    public private(set) var position = 0

    // KV cache, one pair per layer: (nCtx, nKVHeads*headDim)
    private let kCache: [any DeviceTensor]
    private let vCache: [any DeviceTensor]
    // Activations for up to maxBatch tokens (B = maxBatch)
    private let x: any DeviceTensor  // (B, nEmbd) residual stream
    private let xn: any DeviceTensor  // (B, nEmbd) normalised
    private let q: any DeviceTensor  // (B, nHeads*headDim)
    private let k: any DeviceTensor  // (B, kvDim)
    private let v: any DeviceTensor  // (B, kvDim)
    private let att: any DeviceTensor  // (B, nHeads*headDim) attention output before the projection
    private let proj: any DeviceTensor  // (B, nEmbd) output of a projection back to the residual width
    private let gate: any DeviceTensor  // (B, nFF)
    private let up: any DeviceTensor  // (B, nFF)
    private let hidden: any DeviceTensor  // (B, nFF) MLP activation
    private let pos: (any DeviceTensor)?  // (B, nEmbd) learned position embeddings, gpt2
    private let last: any DeviceTensor  // (1, nEmbd) the final position
    private let lastNorm: any DeviceTensor  // (1, nEmbd)
    private let logitsTensor: any DeviceTensor  // (1, nVocab)
    private var rowLogits: (any DeviceTensor)?  // (B, nVocab) logits of many rows, allocated on first use

    /// - Parameter kvFormat: .f16 or .f32; nil picks F16 where the backend supports it.
    public init(weights: ModelWeights, backend: any Backend, nCtx: Int, maxBatch: Int = 512,
                attention: AttentionKind = .fused, kvFormat: WeightFormat? = nil) throws {
        let c = weights.config
        guard nCtx >= 1 else { throw EngineError.badModel(path: "", "context size must be positive") }
        guard nCtx <= c.nCtxTrain else { throw EngineError.contextOverflow(needed: nCtx, limit: c.nCtxTrain) }
        self.config = c
        self.weights = weights
        self.backend = backend
        self.nCtx = nCtx
        self.maxBatch = max(1, min(maxBatch, nCtx))
        self.attention = attention
        let kv = kvFormat ?? (backend.supports(.attention, .f16) ? .f16 : .f32)
        guard kv == .f32 || (kv == .f16 && backend.supports(.attention, .f16)) else {
            throw BackendError.unsupported(op: .attention, format: kv, backend: backend.name)
        }
        self.kvFormat = kv
        let b = self.maxBatch
        // Refuse a cache larger than the machine rather than die in the allocator (a 16M-position --ctx).
        do {
            let kvBytes = try CheckedSize.product([2, c.nLayers, nCtx, c.kvDim, kv.byteCount(1)], "KV cache bytes")
            let activations = try CheckedSize.product([b, 6 * c.nEmbd + 3 * c.nFF + 2 * c.nHeads * c.headDim, 4],
                                                      "activation bytes")
            if let memory = CheckedSize.physicalMemory, kvBytes > memory - min(memory, activations) {
                throw EngineError.badModel(
                    path: "", "a KV cache of \(nCtx) positions needs \(kvBytes >> 20) MiB, more than this machine's "
                        + "\(memory >> 20) MiB of memory (lower --ctx)")
            }
        } catch let overflow as SizeOverflow {
            throw EngineError.badModel(path: "", overflow.description)
        }
        func alloc(_ shape: [Int], _ label: String) throws -> any DeviceTensor {
            try backend.allocate(shape, .f32, label: label)
        }
        kCache = try (0..<c.nLayers).map { try backend.allocate([nCtx, c.kvDim], kv, label: "k_cache.\($0)") }
        vCache = try (0..<c.nLayers).map { try backend.allocate([nCtx, c.kvDim], kv, label: "v_cache.\($0)") }
        x = try alloc([b, c.nEmbd], "x")
        xn = try alloc([b, c.nEmbd], "x_norm")
        q = try alloc([b, c.nHeads * c.headDim], "q")
        k = try alloc([b, c.kvDim], "k")
        v = try alloc([b, c.kvDim], "v")
        att = try alloc([b, c.nHeads * c.headDim], "attn")
        proj = try alloc([b, c.nEmbd], "proj")
        gate = try alloc([b, c.nFF], "ffn_gate")
        up = try alloc([b, c.nFF], "ffn_up")
        hidden = try alloc([b, c.nFF], "ffn_hidden")
        pos = c.architecture == .gpt2 ? try alloc([b, c.nEmbd], "pos") : nil
        last = try alloc([1, c.nEmbd], "last")
        lastNorm = try alloc([1, c.nEmbd], "last_norm")
        logitsTensor = try alloc([1, c.nVocab], "logits")
    }

    /// Forgets the sequence: the next token goes to position 0.
    public func reset() { position = 0 }

    /// Drops cached positions from `newPosition` on (e.g. to reuse a shared prefix).
    public func rewind(to newPosition: Int) {
        position = max(0, min(position, newPosition))
    }

    /// Feeds `tokens` at the next positions and returns the logits (nVocab) of the last one.
    public func forward(_ tokens: [Int32]) throws -> [Float] {
        guard !tokens.isEmpty else { throw EngineError.emptyPrompt }
        try check(tokens)
        var start = 0
        while start < tokens.count {
            let end = min(start + maxBatch, tokens.count)
            try forwardBatch(Array(tokens[start..<end]))
            start = end
        }
        return try logits()
    }

    /// Feeds `tokens` at the next positions and returns the logits of every token from index `first` on, as
    /// (tokens.count - first, nVocab) floats, row-major (what perplexity scores).
    public func forward(_ tokens: [Int32], logitsFrom first: Int) throws -> [Float] {
        guard (0..<tokens.count).contains(first) else { throw EngineError.emptyPrompt }
        try check(tokens)
        if rowLogits == nil { rowLogits = try backend.allocate([maxBatch, config.nVocab], .f32, label: "row_logits") }
        var out: [Float] = []
        out.reserveCapacity((tokens.count - first) * config.nVocab)
        var start = 0
        while start < tokens.count {
            let end = min(start + maxBatch, tokens.count)
            try forwardBatch(Array(tokens[start..<end]))
            let rows = min(max(first, start), end)..<end  // wanted rows in this batch (none before `first`)
            if !rows.isEmpty {
                // final norm of the wanted rows, then the unembedding of each
                try backend.copyRows(xn, dstRow: 0, x, srcRow: rows.lowerBound - start, rows: rows.count)
                try norm(proj, xn, weights.outputNorm, weights.outputNormBias, rows: rows.count)
                try backend.matmul(rowLogits!, proj, weights.output, rows: rows.count)
                let offset = out.count
                out.append(contentsOf: repeatElement(0, count: rows.count * config.nVocab))
                try out.withUnsafeMutableBufferPointer {
                    try backend.read(rowLogits!, into: UnsafeMutableBufferPointer(rebasing: $0[offset...]))
                }
            }
            start = end
        }
        return out
    }

    /// Throws unless `tokens` fit in the cache after what it holds and are all in the vocabulary.
    private func check(_ tokens: [Int32]) throws {
        guard position + tokens.count <= nCtx else {
            throw EngineError.contextOverflow(needed: position + tokens.count, limit: nCtx)
        }
        for id in tokens where id < 0 || Int(id) >= config.nVocab {
            throw EngineError.invalidToken(id, vocab: config.nVocab)
        }
    }

    /// One batch of at most maxBatch tokens through every layer; leaves the last position's logits on the device.
    private func forwardBatch(_ tokens: [Int32]) throws {
        let c = config
        let w = weights
        let be = backend
        let t = tokens.count
        let start = position

        // token embedding (and, for gpt2, the learned position embedding)
        try be.embedding(x, table: w.tokenEmbedding, tokens: tokens)
        if let posTable = w.positionEmbedding, let pos {
            try be.embedding(pos, table: posTable, tokens: (start..<start + t).map { Int32($0) })
            try be.add(x, x, pos, rows: t)
        }

        for (l, layer) in w.layers.enumerated() {
            // attention norm
            try norm(xn, x, layer.attnNorm, layer.attnNormBias, rows: t)
            // query, key, value projections
            try be.matmuls([q, k, v], xn, [layer.wq, layer.wk, layer.wv], rows: t)
            if let bq = layer.bq, let bk = layer.bk, let bv = layer.bv {
                try be.addBias(q, bias: bq, rows: t)
                try be.addBias(k, bias: bk, rows: t)
                try be.addBias(v, bias: bv, rows: t)
            }
            // rotary position embedding of queries and keys
            if c.usesRope {
                try be.rope(q, rows: t, startPos: start, nHeads: c.nHeads, headDim: c.headDim,
                            freqBase: c.ropeFreqBase, style: c.ropeStyle)
                try be.rope(k, rows: t, startPos: start, nHeads: c.nKVHeads, headDim: c.headDim,
                            freqBase: c.ropeFreqBase, style: c.ropeStyle)
            }
            // store keys and values in the cache at positions start..<start+t
            try be.copyRows(kCache[l], dstRow: start, k, srcRow: 0, rows: t)
            try be.copyRows(vCache[l], dstRow: start, v, srcRow: 0, rows: t)
            // causal multi-head attention over the cache (grouped-query: nHeads share nKVHeads)
            try be.attention(att, q: q, kCache: kCache[l], vCache: vCache[l], rows: t, startPos: start,
                             nHeads: c.nHeads, nKVHeads: c.nKVHeads, headDim: c.headDim,
                             scale: 1 / Float(c.headDim).squareRoot(), kind: attention)
            // output projection and residual connection
            try be.matmul(proj, att, layer.wo, rows: t)
            if let bo = layer.bo { try be.addBias(proj, bias: bo, rows: t) }
            try be.add(x, x, proj, rows: t)

            // MLP norm
            try norm(xn, x, layer.ffnNorm, layer.ffnNormBias, rows: t)
            if let wGate = layer.wGate {
                // SwiGLU: down(silu(gate(x)) * up(x))
                try be.matmuls([gate, up], xn, [wGate, layer.wUp], rows: t)
                try be.swiglu(hidden, gate: gate, up: up, rows: t)
            } else {
                // GELU MLP: down(gelu(up(x) + b))
                try be.matmul(up, xn, layer.wUp, rows: t)
                if let bUp = layer.bUp { try be.addBias(up, bias: bUp, rows: t) }
                try be.gelu(hidden, up, rows: t)
            }
            try be.matmul(proj, hidden, layer.wDown, rows: t)
            if let bDown = layer.bDown { try be.addBias(proj, bias: bDown, rows: t) }
            // residual connection
            try be.add(x, x, proj, rows: t)
        }

        // final norm of the last position, then the unembedding to logits
        try be.copyRows(last, dstRow: 0, x, srcRow: t - 1, rows: 1)
        try norm(lastNorm, last, w.outputNorm, w.outputNormBias, rows: 1)
        try be.matmul(logitsTensor, lastNorm, w.output, rows: 1)
        position += t
    }

    private func norm(_ out: any DeviceTensor, _ input: any DeviceTensor, _ weight: any DeviceTensor,
                      _ bias: (any DeviceTensor)?, rows: Int) throws {
        if let bias {
            try backend.layerNorm(out, input, weight: weight, bias: bias, rows: rows, eps: config.normEps)
        } else {
            try backend.rmsNorm(out, input, weight: weight, rows: rows, eps: config.normEps)
        }
    }

    /// The logits of the last position fed (nVocab).
    public func logits() throws -> [Float] {
        var out = [Float](repeating: 0, count: config.nVocab)
        try out.withUnsafeMutableBufferPointer { try backend.read(logitsTensor, into: $0) }
        return out
    }
}
