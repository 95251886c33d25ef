// Gemma3: Google's Gemma 3 text decoder as llama.cpp's `gemma3` graph runs it. Against llama: embeddings scaled by
// √nEmbd; a head size of its own (attention.key_length, 256, not nEmbd / nHeads); RMSNorm on each head's queries
// and keys; norms after attention and after the MLP as well as before; a GeGLU MLP (gelu(gate) * up); NeoX RoPE;
// and sliding-window attention on five layers of six (window attention.sliding_window, their own RoPE base
// rope.freq_base_swa, 10000 by default), every sixth layer global (rope.freq_base). The norm weights in GGUF files
// already include Gemma's "1 +" (llama.cpp's converter adds it), so they are plain RMSNorm gains here.
// The whole model, top to bottom: hyper-parameters, tensors, forward pass.
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
        struct Layer {
            var attnNorm, wq, wk, wv, qNorm, kNorm, wo, postAttnNorm: any DeviceTensor
            var ffnNorm, wGate, wUp, wDown, postFFNNorm: any DeviceTensor
        }
        let layers = try (0..<c.nLayers).map { i in
            let b = "blk.\(i)."
            return Layer(
                attnNorm: try p.weight(b + "attn_norm.weight", [c.nEmbd]),
                wq: try p.weight(b + "attn_q.weight", [c.qDim, c.nEmbd]),
                wk: try p.weight(b + "attn_k.weight", [c.kvDim, c.nEmbd]),
                wv: try p.weight(b + "attn_v.weight", [c.kvDim, c.nEmbd]),
                qNorm: try p.weight(b + "attn_q_norm.weight", [c.headDim]),
                kNorm: try p.weight(b + "attn_k_norm.weight", [c.headDim]),
                wo: try p.weight(b + "attn_output.weight", [c.nEmbd, c.qDim]),
                postAttnNorm: try p.weight(b + "post_attention_norm.weight", [c.nEmbd]),
                ffnNorm: try p.weight(b + "ffn_norm.weight", [c.nEmbd]),
                wGate: try p.weight(b + "ffn_gate.weight", [c.nFF, c.nEmbd]),
                wUp: try p.weight(b + "ffn_up.weight", [c.nFF, c.nEmbd]),
                wDown: try p.weight(b + "ffn_down.weight", [c.nEmbd, c.nFF]),
                postFFNNorm: try p.weight(b + "post_ffw_norm.weight", [c.nEmbd]))
        }
        let outputNorm = try p.weight("output_norm.weight", [c.nEmbd])
        let output = try p.optionalWeight("output.weight", [c.nVocab, c.nEmbd]) ?? tokenEmbedding

        // MARK: activations
        let a = try p.decoderActivations()
        let (x, xn, q, k, v, att, proj) = (a.x, a.xn, a.q, a.k, a.v, a.att, a.proj)
        let (gate, up, hidden) = (a.gate, a.up, a.hidden)

        // MARK: forward pass
        // token embedding, scaled by √nEmbd
        p.embedTokens(x, table: tokenEmbedding)
        p.scale(x, by: Float(c.nEmbd).squareRoot())
        for (l, layer) in layers.enumerated() {
            let local = isLocal(l)
            let ropeBase = local ? localRopeBase : c.ropeFreqBase
            // attention norm
            p.rmsNorm(xn, x, layer.attnNorm, eps: c.normEps)
            // query, key, value projections
            p.matmul([q, k, v], xn, [layer.wq, layer.wk, layer.wv])
            // RMSNorm of each head's query and key, then rotary embedding (NeoX halves)
            p.rmsNorm(q, q, layer.qNorm, eps: c.normEps)
            p.rmsNorm(k, k, layer.kNorm, eps: c.normEps)
            p.rope(q, heads: c.nHeads, headDim: c.headDim, freqBase: ropeBase, style: .neox)
            p.rope(k, heads: c.nKVHeads, headDim: c.headDim, freqBase: ropeBase, style: .neox)
            // keys and values into the cache; causal attention over it, local layers over the last `window` keys
            p.attention(layer: l, out: att, q: q, k: k, v: v, heads: c.nHeads, kvHeads: c.nKVHeads,
                        headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot(), window: local ? window : 0)
            // output projection, post-attention norm, residual connection
            p.matmul(proj, att, layer.wo)
            p.rmsNorm(proj, proj, layer.postAttnNorm, eps: c.normEps)
            p.add(x, x, proj)
            // MLP norm, then GeGLU: down(gelu(gate(x)) * up(x)), post-MLP norm, residual connection
            p.rmsNorm(xn, x, layer.ffnNorm, eps: c.normEps)
            p.matmul([gate, up], xn, [layer.wGate, layer.wUp])
            p.geglu(hidden, gate: gate, up: up)
            p.matmul(proj, hidden, layer.wDown)
            p.rmsNorm(proj, proj, layer.postFFNNorm, eps: c.normEps)
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
    public static let gemma3 = ArchitectureEntry(name: "gemma3") { try Gemma3($0) }
}
