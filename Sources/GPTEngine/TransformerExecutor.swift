// TransformerExecutor: runs a model's forward plan (built once at load by its architecture, validated op by op with
// the backend) over batches of rows from several sequences. Products and elementwise ops run once over all rows;
// the position-dependent steps (rotary embedding, KV-cache stores, attention) run per sequence over its own rows
// and cache slot. A single sequence (generate, chat) is one chunk in a one-slot cache the executor keeps itself.
// Not here: what the model computes (Architectures/*.swift), the cache's slots (KVCache).
import GPTCore

/// Rows of one sequence in a batch: `tokens` at positions startPosition..<startPosition+tokens.count of `slot`.
public struct SequenceChunk: Sendable {
    /// Which rows' logits the caller wants back.
    public enum Logits: Sendable {
        case none
        /// The chunk's last row (the next-token distribution).
        case last
        /// Every row (perplexity).
        case all
    }

    public var slot: Int
    public var startPosition: Int
    public var tokens: [Int32]
    public var logits: Logits

    public init(slot: Int, startPosition: Int, tokens: [Int32], logits: Logits = .last) {
        self.slot = slot
        self.startPosition = startPosition
        self.tokens = tokens
        self.logits = logits
    }

    public init(slot: Int, startPosition: Int, tokens: [Int32], wantLogits: Bool) {
        self.init(slot: slot, startPosition: startPosition, tokens: tokens, logits: wantLogits ? .last : .none)
    }
}

/// Runs a model on a backend. Not thread-safe: one caller at a time.
public final class TransformerExecutor {
    public let architecture: any ModelArchitecture
    public var config: ModelConfig { architecture.config }
    public let backend: any Backend
    public let plan: ForwardPlan
    /// Positions of the executor's own (single-sequence) cache.
    public let nCtx: Int
    /// Most rows one pass of the plan covers; longer batches run in several passes.
    public let maxBatch: Int
    public var attention: AttentionKind
    /// How KV caches store keys and values: F16 where the backend's attention reads it, else F32.
    public let kvFormat: WeightFormat
    /// Bytes of weights uploaded to (or adopted by) the backend.
    public let weightBytes: Int
    /// Each layer's sliding window from the plan (0: global): caches keep a ring of window + maxBatch positions
    /// for those layers.
    public let layerWindows: [Int]

    /// The single-sequence API's cache (one slot of nCtx positions), made on first use.
    private var ownCache: KVCache?
    /// Logits of the last position fed through `forward(_ tokens:)`.
    private var lastLogits: [Float] = []
    /// The host copy of the head's logits (up to outputGroup rows, nVocab), kept between passes.
    private var logitsBuffer: [Float] = []

    /// Loads the weights of `architecture` from `source`, builds its plan and checks every op with `backend`.
    /// - Parameters:
    ///   - nCtx: positions of the single-sequence cache (at most the training context).
    ///   - maxBatch: rows per pass (prompt chunks).
    ///   - kvFormat: .f16 or .f32; nil picks F16 where the backend supports it.
    /// - Throws: `EngineError.unsupportedOp` naming the first op (and tensor) the backend cannot run.
    public init(architecture: any ModelArchitecture, source: any WeightSource, backend: any Backend, nCtx: Int,
                maxBatch: Int = 512, attention: AttentionKind = .fused, kvFormat: WeightFormat? = nil) throws {
        let c = architecture.config
        guard nCtx >= 1 else { throw EngineError.badModel(path: source.path, "context size must be positive") }
        guard nCtx <= c.nCtxTrain else { throw EngineError.contextOverflow(needed: nCtx, limit: c.nCtxTrain) }
        self.architecture = architecture
        self.backend = backend
        self.nCtx = nCtx
        self.maxBatch = max(1, min(maxBatch, nCtx))
        self.attention = attention
        let kv = kvFormat ?? (backend.supports(.attention, .f16) ? .f16 : .f32)
        guard kv == .f32 || (kv == .f16 && backend.supports(.attention, .f16)) else {
            throw BackendError.unsupported(op: .attention, format: kv, backend: backend.name)
        }
        self.kvFormat = kv
        // The logits of up to 32 rows at a time: (32, nVocab) floats, 33 MB for a 262,144-token vocabulary.
        let builder = PlanBuilder(config: c, source: source, backend: backend, nCtx: nCtx, maxBatch: self.maxBatch,
                                  outputGroup: min(32, self.maxBatch))
        try architecture.build(builder)
        plan = builder.plan
        weightBytes = builder.loader.uploadedBytes
        guard plan.logits != nil, plan.outputSource != nil else {
            throw EngineError.badModel(path: source.path, "the architecture's plan computes no logits")
        }
        var windows = Array(repeating: 0, count: c.nLayers)
        for case .attention(let layer, _, _, let a) in plan.body where windows.indices.contains(layer) {
            windows[layer] = a.window
        }
        layerWindows = windows
        // Refuse a cache larger than the machine rather than die in the allocator (a 16M-position --ctx).
        try KVCache.checkFits(slots: 1, layerRows: KVCache.layerRows(nCtx: nCtx, windows: windows,
                                                                     rowsPerForward: self.maxBatch),
                              width: c.kvDim, format: kv,
                              besides: self.maxBatch * (6 * c.nEmbd + 3 * c.nFF + 2 * c.qDim) * 4)
        try validate()
    }

