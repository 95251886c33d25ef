// GPT2: LayerNorm with bias, learned position embeddings, a fused QKV projection, GELU MLP, biases on every
// projection (GPT-2, GPT-3). The whole model, top to bottom: hyper-parameters, tensors, forward pass (its two block
// halves are PlanBuilder's attentionBlock and geluMLP, PlanBuilder+Blocks.swift).
import GGUF
import GPTCore

public struct GPT2: ModelArchitecture {
    public let config: ModelConfig

    public init(config: ModelConfig) { self.config = config }

    /// Positions come from a learned table, not rotations.
    public var rotary: Bool { false }

    /// Reads `gpt2.*` hyper-parameters (block_count, embedding_length, attention.head_count, context_length,
    /// attention.layer_norm_epsilon, ...).
    public init(_ file: GGUFFile) throws {
        config = try .checked(ModelConfig(try ModelHyperParameters(file)), file: file, rotary: false)
    }

    public func build(_ p: PlanBuilder) throws {
        let c = config
        // MARK: tensors: (rows, cols) = (N, K) of each product
        let tokenEmbedding = try p.tokenEmbedding()
        let positionEmbedding = try p.weight("position_embd.weight", [c.nCtxTrain, c.nEmbd], for: [.embedding])
        // blk.N.attn_norm (+ bias), attn_qkv (+ bias; rows q | k | v, split at load), attn_output (+ bias);
        // ffn_norm (+ bias), ffn_up (+ bias), ffn_down (+ bias)
        let layers = try (0..<c.nLayers).map { i in
            (attention: try p.attentionWeights(layer: i, fusedQKV: true, biases: true, layerNorm: true,
                                               outputBias: true),
             mlp: try p.mlpWeights(layer: i, gated: false, biases: true, layerNorm: true))
        }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let outputNormBias = try p.weight("output_norm.bias", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations, (B, width) for a batch of B rows; projections reuse x_norm, GELU writes into ffn_gate
        let a = try p.decoderActivations(compact: true)

        // MARK: forward pass
        // token embedding plus the learned position embedding (x_norm is free until the first block)
        p.embedTokens(a.x, table: tokenEmbedding)
        p.embedPositions(a.xn, table: positionEmbedding)
        p.add(a.x, a.x, a.xn)
        for (l, layer) in layers.enumerated() {
            // attention LayerNorm; query, key, value projections with their biases; keys and values into the
            // cache, causal attention over it (no rotation: the positions are in x); output projection with its
            // bias; residual connection
            p.attentionBlock(layer: l, layer.attention, a, rotary: nil)
            // MLP LayerNorm, then down(gelu(up(x) + b)) + b; residual connection
            p.geluMLP(layer.mlp, a)
        }
        // final LayerNorm of the rows whose logits are wanted, then the unembedding
        try p.outputHead(a.x, norm: outputNorm, normBias: outputNormBias, unembedding: output)
    }

    public func parameterCount(has: (String) -> Bool) throws -> ParameterCount {
        try config.decoderParameterCount(tied: !has("output.weight"), gated: false, biases: true,
                                         learnedPositions: true)
    }
}

extension ArchitectureEntry {
    public static let gpt2 = ArchitectureEntry(name: "gpt2") { try GPT2($0) }
}
