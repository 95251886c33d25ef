// Phi3: Microsoft's Phi-3 as llama.cpp's `phi3` graph runs it. Against llama: the query, key and value projections
// are one fused matrix (attn_qkv, rows q | k | v; separate attn_q/k/v are read too), and so are the MLP's gate and
// up (ffn_up, rows gate | up, SwiGLU over the halves); NeoX RoPE. The 128k models use LongRoPE: per-pair frequency
// factors, rope_factors_long when the context is longer than rope.scaling.original_context_length, else
// rope_factors_short, and rotated queries and keys scaled by rope.scaling.attn_factor. llama.cpp decides with its
// context rounded up to a multiple of 256 (it pads n_ctx so); so does this file, to run what llama.cpp runs.
// attention.sliding_window is not read: llama.cpp turns Phi-3's sliding window off (every layer global).
// The whole model, top to bottom: hyper-parameters, tensors, forward pass.
import GGUF
import GPTCore

public struct Phi3: ModelArchitecture {
    public let config: ModelConfig
    /// rope.scaling.original_context_length: contexts above it use the long factors (default nCtxTrain).
    public let originalContext: Int
    /// rope.scaling.attn_factor: the magnitude of RoPE's rotation (LongRoPE's √(1 + ln s / ln n₀)); 1 without.
    public let ropeAttentionFactor: Float

    public init(config: ModelConfig, originalContext: Int, ropeAttentionFactor: Float = 1) {
        self.config = config
        self.originalContext = originalContext
        self.ropeAttentionFactor = ropeAttentionFactor
    }

    /// Reads `phi3.*`: the common keys plus rope.scaling.original_context_length and rope.scaling.attn_factor.
    public init(_ file: GGUFFile) throws {
        let config = try ModelConfig.checked(ModelConfig(try ModelHyperParameters(file)), file: file)
        func invalid(_ name: String, _ detail: String) -> GGUFError {
            GGUFError.invalidValue(path: file.path, key: "phi3.\(name)", detail: detail)
        }
        let original = try file.int(ifPresent: "phi3.rope.scaling.original_context_length") ?? config.nCtxTrain
        guard original >= 1 else { throw invalid("rope.scaling.original_context_length", "\(original) is not positive") }
        let factor = try file.float(ifPresent: "phi3.rope.scaling.attn_factor") ?? 1
        guard factor.isFinite, factor > 0, factor <= 16 else {
            throw invalid("rope.scaling.attn_factor", "\(factor) is not in (0, 16]")
        }
        self.init(config: config, originalContext: original, ropeAttentionFactor: factor)
    }

    /// Whether a context of nCtx positions uses the long factors: llama.cpp's rule on its padded context.
    public func usesLongFactors(nCtx: Int) -> Bool {
        (nCtx + 255) / 256 * 256 > originalContext
    }

    public func build(_ p: PlanBuilder) throws {
        let c = config
        // MARK: tensors
        let tokenEmbedding = try p.tokenEmbedding()
        struct Layer {
            var attnNorm, wq, wk, wv, wo, ffnNorm, wGate, wUp, wDown: any DeviceTensor
        }
        let layers = try (0..<c.nLayers).map { i in
            let b = "blk.\(i)."
            let qkv = p.has(b + "attn_qkv.weight")
                ? try p.weight(b + "attn_qkv.weight", [c.qDim + 2 * c.kvDim, c.nEmbd], split: [c.qDim, c.kvDim, c.kvDim])
                : [try p.weight(b + "attn_q.weight", [c.qDim, c.nEmbd]),
                   try p.weight(b + "attn_k.weight", [c.kvDim, c.nEmbd]),
                   try p.weight(b + "attn_v.weight", [c.kvDim, c.nEmbd])]
            let gateUp = try p.weight(b + "ffn_up.weight", [2 * c.nFF, c.nEmbd], split: [c.nFF, c.nFF])
            return Layer(
                attnNorm: try p.weight(b + "attn_norm.weight", [c.nEmbd]),
                wq: qkv[0], wk: qkv[1], wv: qkv[2],
                wo: try p.weight(b + "attn_output.weight", [c.nEmbd, c.qDim]),
                ffnNorm: try p.weight(b + "ffn_norm.weight", [c.nEmbd]),
                wGate: gateUp[0], wUp: gateUp[1],
                wDown: try p.weight(b + "ffn_down.weight", [c.nEmbd, c.nFF]))
        }
        // LongRoPE: the factors for this context (one pair of tensors for every layer), or none
        let factorsName = usesLongFactors(nCtx: p.nCtx) ? "rope_factors_long.weight" : "rope_factors_short.weight"
        let ropeFactors = try p.optionalWeight(factorsName, [c.headDim / 2])
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations
        let a = try p.decoderActivations()
        let (x, xn, q, k, v, att, proj) = (a.x, a.xn, a.q, a.k, a.v, a.att, a.proj)
        let (gate, up, hidden) = (a.gate, a.up, a.hidden)

        // MARK: forward pass
        p.embedTokens(x, table: tokenEmbedding)
        for (l, layer) in layers.enumerated() {
            // attention norm; the fused query, key, value projection (its three row blocks in one pass)
            p.rmsNorm(xn, x, layer.attnNorm, eps: c.normEps)
            p.matmul([q, k, v], xn, [layer.wq, layer.wk, layer.wv])
            // rotary embedding (NeoX halves) with the LongRoPE factors, its magnitude scaled by the attn_factor
            p.rope(q, heads: c.nHeads, headDim: c.headDim, freqBase: c.ropeFreqBase, style: .neox, factors: ropeFactors)
            p.rope(k, heads: c.nKVHeads, headDim: c.headDim, freqBase: c.ropeFreqBase, style: .neox, factors: ropeFactors)
            if ropeAttentionFactor != 1 {
                p.scale(q, by: ropeAttentionFactor)
                p.scale(k, by: ropeAttentionFactor)
            }
            // keys and values into the cache; causal grouped-query attention over every position
            p.attention(layer: l, out: att, q: q, k: k, v: v, heads: c.nHeads, kvHeads: c.nKVHeads,
                        headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot())
            // output projection and residual connection
            p.matmul(proj, att, layer.wo)
            p.add(x, x, proj)
            // MLP norm; the fused gate and up projection; SwiGLU; down; residual connection
            p.rmsNorm(xn, x, layer.ffnNorm, eps: c.normEps)
            p.matmul([gate, up], xn, [layer.wGate, layer.wUp])
            p.swiglu(hidden, gate: gate, up: up)
            p.matmul(proj, hidden, layer.wDown)
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
                              learnedPositions: false, headDim: c.headDim)
    }
}

extension ArchitectureEntry {
    public static let phi3 = ArchitectureEntry(name: "phi3") { try Phi3($0) }
}