    /// Asks the backend about every op of the plan, at the largest batch, with caches in kvFormat.
    private func validate() throws {
        let stand = try backend.allocate([1, config.kvDim], kvFormat, label: "kv_cache (validation)")
        var ops: [Op] = []
        for step in plan.body {
            switch step {
            case .op(let op): ops.append(op.with(rows: maxBatch))
            case .embedTokens(let out, let table), .embedPositions(let out, let table):
                ops.append(.embedding(out: out, table: table, tokens: []))
            case .rope(let r): ops.append(.rope(r))
            case .attention(_, let k, let v, var a):
                ops.append(.copyRows(dst: stand, dstRow: 0, src: k, srcRow: 0, rows: 1))
                ops.append(.copyRows(dst: stand, dstRow: 0, src: v, srcRow: 0, rows: 1))
                (a.kCache, a.vCache) = (stand, stand)
                ops.append(.attention(a))
                a.kind = a.kind == .fused ? .naive : .fused
                ops.append(.attention(a))
            }
        }
        ops += plan.head
        for op in ops where !backend.supports(op) {
            throw EngineError.unsupportedOp(op.description, backend: backend.name)
        }
    }

    // MARK: - Caches

    /// A cache for `slots` sequences of up to `nCtx` positions each, in this executor's KV format: sliding-window
    /// layers keep a ring of window + maxBatch positions, or (rings: false) all nCtx like the global ones.
    public func makeCache(slots: Int, nCtx: Int, rings: Bool = true) throws -> KVCache {
        guard nCtx <= config.nCtxTrain else { throw EngineError.contextOverflow(needed: nCtx, limit: config.nCtxTrain) }
        return try KVCache(backend: backend, slots: slots, nCtx: nCtx, nLayers: config.nLayers, width: config.kvDim,
                           format: kvFormat, windows: rings ? layerWindows : [], rowsPerForward: maxBatch)
    }

    private func singleCache() throws -> KVCache {
        if let ownCache { return ownCache }
        let cache = try makeCache(slots: 1, nCtx: nCtx)
        cache.claim(0)
        ownCache = cache
        return cache
    }

    // MARK: - One sequence

    /// Positions already in the single-sequence cache.
    public var position: Int { ownCache?.lengths[0] ?? 0 }

    /// Forgets the sequence: the next token goes to position 0.
    public func reset() { ownCache?.truncate(0, to: 0) }

    /// Drops cached positions from `newPosition` on (e.g. to reuse a shared prefix) and returns the position the
    /// sequence continues from: newPosition, or 0 when a sliding-window layer's ring no longer holds the window
    /// before it (the caller feeds the tokens from there again).
    @discardableResult
    public func rewind(to newPosition: Int) -> Int { ownCache?.truncate(0, to: newPosition) ?? 0 }

    /// Feeds `tokens` at the next positions and returns the logits (nVocab) of the last one.
    public func forward(_ tokens: [Int32]) throws -> [Float] {
        guard !tokens.isEmpty else { throw EngineError.emptyPrompt }
        guard position + tokens.count <= nCtx else {
            throw EngineError.contextOverflow(needed: position + tokens.count, limit: nCtx)
        }
        let cache = try singleCache()
        lastLogits = try forward([SequenceChunk(slot: 0, startPosition: position, tokens: tokens)], cache: cache)[0]
        return lastLogits
    }

