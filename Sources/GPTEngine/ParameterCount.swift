// ParameterCount: the weights of a decoder transformer by group, in the form of the 3Blue1Brown lessons
// (embedding; key, query, value and output; up and down; unembedding), plus what that count leaves out.
// Every product is overflow-checked: the counts come from flags and files.
import GPTCore

public struct ParameterGroup: Sendable, Equatable {
    public var name: String
    /// Weights in the group.
    public var count: Int
    /// Matrices in the group (per-head query/key/value matrices counted one by one, as the lessons do).
    public var matrices: Int
}

public struct ParameterCount: Sendable {
    public var groups: [ParameterGroup]
    /// Weights outside the lessons' count: biases, norm gains, learned position embeddings.
    public var leftOut: [ParameterGroup]

    public var total: Int { groups.reduce(0) { $0 + $1.count } }
    public var matrices: Int { groups.reduce(0) { $0 + $1.matrices } }
    public var leftOutTotal: Int { leftOut.reduce(0) { $0 + $1.count } }

    /// - Parameters:
    ///   - gated: the MLP has a gate matrix (SwiGLU) besides up and down.
    ///   - tied: the unembedding is the embedding matrix itself (counted once, under embedding).
    ///   - biases: projections and norms carry biases (GPT-2/3).
    ///   - learnedPositions: a (nCtx, nEmbd) position embedding (GPT-2/3).
    ///   - headDim: the head size where the model sets it apart from nEmbd / nHeads (Gemma 3: 256 with nEmbd 640
    ///     over 4 heads); the query, key, value and output matrices are then nHeads * headDim (nKVHeads * headDim)
    ///   wide. nil: nEmbd / nHeads.
    /// - Throws: `EngineError.invalidArgument` for a count that is not positive (nKVHeads must divide nHeads,
    ///   nHeads must divide nEmbd unless headDim is given), or one whose total overflows a 64-bit integer.
    public init(nLayers: Int, nEmbd: Int, nFF: Int, nHeads: Int, nKVHeads: Int, nVocab: Int, nCtx: Int,
                gated: Bool, tied: Bool, biases: Bool, learnedPositions: Bool, headDim: Int? = nil)
        throws(EngineError)
    {
        for (name, value) in [("layers", nLayers), ("embedding width", nEmbd), ("MLP width", nFF), ("heads", nHeads),
                              ("key/value heads", nKVHeads), ("vocabulary", nVocab), ("context", nCtx),
                              ("head size", headDim ?? 1)]
        where value <= 0 {
            throw .invalidArgument("parameter count: \(name) \(value) is not positive")
        }
        guard headDim != nil || nEmbd % nHeads == 0, nHeads % nKVHeads == 0 else {
            throw .invalidArgument(
                "parameter count: \(nHeads) heads must divide the width \(nEmbd) and be a multiple of \(nKVHeads) "
                    + "key/value heads")
        }
        do {
            try self.init(checked: nLayers, nEmbd, nFF, nHeads, nKVHeads, headDim ?? nEmbd / nHeads, nVocab, nCtx,
                          gated, tied, biases, learnedPositions)
        } catch {
            throw .invalidArgument("parameter count: \(error)")
        }
    }

