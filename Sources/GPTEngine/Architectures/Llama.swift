// Llama: RMSNorm, rotary positions (llama.cpp's adjacent pairs), grouped-query attention, SwiGLU MLP, no biases
// (Llama 2, SmolLM2); Llama 3's RoPE frequency factors (rope_freqs.weight) where the file has them.
// A Mistral-style `llama.attention.sliding_window` key is not read, as llama.cpp's llama graph does not read it:
// every layer attends over all positions (Golden/tiny/llama3 carries the key and shows it).
// The whole model, top to bottom: hyper-parameters, tensors, forward pass.
import GGUF
import GPTCore

public struct Llama: ModelArchitecture {
    public let config: ModelConfig

    public init(config: ModelConfig) { self.config = config }

    /// Reads `llama.*` hyper-parameters (block_count, embedding_length, attention.head_count[_kv], rope.freq_base,
    /// attention.layer_norm_rms_epsilon, ...).
    public init(_ file: GGUFFile) throws {
        config = try .checked(ModelConfig(try ModelHyperParameters(file)), file: file)
    }

    public func build(_ p: PlanBuilder) throws {
        let c = config
        // MARK: tensors: (rows, cols) = (N, K) of each product
        let tokenEmbedding = try p.tokenEmbedding()
        struct Layer {
            var attnNorm, wq, wk, wv, wo, ffnNorm, wGate, wUp, wDown: any DeviceTensor
        }
        let layers = try (0..<c.nLayers).map { i in
            let b = "blk.\(i)."
            return Layer(
                attnNorm: try p.weight(b + "attn_norm.weight", [c.nEmbd]),
                wq: try p.weight(b + "attn_q.weight", [c.qDim, c.nEmbd]),
                wk: try p.weight(b + "attn_k.weight", [c.kvDim, c.nEmbd]),
                wv: try p.weight(b + "attn_v.weight", [c.kvDim, c.nEmbd]),
                wo: try p.weight(b + "attn_output.weight", [c.nEmbd, c.qDim]),
                ffnNorm: try p.weight(b + "ffn_norm.weight", [c.nEmbd]),
                wGate: try p.weight(b + "ffn_gate.weight", [c.nFF, c.nEmbd]),
                wUp: try p.weight(b + "ffn_up.weight", [c.nFF, c.nEmbd]),
                wDown: try p.weight(b + "ffn_down.weight", [c.nEmbd, c.nFF]))
        }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        // Llama 3: each pair's rotation angle divided by its factor (one tensor for every layer)
        let ropeFactors = try p.optionalWeight("rope_freqs.weight", [c.headDim / 2])
        // the unembedding; the token embedding itself when the model ties them
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations, (B, width) for a batch of B rows
        let x = try p.activation("x", width: c.nEmbd)  // residual stream
        let xn = try p.activation("x_norm", width: c.nEmbd)
        let q = try p.activation("q", width: c.qDim)
        let k = try p.activation("k", width: c.kvDim)
        let v = try p.activation("v", width: c.kvDim)
        let att = try p.activation("attn", width: c.qDim)
        let gate = try p.activation("ffn_gate", width: c.nFF)  // then silu(gate) * up, in place
        let up = try p.activation("ffn_up", width: c.nFF)
        // x_norm is dead after each block's first product, so it also holds the projections added to x
        let proj = xn

        // MARK: forward pass
        // token embedding
        p.embedTokens(x, table: tokenEmbedding)
        for (l, layer) in layers.enumerated() {
            // attention norm
            p.rmsNorm(xn, x, layer.attnNorm, eps: c.normEps)
            // query, key, value projections
            p.matmul([q, k, v], xn, [layer.wq, layer.wk, layer.wv])
            // rotary position embedding of queries and keys
            p.rope(q, heads: c.nHeads, headDim: c.headDim, freqBase: c.ropeFreqBase, style: .adjacent,
                   factors: ropeFactors)
            p.rope(k, heads: c.nKVHeads, headDim: c.headDim, freqBase: c.ropeFreqBase, style: .adjacent,
                   factors: ropeFactors)
            // keys and values into the cache; causal attention over it (grouped-query: nHeads share nKVHeads)
            p.attention(layer: l, out: att, q: q, k: k, v: v, heads: c.nHeads, kvHeads: c.nKVHeads,
                        headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot())
            // output projection and residual connection
            p.matmul(proj, att, layer.wo)
            p.add(x, x, proj)
            // MLP norm, then SwiGLU: down(silu(gate(x)) * up(x))
            p.rmsNorm(xn, x, layer.ffnNorm, eps: c.normEps)
            p.matmul([gate, up], xn, [layer.wGate, layer.wUp])
            p.swiglu(gate, gate: gate, up: up)
            p.matmul(proj, gate, layer.wDown)
            // residual connection
            p.add(x, x, proj)
        }
        // final norm of the rows whose logits are wanted, then the unembedding
        let last = try p.outputRows(of: x)
        let lastNorm = try p.activation("output_norm", width: c.nEmbd)
        p.rmsNorm(lastNorm, last, outputNorm, eps: c.normEps)
        try p.logits(lastNorm, output)
    }

    public func parameterCount(tied: Bool) throws -> ParameterCount {
        let c = config
        return try ParameterCount(nLayers: c.nLayers, nEmbd: c.nEmbd, nFF: c.nFF, nHeads: c.nHeads, nKVHeads: c.nKVHeads,
                              nVocab: c.nVocab, nCtx: c.nCtxTrain, gated: true, tied: tied, biases: false,
                              learnedPositions: false)
    }
}

extension ArchitectureEntry {
    public static let llama = ArchitectureEntry(name: "llama") { try Llama($0) }
}
