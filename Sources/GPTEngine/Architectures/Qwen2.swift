// Qwen2: llama's block (RMSNorm, grouped-query attention, SwiGLU MLP) with biases on the query, key and value
// projections and NeoX RoPE (the two halves of each head rotate together), as llama.cpp's `qwen2` graph runs it.
// The unembedding is output.weight, or the token embedding when the file has none; output.bias is optional.
// The whole model, top to bottom: hyper-parameters, tensors, forward pass.
import GGUF
import GPTCore

public struct Qwen2: ModelArchitecture {
    public let config: ModelConfig

    public init(config: ModelConfig) { self.config = config }

    /// Reads `qwen2.*` hyper-parameters (the common keys: block_count, embedding_length, attention.head_count[_kv],
    /// rope.freq_base, attention.layer_norm_rms_epsilon, ...).
    public init(_ file: GGUFFile) throws {
        config = try .checked(ModelConfig(try ModelHyperParameters(file)), file: file)
    }

    public func build(_ p: PlanBuilder) throws {
        let c = config
        // MARK: tensors: (rows, cols) = (N, K) of each product
        let tokenEmbedding = try p.tokenEmbedding()
        struct Layer {
            var attnNorm, wq, bq, wk, bk, wv, bv, wo, ffnNorm, wGate, wUp, wDown: any DeviceTensor
        }
        let layers = try (0..<c.nLayers).map { i in
            let b = "blk.\(i)."
            return Layer(
                attnNorm: try p.weight(b + "attn_norm.weight", [c.nEmbd]),
                wq: try p.weight(b + "attn_q.weight", [c.qDim, c.nEmbd]),
                bq: try p.weight(b + "attn_q.bias", [c.qDim]),
                wk: try p.weight(b + "attn_k.weight", [c.kvDim, c.nEmbd]),
                bk: try p.weight(b + "attn_k.bias", [c.kvDim]),
                wv: try p.weight(b + "attn_v.weight", [c.kvDim, c.nEmbd]),
                bv: try p.weight(b + "attn_v.bias", [c.kvDim]),
                wo: try p.weight(b + "attn_output.weight", [c.nEmbd, c.qDim]),
                ffnNorm: try p.weight(b + "ffn_norm.weight", [c.nEmbd]),
                wGate: try p.weight(b + "ffn_gate.weight", [c.nFF, c.nEmbd]),
                wUp: try p.weight(b + "ffn_up.weight", [c.nFF, c.nEmbd]),
                wDown: try p.weight(b + "ffn_down.weight", [c.nEmbd, c.nFF]))
        }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding
        let outputBias = try p.optionalWeight("output.bias", [c.nVocab])

        // MARK: activations, (B, width) for a batch of B rows
        let a = try p.decoderActivations()
        let (x, xn, q, k, v, att, proj) = (a.x, a.xn, a.q, a.k, a.v, a.att, a.proj)
        let (gate, up, hidden) = (a.gate, a.up, a.hidden)

        // MARK: forward pass
        p.embedTokens(x, table: tokenEmbedding)
        for (l, layer) in layers.enumerated() {
            // attention norm; query, key, value projections, each with its bias
            p.rmsNorm(xn, x, layer.attnNorm, eps: c.normEps)
            p.matmul([q, k, v], xn, [layer.wq, layer.wk, layer.wv])
            p.addBias(q, layer.bq)
            p.addBias(k, layer.bk)
            p.addBias(v, layer.bv)
            // rotary position embedding, NeoX halves
            p.rope(q, heads: c.nHeads, headDim: c.headDim, freqBase: c.ropeFreqBase, style: .neox)
            p.rope(k, heads: c.nKVHeads, headDim: c.headDim, freqBase: c.ropeFreqBase, style: .neox)
            // keys and values into the cache; causal grouped-query attention over it
            p.attention(layer: l, out: att, q: q, k: k, v: v, heads: c.nHeads, kvHeads: c.nKVHeads,
                        headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot())
            // output projection (no bias) and residual connection
            p.matmul(proj, att, layer.wo)
            p.add(x, x, proj)
            // MLP norm, SwiGLU: down(silu(gate(x)) * up(x)), residual connection
            p.rmsNorm(xn, x, layer.ffnNorm, eps: c.normEps)
            p.matmul([gate, up], xn, [layer.wGate, layer.wUp])
            p.swiglu(hidden, gate: gate, up: up)
            p.matmul(proj, hidden, layer.wDown)
            p.add(x, x, proj)
        }
        // final norm of the rows whose logits are wanted, the unembedding, its bias if any
        let last = try p.outputRows(of: x)
        let lastNorm = try p.activation("output_norm", width: c.nEmbd)
        p.rmsNorm(lastNorm, last, outputNorm, eps: c.normEps)
        try p.logits(lastNorm, output)
        if let outputBias, let logits = p.plan.logits { p.addBias(logits, outputBias) }
    }

    public func parameterCount(tied: Bool) throws -> ParameterCount {
        let c = config
        return try ParameterCount(nLayers: c.nLayers, nEmbd: c.nEmbd, nFF: c.nFF, nHeads: c.nHeads, nKVHeads: c.nKVHeads,
                              nVocab: c.nVocab, nCtx: c.nCtxTrain, gated: true, tied: tied, biases: false,
                              learnedPositions: false)
    }
}

extension ArchitectureEntry {
    public static let qwen2 = ArchitectureEntry(name: "qwen2") { try Qwen2($0) }
}