    /// Feeds `tokens` at the next positions and returns the logits of every token from index `first` on, as
    /// (tokens.count - first, nVocab) floats, row-major (what perplexity scores).
    public func forward(_ tokens: [Int32], logitsFrom first: Int) throws -> [Float] {
        guard (0..<tokens.count).contains(first) else { throw EngineError.emptyPrompt }
        guard position + tokens.count <= nCtx else {
            throw EngineError.contextOverflow(needed: position + tokens.count, limit: nCtx)
        }
        let cache = try singleCache()
        let start = position
        var out: [Float] = []
        if first > 0 {
            _ = try forward([SequenceChunk(slot: 0, startPosition: start, tokens: Array(tokens[..<first]),
                                           logits: .none)], cache: cache)
        }
        out = try forward([SequenceChunk(slot: 0, startPosition: start + first, tokens: Array(tokens[first...]),
                                         logits: .all)], cache: cache)[0]
        lastLogits = Array(out.suffix(config.nVocab))
        return out
    }

    /// The logits of the last position fed through `forward(_ tokens:)` (nVocab).
    public func logits() throws -> [Float] { lastLogits }

    // MARK: - Many sequences

    /// One forward pass over rows of several sequences: each chunk's tokens go to its slot of `cache` at its
    /// positions (startPosition must not be past what the slot holds; positions from there on are replaced).
    /// - Returns: per chunk, the logits asked for: nVocab floats (.last), rows * nVocab (.all), or none.
    public func forward(_ batch: [SequenceChunk], cache: KVCache) throws -> [[Float]] {
        try check(batch, cache)
        // Cut the batch into passes of at most maxBatch rows (a long prompt chunk spans several passes).
        var results = batch.map { _ in [Float]() }
        var pass: [Segment] = []
        var passRows = 0
        for (i, chunk) in batch.enumerated() {
            var done = 0
            while done < chunk.tokens.count {
                let n = min(chunk.tokens.count - done, maxBatch - passRows)
                let end = done + n
                let wanted: Range<Int> =
                    switch chunk.logits {
                    case .none: 0..<0
                    case .last: end == chunk.tokens.count ? (n - 1)..<n : 0..<0
                    case .all: 0..<n
                    }
                pass.append(Segment(chunk: i, slot: chunk.slot, startPos: chunk.startPosition + done,
                                    tokens: Array(chunk.tokens[done..<end]), row: passRows, logitRows: wanted))
                passRows += n
                done = end
                if passRows == maxBatch {
                    try run(pass, cache: cache, into: &results)
                    (pass, passRows) = ([], 0)
                }
            }
        }
        if !pass.isEmpty { try run(pass, cache: cache, into: &results) }
        return results
    }

    /// Rows of one sequence within one pass.
    private struct Segment {
        var chunk: Int
        var slot: Int
        var startPos: Int
        var tokens: [Int32]
        /// First row in the pass.
        var row: Int
        /// Rows (relative to `row`) whose logits are wanted.
        var logitRows: Range<Int>
    }

    private func check(_ batch: [SequenceChunk], _ cache: KVCache) throws {
        guard cache.nLayers == config.nLayers, cache.width == config.kvDim else {
            throw EngineError.badCache("\(cache.nLayers) layers of width \(cache.width) for a model with "
                + "\(config.nLayers) layers of width \(config.kvDim)")
        }
        // a ring must hold the window plus every row one pass stores, and the windows must be the plan's
        for l in 0..<config.nLayers where cache.windows[l] != 0 || cache.layerRows[l] < cache.nCtx {
            guard cache.windows[l] == layerWindows[l], cache.rowsPerForward >= maxBatch else {
                throw EngineError.badCache("layer \(l) keeps a ring for window \(cache.windows[l]) and "
                    + "\(cache.rowsPerForward) rows per pass; the model's window is \(layerWindows[l]), its passes "
                    + "\(maxBatch) rows")
            }
        }
        var seen = Set<Int>()
        for chunk in batch {
            guard cache.isAllocated(chunk.slot) else { throw EngineError.badBatch("slot \(chunk.slot) is not allocated") }
            guard seen.insert(chunk.slot).inserted else {
                throw EngineError.badBatch("slot \(chunk.slot) appears twice in one batch")
            }
            guard !chunk.tokens.isEmpty else { throw EngineError.emptyPrompt }
            guard chunk.startPosition >= 0, chunk.startPosition <= cache.lengths[chunk.slot] else {
                throw EngineError.badBatch("slot \(chunk.slot) holds \(cache.lengths[chunk.slot]) positions; a chunk "
                    + "cannot start at \(chunk.startPosition)")
            }
            guard cache.canResume(chunk.slot, at: chunk.startPosition) else {
                throw EngineError.badBatch("slot \(chunk.slot) cannot go back to position \(chunk.startPosition): its "
                    + "sliding-window layers have overwritten the keys before it (feed the tokens from 0)")
            }
            let end = chunk.startPosition + chunk.tokens.count
            guard end <= cache.nCtx else { throw EngineError.contextOverflow(needed: end, limit: cache.nCtx) }
            for id in chunk.tokens where id < 0 || Int(id) >= config.nVocab {
                throw EngineError.invalidToken(id, vocab: config.nVocab)
            }
        }
    }

