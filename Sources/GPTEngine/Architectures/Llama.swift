// Llama: RMSNorm, rotary positions (llama.cpp's adjacent pairs), grouped-query attention, SwiGLU MLP, no biases
// (Llama 2, SmolLM2); Llama 3's RoPE frequency factors (rope_freqs.weight) where the file has them.
// A Mistral-style `llama.attention.sliding_window` key is not read, as llama.cpp's llama graph does not read it:
// every layer attends over all positions (Golden/tiny/llama3 carries the key and shows it).
// The whole model, top to bottom: hyper-parameters, tensors, forward pass (its two block halves are PlanBuilder's
// attentionBlock and gatedMLP, PlanBuilder+Blocks.swift).
import GGUF
import GPTCore

/// Reads `llama.*`: the common keys alone (ReadsCommonKeys).
public struct Llama: ReadsCommonKeys {
    public let config: ModelConfig

    public init(config: ModelConfig) { self.config = config }

    public func build(_ p: PlanBuilder) throws {
        let c = config
        // MARK: tensors: (rows, cols) = (N, K) of each product
        let tokenEmbedding = try p.tokenEmbedding()
        // blk.N.attn_norm, attn_q, attn_k, attn_v, attn_output; ffn_norm, ffn_gate, ffn_up, ffn_down
        let layers = try (0..<c.nLayers).map { i in (attention: try p.attentionWeights(layer: i),
                                                     mlp: try p.mlpWeights(layer: i)) }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        // Llama 3: each pair's rotation angle divided by its factor (one tensor for every layer)
        let ropeFactors = try p.optionalWeight("rope_freqs.weight", [c.headDim / 2])
        // the unembedding; the token embedding itself when the model ties them
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations, (B, width) for a batch of B rows; projections reuse x_norm, SwiGLU runs in place
        let a = try p.decoderActivations(compact: true)

        // MARK: forward pass
        // token embedding
        p.embedTokens(a.x, table: tokenEmbedding)
        for (l, layer) in layers.enumerated() {
            // attention norm; query, key, value projections; rotary embedding of queries and keys (adjacent
            // pairs, Llama 3's factors); keys and values into the cache, causal grouped-query attention over it;
            // output projection; residual connection
            p.attentionBlock(layer: l, layer.attention, a,
                             rotary: .init(.adjacent, freqBase: c.ropeFreqBase, factors: ropeFactors))
            // MLP norm, then SwiGLU: down(silu(gate(x)) * up(x)); residual connection
            p.gatedMLP(layer.mlp, a, .silu)
        }
        // final norm of the rows whose logits are wanted, then the unembedding
        try p.outputHead(a.x, norm: outputNorm, unembedding: output)
    }

    /// Llama 3's rope_freqs (headDim / 2) are counted where the file has them.
    public func parameterCount(has: (String) -> Bool) throws -> ParameterCount {
        try config.decoderParameterCount(tied: !has("output.weight"))
            .adding("RoPE frequency factors", has("rope_freqs.weight") ? config.headDim / 2 : 0)
    }
}

extension ArchitectureEntry {
    public static let llama = ArchitectureEntry(name: "llama") { try Llama($0) }
}