    /// Every product and sum overflow-checked (`gpt params --layers 1000000000000 ...` must not trap).
    private init(checked l: Int, _ nEmbd: Int, _ nFF: Int, _ nHeads: Int, _ nKVHeads: Int, _ headDim: Int,
                 _ nVocab: Int, _ nCtx: Int, _ gated: Bool, _ tied: Bool, _ biases: Bool, _ learnedPositions: Bool)
        throws(SizeOverflow)
    {
        let kv = try CheckedSize.product([nKVHeads, headDim], "key/value width")
        let qDim = try CheckedSize.product([nHeads, headDim], "query width")
        func product(_ what: String, _ factors: Int...) throws(SizeOverflow) -> Int {
            try CheckedSize.product(factors, what)
        }
        var g: [ParameterGroup] = [
            ParameterGroup(name: "embedding", count: try product("embedding", nVocab, nEmbd), matrices: 1),
            ParameterGroup(name: "key", count: try product("key", l, nEmbd, kv), matrices: try product("key", l, nKVHeads)),
            ParameterGroup(name: "query", count: try product("query", l, nEmbd, qDim), matrices: try product("query", l, nHeads)),
            ParameterGroup(name: "value", count: try product("value", l, nEmbd, kv), matrices: try product("value", l, nKVHeads)),
            ParameterGroup(name: "output", count: try product("output", l, qDim, nEmbd), matrices: l),
        ]
        let mlp = try product("MLP", l, nEmbd, nFF)
        if gated { g.append(ParameterGroup(name: "gate", count: mlp, matrices: l)) }
        g.append(ParameterGroup(name: "up", count: mlp, matrices: l))
        g.append(ParameterGroup(name: "down", count: mlp, matrices: l))
        g.append(ParameterGroup(name: "unembedding", count: tied ? 0 : try product("unembedding", nVocab, nEmbd),
                                matrices: tied ? 0 : 1))
        let norms = try CheckedSize.sum([l, l, 1], "norms")
        var left = [ParameterGroup(name: "norm gains", count: try product("norm gains", norms, nEmbd), matrices: 0)]
        if biases {
            left.append(ParameterGroup(name: "norm biases", count: try product("norm biases", norms, nEmbd), matrices: 0))
            let perLayer = try CheckedSize.sum([qDim, kv, kv, nEmbd, nFF, nEmbd], "projection biases per layer")
            left.append(ParameterGroup(
                name: "projection biases", count: try product("projection biases", l, perLayer), matrices: 0))
        }
        if learnedPositions {
            left.append(ParameterGroup(name: "position embedding", count: try product("positions", nCtx, nEmbd),
                                       matrices: 0))
        }
        // The totals are computed on demand: check them once here.
        _ = try CheckedSize.sum(g.map(\.count), "total")
        _ = try CheckedSize.sum(g.map(\.matrices), "matrices")
        let leftTotal = try CheckedSize.sum(left.map(\.count), "left-out total")
        _ = try CheckedSize.sum([g.reduce(0) { $0 + $1.count }, leftTotal], "total with the left-out weights")
        groups = g
        leftOut = left
    }

    /// Named shapes for `gpt params --preset`.
    public static func preset(_ name: String) -> ParameterCount? {
        // Constants that fit easily in 64 bits: `try!` cannot fail.
        switch name.lowercased() {
        case "gpt3", "gpt-3":
            // GPT-3 175B (Brown et al. 2020, table 2.1): 96 layers, d = 12288, 96 heads, 50257 tokens, 2048 ctx
            try! ParameterCount(nLayers: 96, nEmbd: 12288, nFF: 4 * 12288, nHeads: 96, nKVHeads: 96, nVocab: 50257,
                           nCtx: 2048, gated: false, tied: false, biases: true, learnedPositions: true)
        case "gpt2", "gpt-2":
            try! ParameterCount(nLayers: 12, nEmbd: 768, nFF: 3072, nHeads: 12, nKVHeads: 12, nVocab: 50257, nCtx: 1024,
                           gated: false, tied: true, biases: true, learnedPositions: true)
        case "gpt2-xl":
            try! ParameterCount(nLayers: 48, nEmbd: 1600, nFF: 6400, nHeads: 25, nKVHeads: 25, nVocab: 50257, nCtx: 1024,
                           gated: false, tied: true, biases: true, learnedPositions: true)
        case "smollm2-135m":
            try! ParameterCount(nLayers: 30, nEmbd: 576, nFF: 1536, nHeads: 9, nKVHeads: 3, nVocab: 49152, nCtx: 8192,
                           gated: true, tied: true, biases: false, learnedPositions: false)
        default: nil
        }
    }

    public static let presets = ["gpt3", "gpt2", "gpt2-xl", "smollm2-135m"]

    /// This count with Π `factors` more weights left out under `name`: an architecture's tensors beyond the
    /// lessons' and the norms before each block half (biases, post-norms, per-head norms, RoPE factors). A product
    /// of 0 adds no group.
    /// - Throws: `EngineError.invalidArgument` where the product or the new total overflows a 64-bit integer.
    public func adding(_ name: String, _ factors: Int...) throws(EngineError) -> ParameterCount {
        var count = self
        do {
            let n = try CheckedSize.product(factors, name)
            _ = try CheckedSize.sum([total, leftOutTotal, n], "total with \(name)")
            if n > 0 { count.leftOut.append(ParameterGroup(name: name, count: n, matrices: 0)) }
        } catch {
            throw .invalidArgument("parameter count: \(error)")
        }
        return count
    }
}

extension ModelConfig {
    /// The count of a decoder with these numbers (ParameterCount.init's flags; the head size is config's own).
    public func decoderParameterCount(tied: Bool, gated: Bool = true, biases: Bool = false,
                                      learnedPositions: Bool = false) throws(EngineError) -> ParameterCount {
        try ParameterCount(nLayers: nLayers, nEmbd: nEmbd, nFF: nFF, nHeads: nHeads, nKVHeads: nKVHeads,
                           nVocab: nVocab, nCtx: nCtxTrain, gated: gated, tied: tied, biases: biases,
                           learnedPositions: learnedPositions, headDim: headDim)
    }
}
