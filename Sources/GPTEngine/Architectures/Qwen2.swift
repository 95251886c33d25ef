// Qwen2: llama's block (RMSNorm, grouped-query attention, SwiGLU MLP) with biases on the query, key and value
// projections and NeoX RoPE (the two halves of each head rotate together), as llama.cpp's `qwen2` graph runs it.
// The unembedding is output.weight, or the token embedding when the file has none; output.bias is optional.
// The whole model, top to bottom: hyper-parameters, tensors, forward pass (PlanBuilder+Blocks.swift holds the
// block halves).
import GGUF
import GPTCore

/// Reads `qwen2.*`: the common keys alone (ReadsCommonKeys).
public struct Qwen2: ReadsCommonKeys {
    public let config: ModelConfig

    public init(config: ModelConfig) { self.config = config }

    public func build(_ p: PlanBuilder) throws {
        let c = config
        // MARK: tensors: (rows, cols) = (N, K) of each product
        let tokenEmbedding = try p.tokenEmbedding()
        // llama's tensors plus blk.N.attn_q.bias, attn_k.bias, attn_v.bias
        let layers = try (0..<c.nLayers).map { i in (attention: try p.attentionWeights(layer: i, biases: true),
                                                     mlp: try p.mlpWeights(layer: i)) }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding
        let outputBias = try p.optionalWeight("output.bias", [c.nVocab])

        // MARK: activations, (B, width) for a batch of B rows
        let a = try p.decoderActivations()

        // MARK: forward pass
        p.embedTokens(a.x, table: tokenEmbedding)
        for (l, layer) in layers.enumerated() {
            // attention norm; query, key, value projections, each with its bias; rotary embedding, NeoX halves;
            // keys and values into the cache, causal grouped-query attention; output projection (no bias);
            // residual connection
            p.attentionBlock(layer: l, layer.attention, a, rotary: .init(.neox, freqBase: c.ropeFreqBase))
            // MLP norm, SwiGLU: down(silu(gate(x)) * up(x)), residual connection
            p.gatedMLP(layer.mlp, a, .silu)
        }
        // final norm of the rows whose logits are wanted, the unembedding, its bias if any
        try p.outputHead(a.x, norm: outputNorm, unembedding: output, bias: outputBias)
    }

    /// The query, key and value biases, and output.bias where the file has it, are counted too.
    public func parameterCount(has: (String) -> Bool) throws -> ParameterCount {
        let c = config
        return try c.decoderParameterCount(tied: !has("output.weight"))
            .adding("query/key/value biases", c.nLayers, c.qDim + 2 * c.kvDim)
            .adding("unembedding bias", has("output.bias") ? c.nVocab : 0)
    }
}

extension ArchitectureEntry {
    public static let qwen2 = ArchitectureEntry(name: "qwen2") { try Qwen2($0) }
}
