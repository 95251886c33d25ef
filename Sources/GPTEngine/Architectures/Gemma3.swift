// Gemma3: Google's Gemma 3 text decoder as llama.cpp's `gemma3` graph runs it. Against llama: embeddings scaled by
// √nEmbd; a head size of its own (attention.key_length, 256, not nEmbd / nHeads); RMSNorm on each head's queries
// and keys; norms after attention and after the MLP as well as before; a GeGLU MLP (gelu(gate) * up); NeoX RoPE;
// and sliding-window attention on five layers of six (window attention.sliding_window, their own RoPE base
// rope.freq_base_swa, 10000 by default), every sixth layer global (rope.freq_base). The norm weights in GGUF files
// already include Gemma's "1 +" (llama.cpp's converter adds it), so they are plain RMSNorm gains here.
// The whole model, top to bottom: hyper-parameters, tensors, forward pass (PlanBuilder+Blocks.swift holds the
// block halves).
import GGUF
import GPTCore

public struct Gemma3: ModelArchitecture {
    public let config: ModelConfig
    /// Keys a local layer sees (attention.sliding_window; 0: every layer global).
    public let window: Int
    /// Layer l is local (windowed) unless l % pattern == pattern - 1 (attention.sliding_window_pattern, 6).
    public let pattern: Int
    /// RoPE base of the local layers (rope.freq_base_swa); the global ones use config.ropeFreqBase.
    public let localRopeBase: Float

    public init(config: ModelConfig, window: Int, pattern: Int = 6, localRopeBase: Float = 10000) {
        self.config = config
        self.window = window
        self.pattern = pattern
        self.localRopeBase = localRopeBase
    }

    /// Reads `gemma3.*`: the common keys plus attention.key_length / value_length (the head size),
    /// attention.sliding_window, attention.sliding_window_pattern, rope.freq_base_swa, final_logit_softcapping.
    public init(_ file: GGUFFile) throws {
        let hp = try ModelHyperParameters(file)
        func key(_ name: String) -> String { "gemma3.\(name)" }
        func invalid(_ name: String, _ detail: String) -> GGUFError {
            GGUFError.invalidValue(path: file.path, key: key(name), detail: detail)
        }
        let window = try file.int(ifPresent: key("attention.sliding_window")) ?? 0
        guard window >= 0 else { throw invalid("attention.sliding_window", "\(window) is negative") }
        let pattern = try file.int(ifPresent: key("attention.sliding_window_pattern")) ?? 6
        guard pattern >= 1 else { throw invalid("attention.sliding_window_pattern", "\(pattern) is not positive") }
        let valueLength = try file.int(ifPresent: key("attention.value_length")) ?? hp.headDim
        guard valueLength == hp.headDim else {
            throw invalid("attention.value_length", "\(valueLength) differs from the key length \(hp.headDim)")
        }
        if let cap = try file.float(ifPresent: key("final_logit_softcapping")), cap != 0 {
            throw invalid("final_logit_softcapping", "\(cap): logit soft-capping is not supported")
        }
        self.init(config: try .checked(ModelConfig(hp), file: file), window: window, pattern: pattern,
                  localRopeBase: try file.float(ifPresent: key("rope.freq_base_swa")) ?? 10000)
    }

    /// Whether layer l attends over a sliding window.
    public func isLocal(_ l: Int) -> Bool { window > 0 && l % pattern < pattern - 1 }

    public func build(_ p: PlanBuilder) throws {
        let c = config
        // MARK: tensors
        let tokenEmbedding = try p.tokenEmbedding()
        // llama's tensors plus blk.N.attn_q_norm, attn_k_norm (headDim each), post_attention_norm, post_ffw_norm
        let layers = try (0..<c.nLayers).map { i in
            (attention: try p.attentionWeights(layer: i, headNorms: true, postNorm: "post_attention_norm"),
             mlp: try p.mlpWeights(layer: i, postNorm: "post_ffw_norm"))
        }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations
        let a = try p.decoderActivations()

        // MARK: forward pass
        // token embedding, scaled by √nEmbd
        p.embedTokens(a.x, table: tokenEmbedding)
        p.scale(a.x, by: Float(c.nEmbd).squareRoot())
        for (l, layer) in layers.enumerated() {
            let local = isLocal(l)
            // attention norm; query, key, value projections; RMSNorm of each head's query and key, then rotary
            // embedding (NeoX halves, the local or the global base); keys and values into the cache, causal
            // attention over it, local layers over the last `window` keys; output projection, post-attention
            // norm, residual connection
            p.attentionBlock(layer: l, layer.attention, a,
                             rotary: .init(.neox, freqBase: local ? localRopeBase : c.ropeFreqBase),
                             window: local ? window : 0)
            // MLP norm, then GeGLU: down(gelu(gate(x)) * up(x)), post-MLP norm, residual connection
            p.gatedMLP(layer.mlp, a, .gelu)
        }
        // final norm of the rows whose logits are wanted, then the unembedding
        try p.outputHead(a.x, norm: outputNorm, unembedding: output)
    }

    /// The post-attention and post-MLP norms (nEmbd each) and the per-head query and key norms (headDim each) of
    /// every layer are counted too.
    public func parameterCount(has: (String) -> Bool) throws -> ParameterCount {
        let c = config
        return try c.decoderParameterCount(tied: !has("output.weight"))
            .adding("post-attention and post-MLP norm gains", c.nLayers, 2 * c.nEmbd)
            .adding("query and key norm gains", c.nLayers, 2 * c.headDim)
    }
}

extension ArchitectureEntry {
    public static let gemma3 = ArchitectureEntry(name: "gemma3") { try Gemma3($0) }
}
