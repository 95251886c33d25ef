// ParameterCount: the weights of a decoder transformer by group, in the form of the 3Blue1Brown lessons
// (embedding; key, query, value and output; up and down; unembedding), plus what that count leaves out.

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
    public init(nLayers: Int, nEmbd: Int, nFF: Int, nHeads: Int, nKVHeads: Int, nVocab: Int, nCtx: Int,
                gated: Bool, tied: Bool, biases: Bool, learnedPositions: Bool) {
        let headDim = nEmbd / nHeads
        let kv = nKVHeads * headDim
        let l = nLayers
        var g: [ParameterGroup] = [
            ParameterGroup(name: "embedding", count: nVocab * nEmbd, matrices: 1),
            ParameterGroup(name: "key", count: l * nEmbd * kv, matrices: l * nKVHeads),
            ParameterGroup(name: "query", count: l * nEmbd * nEmbd, matrices: l * nHeads),
            ParameterGroup(name: "value", count: l * nEmbd * kv, matrices: l * nKVHeads),
            ParameterGroup(name: "output", count: l * nEmbd * nEmbd, matrices: l),
        ]
        if gated { g.append(ParameterGroup(name: "gate", count: l * nEmbd * nFF, matrices: l)) }
        g.append(ParameterGroup(name: "up", count: l * nEmbd * nFF, matrices: l))
        g.append(ParameterGroup(name: "down", count: l * nFF * nEmbd, matrices: l))
        g.append(ParameterGroup(name: "unembedding", count: tied ? 0 : nVocab * nEmbd, matrices: tied ? 0 : 1))
        groups = g
        let norms = 2 * l + 1
        var left = [ParameterGroup(name: "norm gains", count: norms * nEmbd, matrices: 0)]
        if biases {
            left.append(ParameterGroup(name: "norm biases", count: norms * nEmbd, matrices: 0))
            left.append(ParameterGroup(
                name: "projection biases", count: l * (nEmbd + 2 * kv + nEmbd + nFF + nEmbd), matrices: 0))
        }
        if learnedPositions { left.append(ParameterGroup(name: "position embedding", count: nCtx * nEmbd, matrices: 0)) }
        leftOut = left
    }

    /// Named shapes for `gpt params --preset`.
    public static func preset(_ name: String) -> ParameterCount? {
        switch name.lowercased() {
        case "gpt3", "gpt-3":
            // GPT-3 175B (Brown et al. 2020, table 2.1): 96 layers, d = 12288, 96 heads, 50257 tokens, 2048 ctx
            ParameterCount(nLayers: 96, nEmbd: 12288, nFF: 4 * 12288, nHeads: 96, nKVHeads: 96, nVocab: 50257,
                           nCtx: 2048, gated: false, tied: false, biases: true, learnedPositions: true)
        case "gpt2", "gpt-2":
            ParameterCount(nLayers: 12, nEmbd: 768, nFF: 3072, nHeads: 12, nKVHeads: 12, nVocab: 50257, nCtx: 1024,
                           gated: false, tied: true, biases: true, learnedPositions: true)
        case "gpt2-xl":
            ParameterCount(nLayers: 48, nEmbd: 1600, nFF: 6400, nHeads: 25, nKVHeads: 25, nVocab: 50257, nCtx: 1024,
                           gated: false, tied: true, biases: true, learnedPositions: true)
        case "smollm2-135m":
            ParameterCount(nLayers: 30, nEmbd: 576, nFF: 1536, nHeads: 9, nKVHeads: 3, nVocab: 49152, nCtx: 8192,
                           gated: true, tied: true, biases: false, learnedPositions: false)
        default: nil
        }
    }

    public static let presets = ["gpt3", "gpt2", "gpt2-xl", "smollm2-135m"]
}

extension ModelConfig {
    /// The parameter count of this configuration.
    public func parameterCount(tied: Bool) -> ParameterCount {
        ParameterCount(nLayers: nLayers, nEmbd: nEmbd, nFF: nFF, nHeads: nHeads, nKVHeads: nKVHeads, nVocab: nVocab,
                       nCtx: nCtxTrain, gated: architecture == .llama, tied: tied, biases: architecture == .gpt2,
                       learnedPositions: architecture == .gpt2)
    }
}
