// Phi3: Microsoft's Phi-3 as llama.cpp's `phi3` graph runs it. Against llama: the query, key and value projections
// are one fused matrix (attn_qkv, rows q | k | v; separate attn_q/k/v are read too), and so are the MLP's gate and
// up (ffn_up, rows gate | up, SwiGLU over the halves); NeoX RoPE. The 128k models use LongRoPE: per-pair frequency
// factors, rope_factors_long when the context is longer than rope.scaling.original_context_length, else
// rope_factors_short, and rotated queries and keys scaled by rope.scaling.attn_factor. llama.cpp decides with its
// context rounded up to a multiple of 256 (it pads n_ctx so); so does this file, to run what llama.cpp runs.
// attention.sliding_window is not read: llama.cpp turns Phi-3's sliding window off (every layer global).
// The whole model, top to bottom: hyper-parameters, tensors, forward pass (PlanBuilder+Blocks.swift holds the
// block halves).
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
        // llama's names, but blk.N.attn_qkv (rows q | k | v) where the file fuses them, and ffn_up with rows
        // gate | up (no ffn_gate)
        let layers = try (0..<c.nLayers).map { i in (attention: try p.attentionWeights(layer: i, fusedQKV: true),
                                                     mlp: try p.mlpWeights(layer: i, fusedGateUp: true)) }
        // LongRoPE: the factors for this context (one pair of tensors for every layer), or none
        let factorsName = usesLongFactors(nCtx: p.nCtx) ? "rope_factors_long.weight" : "rope_factors_short.weight"
        let ropeFactors = try p.optionalWeight(factorsName, [c.headDim / 2])
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations
        let a = try p.decoderActivations()

        // MARK: forward pass
        p.embedTokens(a.x, table: tokenEmbedding)
        let rotary = PlanBuilder.Rotary(.neox, freqBase: c.ropeFreqBase, factors: ropeFactors,
                                        magnitude: ropeAttentionFactor)
        for (l, layer) in layers.enumerated() {
            // attention norm; the query, key, value projections (a fused matrix's three row blocks in one pass);
            // rotary embedding (NeoX halves) with the LongRoPE factors, its magnitude scaled by the attn_factor;
            // keys and values into the cache, causal grouped-query attention over every position; output
            // projection; residual connection
            p.attentionBlock(layer: l, layer.attention, a, rotary: rotary)
            // MLP norm; the fused gate and up projection; SwiGLU; down; residual connection
            p.gatedMLP(layer.mlp, a, .silu)
        }
        // final norm of the rows whose logits are wanted, then the unembedding
        try p.outputHead(a.x, norm: outputNorm, unembedding: output)
    }

    /// LongRoPE's two factor tensors (headDim / 2 each) are counted where the file has them.
    public func parameterCount(has: (String) -> Bool) throws -> ParameterCount {
        let c = config
        return try c.decoderParameterCount(tied: !has("output.weight"))
            .adding("RoPE long factors", has("rope_factors_long.weight") ? c.headDim / 2 : 0)
            .adding("RoPE short factors", has("rope_factors_short.weight") ? c.headDim / 2 : 0)
    }
}

extension ArchitectureEntry {
    public static let phi3 = ArchitectureEntry(name: "phi3") { try Phi3($0) }
}
