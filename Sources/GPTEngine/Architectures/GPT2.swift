// GPT2: LayerNorm with bias, learned position embeddings, a fused QKV projection, GELU MLP, biases on every
// projection (GPT-2, GPT-3). The whole model, top to bottom: hyper-parameters, tensors, forward pass.
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
        // MARK: tensors
        let tokenEmbedding = try p.tokenEmbedding()
        let positionEmbedding = try p.weight("position_embd.weight", [c.nCtxTrain, c.nEmbd], for: [.embedding])
        struct Layer {
            var attnNorm, attnNormBias, wq, wk, wv, bq, bk, bv, wo, bo: any DeviceTensor
            var ffnNorm, ffnNormBias, wUp, bUp, wDown, bDown: any DeviceTensor
        }
        let layers = try (0..<c.nLayers).map { i in
            let b = "blk.\(i)."
            // The fused QKV projection (3*nEmbd, nEmbd) is three contiguous row blocks: split at load.
            let qkv = try p.weight(b + "attn_qkv.weight", [3 * c.nEmbd, c.nEmbd], split: [c.nEmbd, c.nEmbd, c.nEmbd])
            let qkvBias = try p.weight(b + "attn_qkv.bias", [3 * c.nEmbd], split: [c.nEmbd, c.nEmbd, c.nEmbd])
            return Layer(
                attnNorm: try p.weight(b + "attn_norm.weight", [c.nEmbd]),
                attnNormBias: try p.weight(b + "attn_norm.bias", [c.nEmbd]),
                wq: qkv[0], wk: qkv[1], wv: qkv[2], bq: qkvBias[0], bk: qkvBias[1], bv: qkvBias[2],
                wo: try p.weight(b + "attn_output.weight", [c.nEmbd, c.nEmbd]),
                bo: try p.weight(b + "attn_output.bias", [c.nEmbd]),
                ffnNorm: try p.weight(b + "ffn_norm.weight", [c.nEmbd]),
                ffnNormBias: try p.weight(b + "ffn_norm.bias", [c.nEmbd]),
                wUp: try p.weight(b + "ffn_up.weight", [c.nFF, c.nEmbd]),
                bUp: try p.weight(b + "ffn_up.bias", [c.nFF]),
                wDown: try p.weight(b + "ffn_down.weight", [c.nEmbd, c.nFF]),
                bDown: try p.weight(b + "ffn_down.bias", [c.nEmbd]))
        }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let outputNormBias = try p.weight("output_norm.bias", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations
        let x = try p.activation("x", width: c.nEmbd)  // residual stream
        let pos = try p.activation("pos", width: c.nEmbd)
        let xn = try p.activation("x_norm", width: c.nEmbd)
        let q = try p.activation("q", width: c.nEmbd)
        let k = try p.activation("k", width: c.kvDim)
        let v = try p.activation("v", width: c.kvDim)
        let att = try p.activation("attn", width: c.nEmbd)
        let proj = try p.activation("proj", width: c.nEmbd)
        let up = try p.activation("ffn_up", width: c.nFF)
        let hidden = try p.activation("ffn_hidden", width: c.nFF)

        // MARK: forward pass
        // token embedding plus the learned position embedding
        p.embedTokens(x, table: tokenEmbedding)
        p.embedPositions(pos, table: positionEmbedding)
        p.add(x, x, pos)
        for (l, layer) in layers.enumerated() {
            // attention norm
            p.layerNorm(xn, x, layer.attnNorm, layer.attnNormBias, eps: c.normEps)
            // query, key, value projections with their biases
            p.matmul([q, k, v], xn, [layer.wq, layer.wk, layer.wv])
            p.addBias(q, layer.bq)
            p.addBias(k, layer.bk)
            p.addBias(v, layer.bv)
            // keys and values into the cache; causal attention over it
            p.attention(layer: l, out: att, q: q, k: k, v: v, heads: c.nHeads, kvHeads: c.nKVHeads,
                        headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot())
            // output projection and residual connection
            p.matmul(proj, att, layer.wo)
            p.addBias(proj, layer.bo)
            p.add(x, x, proj)
            // MLP norm, then down(gelu(up(x) + b)) + b
            p.layerNorm(xn, x, layer.ffnNorm, layer.ffnNormBias, eps: c.normEps)
            p.matmul(up, xn, layer.wUp)
            p.addBias(up, layer.bUp)
            p.gelu(hidden, up)
            p.matmul(proj, hidden, layer.wDown)
            p.addBias(proj, layer.bDown)
            // residual connection
            p.add(x, x, proj)
        }
        // final norm of the rows whose logits are wanted, then the unembedding
        try p.outputHead(x, norm: outputNorm, normBias: outputNormBias, unembedding: output)
    }

    public func parameterCount(has: (String) -> Bool) throws -> ParameterCount {
        try config.decoderParameterCount(tied: !has("output.weight"), gated: false, biases: true,
                                         learnedPositions: true)
    }
}

extension ArchitectureEntry {
    public static let gpt2 = ArchitectureEntry(name: "gpt2") { try GPT2($0) }
}