    /// One pass of the plan over `segments` (at most maxBatch rows in all).
    private func run(_ segments: [Segment], cache: KVCache, into results: inout [[Float]]) throws {
        let be = backend
        let rows = segments.reduce(0) { $0 + $1.tokens.count }
        // each row's position (segments follow each other from row 0)
        let positions = segments.flatMap { s in (s.startPos..<(s.startPos + s.tokens.count)).map { Int32($0) } }
        for step in plan.body {
            switch step {
            case .op(let op):
                try be.run(op.with(rows: rows))
            case .embedTokens(let out, let table):
                try be.run(.embedding(out: out, table: table, tokens: segments.flatMap(\.tokens)))
            case .embedPositions(let out, let table):
                try be.run(.embedding(out: out, table: table, tokens: positions))
            case .rope(var r):
                // one op over the rows of every sequence, each row at its own position
                if segments.count == 1 {
                    (r.row, r.rows, r.startPos) = (segments[0].row, rows, segments[0].startPos)
                } else {
                    (r.row, r.rows, r.positions) = (0, rows, positions)
                }
                try be.run(.rope(r))
            case .attention(let layer, let k, let v, var a):
                // every sequence's keys and values into its slot, then the attention of all of them in one op
                a.kind = attention
                var each: [Op.Attention] = []
                each.reserveCapacity(segments.count)
                for s in segments {
                    let n = s.tokens.count
                    try cache.store(s.slot, layer: layer, position: s.startPos, k: k, v: v, srcRow: s.row, count: n)
                    (a.kCache, a.vCache) = (cache.keys[s.slot][layer], cache.values[s.slot][layer])
                    (a.row, a.rows, a.startPos) = (s.row, n, s.startPos)
                    each.append(a)
                }
                try be.run(each.count == 1 ? .attention(each[0]) : .batchAttention(each))
            }
        }
        for s in segments { cache.setLength(s.slot, s.startPos + s.tokens.count) }
        try output(segments, into: &results)
    }

    /// The head of the plan (final norm, unembedding) on the rows whose logits are wanted, outputGroup at a time.
    private func output(_ segments: [Segment], into results: inout [[Float]]) throws {
        guard let source = plan.outputSource, let selected = plan.outputRows, let logits = plan.logits else { return }
        // (chunk, row in the pass) of every wanted row, in order
        let wanted = segments.flatMap { s in s.logitRows.map { (s.chunk, s.row + $0) } }
        let nVocab = logits.cols
        var start = 0
        while start < wanted.count {
            let group = wanted[start..<min(start + plan.outputGroup, wanted.count)]
            // the group's rows in runs of consecutive rows (a decode batch wants every row: one copy)
            var i = 0
            while i < group.count {
                var n = 1
                while i + n < group.count && group[group.startIndex + i + n].1 == group[group.startIndex + i].1 + n {
                    n += 1
                }
                try backend.run(.copyRows(dst: selected, dstRow: i, src: source, srcRow: group[group.startIndex + i].1,
                                          rows: n))
                i += n
            }
            for op in plan.head { try backend.run(op.with(rows: group.count)) }
            if logitsBuffer.count < group.count * nVocab {  // grown to the most rows asked for so far, not outputGroup:
                logitsBuffer = [Float](repeating: 0, count: group.count * nVocab)  // one row of Gemma's is 1 MiB
            }
            try logitsBuffer.withUnsafeMutableBufferPointer {
                try backend.read(logits, into: UnsafeMutableBufferPointer(rebasing: $0[..<(group.count * nVocab)]))
            }
            for (i, (chunk, _)) in group.enumerated() {
                results[chunk] += logitsBuffer[(i * nVocab)..<((i + 1) * nVocab)]
            }
            start += group.count
        }
    }
}
