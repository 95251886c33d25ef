// PlanBuilder+Blocks: the pre-norm decoder block that every architecture shares (Llama, Qwen2, Phi3, Gemma3, GPT-2),
// as two builders each for its attention half and its MLP half: one that loads the half's weights by llama.cpp's
// tensor names, one that appends its steps. What differs between the architectures is a parameter: RMSNorm or
// LayerNorm (with a bias), separate or fused projections, biases on the projections, RMSNorm of each head's query and
// key, a norm after the half, the RoPE pairing, base, factors and magnitude (or no rotation: GPT-2's positions are
// learned), a sliding window, a gated or plain MLP and its activation. An architecture's file still reads top to
// bottom as the model; these say what a block is once.
import GPTCore

extension PlanBuilder {
    // MARK: - Weights

    /// The weights of one block's attention half.
    public struct AttentionWeights {
        public var norm: any DeviceTensor  // (nEmbd) gain of the norm before it
        public var normBias: (any DeviceTensor)?  // (nEmbd) its bias: a LayerNorm (GPT-2), else RMSNorm
        public var wq, wk, wv: any DeviceTensor  // (qDim, nEmbd), (kvDim, nEmbd), (kvDim, nEmbd)
        public var bq, bk, bv: (any DeviceTensor)?  // (qDim), (kvDim), (kvDim): Qwen2, GPT-2
        public var qNorm, kNorm: (any DeviceTensor)?  // (headDim) gains of each head's RMSNorm: Gemma 3
        public var wo: any DeviceTensor  // (nEmbd, qDim)
        public var bo: (any DeviceTensor)?  // (nEmbd): GPT-2
        public var postNorm: (any DeviceTensor)?  // (nEmbd) gain of a norm of its output: Gemma 3
    }

    /// The weights of one block's MLP half.
    public struct MLPWeights {
        public var norm: any DeviceTensor  // (nEmbd)
        public var normBias: (any DeviceTensor)?  // (nEmbd): a LayerNorm (GPT-2)
        public var gate: (any DeviceTensor)?  // (nFF, nEmbd); nil: a plain MLP (GPT-2)
        public var up: any DeviceTensor  // (nFF, nEmbd)
        public var down: any DeviceTensor  // (nEmbd, nFF)
        public var bUp, bDown: (any DeviceTensor)?  // (nFF), (nEmbd): GPT-2
        public var postNorm: (any DeviceTensor)?  // (nEmbd)
    }

    /// Layer `layer`'s attention weights: blk.N.attn_norm, attn_q/attn_k/attn_v (or, with `fusedQKV` and where the
    /// file has it, attn_qkv: rows q | k | v, split at load), attn_output.
    /// - Parameters:
    ///   - biases: attn_q.bias, attn_k.bias, attn_v.bias (attn_qkv.bias, split, with the fused projection) are read.
    ///   - headNorms: attn_q_norm and attn_k_norm (headDim each) are read too.
    ///   - postNorm: the name of a norm after the output projection (`post_attention_norm`), if any.
    ///   - layerNorm: the norm before it is a LayerNorm: attn_norm.bias is read too.
    ///   - outputBias: attn_output.bias is read too.
    public func attentionWeights(layer: Int, fusedQKV: Bool = false, biases: Bool = false, headNorms: Bool = false,
                                 postNorm: String? = nil, layerNorm: Bool = false,
                                 outputBias: Bool = false) throws -> AttentionWeights {
        let c = config
        let b = "blk.\(layer)."
        let fused = fusedQKV && has(b + "attn_qkv.weight")
        let qkv = fused
            ? try weight(b + "attn_qkv.weight", [c.qDim + 2 * c.kvDim, c.nEmbd], split: [c.qDim, c.kvDim, c.kvDim])
            : [try weight(b + "attn_q.weight", [c.qDim, c.nEmbd]), try weight(b + "attn_k.weight", [c.kvDim, c.nEmbd]),
               try weight(b + "attn_v.weight", [c.kvDim, c.nEmbd])]
        func vector(_ name: String, _ n: Int, if wanted: Bool) throws -> (any DeviceTensor)? {
            wanted ? try weight(b + name, [n]) : nil
        }
        let qkvBias: [(any DeviceTensor)?] = !biases ? [nil, nil, nil]
            : fused ? try weight(b + "attn_qkv.bias", [c.qDim + 2 * c.kvDim], split: [c.qDim, c.kvDim, c.kvDim])
            : [try weight(b + "attn_q.bias", [c.qDim]), try weight(b + "attn_k.bias", [c.kvDim]),
               try weight(b + "attn_v.bias", [c.kvDim])]
        return AttentionWeights(
            norm: try weight(b + "attn_norm.weight", [c.nEmbd]),
            normBias: try vector("attn_norm.bias", c.nEmbd, if: layerNorm),
            wq: qkv[0], wk: qkv[1], wv: qkv[2], bq: qkvBias[0], bk: qkvBias[1], bv: qkvBias[2],
            qNorm: try vector("attn_q_norm.weight", c.headDim, if: headNorms),
            kNorm: try vector("attn_k_norm.weight", c.headDim, if: headNorms),
            wo: try weight(b + "attn_output.weight", [c.nEmbd, c.qDim]),
            bo: try vector("attn_output.bias", c.nEmbd, if: outputBias),
            postNorm: try postNorm.map { try weight(b + $0 + ".weight", [c.nEmbd]) })
    }

    /// Layer `layer`'s MLP weights: blk.N.ffn_norm, ffn_gate and ffn_up (or, with `fusedGateUp`, ffn_up alone with
    /// rows gate | up, split at load), ffn_down; `postNorm`: the name of a norm after it (`post_ffw_norm`), if any.
    /// - Parameters:
    ///   - gated: false: a plain MLP, ffn_up and ffn_down only (GPT-2).
    ///   - biases: ffn_up.bias and ffn_down.bias are read too.
    ///   - layerNorm: the norm before it is a LayerNorm: ffn_norm.bias is read too.
    public func mlpWeights(layer: Int, fusedGateUp: Bool = false, postNorm: String? = nil, gated: Bool = true,
                           biases: Bool = false, layerNorm: Bool = false) throws -> MLPWeights {
        let c = config
        let b = "blk.\(layer)."
        let gateUp: [(any DeviceTensor)?] = !gated ? [nil, try weight(b + "ffn_up.weight", [c.nFF, c.nEmbd])]
            : fusedGateUp ? try weight(b + "ffn_up.weight", [2 * c.nFF, c.nEmbd], split: [c.nFF, c.nFF])
            : [try weight(b + "ffn_gate.weight", [c.nFF, c.nEmbd]), try weight(b + "ffn_up.weight", [c.nFF, c.nEmbd])]
        func vector(_ name: String, _ n: Int, if wanted: Bool) throws -> (any DeviceTensor)? {
            wanted ? try weight(b + name, [n]) : nil
        }
        return MLPWeights(
            norm: try weight(b + "ffn_norm.weight", [c.nEmbd]),
            normBias: try vector("ffn_norm.bias", c.nEmbd, if: layerNorm),
            gate: gateUp[0], up: gateUp[1]!,
            down: try weight(b + "ffn_down.weight", [c.nEmbd, c.nFF]),
            bUp: try vector("ffn_up.bias", c.nFF, if: biases), bDown: try vector("ffn_down.bias", c.nEmbd, if: biases),
            postNorm: try postNorm.map { try weight(b + $0 + ".weight", [c.nEmbd]) })
    }

    // MARK: - Steps

    /// How a block rotates its queries and keys.
    public struct Rotary {
        public var style: RopeStyle
        public var freqBase: Float
        /// (headDim / 2) divisors of the pairs' angles: Llama 3's rope_freqs, Phi-3's LongRoPE factors.
        public var factors: (any DeviceTensor)?
        /// Rotated queries and keys are multiplied by it (LongRoPE's attn_factor); 1: not.
        public var magnitude: Float

        public init(_ style: RopeStyle, freqBase: Float, factors: (any DeviceTensor)? = nil, magnitude: Float = 1) {
            self.style = style
            self.freqBase = freqBase
            self.factors = factors
            self.magnitude = magnitude
        }
    }

    /// The attention half of a pre-norm block, on the residual stream a.x:
    /// xn = norm(x); q, k, v = projections of xn (+ biases) (each head's q and k RMSNorm'd); RoPE of q and k
    /// (`rotary` nil: none, the positions are already in x); k, v into the cache of `layer` and causal grouped-query
    /// attention (nHeads queries share nKVHeads keys, scaled by 1/√headDim; `window` > 0: over the last `window`
    /// keys); proj = att · woᵀ (+ bias) (RMSNorm'd); x += proj.
    public func attentionBlock(layer: Int, _ w: AttentionWeights, _ a: DecoderActivations, rotary: Rotary?,
                               window: Int = 0) {
        let c = config
        norm(a.xn, a.x, w.norm, w.normBias)
        matmul([a.q, a.k, a.v], a.xn, [w.wq, w.wk, w.wv])
        for (x, bias) in [(a.q, w.bq), (a.k, w.bk), (a.v, w.bv)] { if let bias { addBias(x, bias) } }
        for (x, gain) in [(a.q, w.qNorm), (a.k, w.kNorm)] { if let gain { rmsNorm(x, x, gain, eps: c.normEps) } }
        if let rotary {
            for (x, heads) in [(a.q, c.nHeads), (a.k, c.nKVHeads)] {
                rope(x, heads: heads, headDim: c.headDim, freqBase: rotary.freqBase, style: rotary.style,
                     factors: rotary.factors)
            }
            if rotary.magnitude != 1 {
                scale(a.q, by: rotary.magnitude)
                scale(a.k, by: rotary.magnitude)
            }
        }
        attention(layer: layer, out: a.att, q: a.q, k: a.k, v: a.v, heads: c.nHeads, kvHeads: c.nKVHeads,
                  headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot(), window: window)
        matmul(a.proj, a.att, w.wo)
        if let bias = w.bo { addBias(a.proj, bias) }
        residual(a, w.postNorm)
    }

    /// The activation of a gated MLP: hidden = act(gate) * up.
    public enum GatedActivation {
        /// SwiGLU: silu(gate) * up (Llama, Qwen2, Phi-3).
        case silu
        /// GeGLU: gelu(gate) * up, GELU's tanh form (Gemma).
        case gelu
    }

    /// The MLP half of a pre-norm block, on the residual stream a.x: xn = norm(x); gate, up = projections of xn;
    /// hidden = act(gate) * up; proj = hidden · downᵀ (RMSNorm'd); x += proj.
    public func gatedMLP(_ w: MLPWeights, _ a: DecoderActivations, _ activation: GatedActivation) {
        guard let gate = w.gate else { preconditionFailure("gatedMLP needs ffn_gate: mlpWeights(layer:gated: true)") }
        norm(a.xn, a.x, w.norm, w.normBias)
        matmul([a.gate, a.up], a.xn, [gate, w.up])
        switch activation {
        case .silu: swiglu(a.hidden, gate: a.gate, up: a.up)
        case .gelu: geglu(a.hidden, gate: a.gate, up: a.up)
        }
        matmul(a.proj, a.hidden, w.down)
        residual(a, w.postNorm)
    }

    /// The plain MLP half of a pre-norm block (GPT-2), on the residual stream a.x: xn = norm(x);
    /// up = xn · upᵀ + bUp; hidden = gelu(up) (GELU's tanh form); proj = hidden · downᵀ + bDown; x += proj.
    public func geluMLP(_ w: MLPWeights, _ a: DecoderActivations) {
        norm(a.xn, a.x, w.norm, w.normBias)
        matmul(a.up, a.xn, w.up)
        if let bias = w.bUp { addBias(a.up, bias) }
        gelu(a.hidden, a.up)
        matmul(a.proj, a.hidden, w.down)
        if let bias = w.bDown { addBias(a.proj, bias) }
        residual(a, w.postNorm)
    }

    /// out = LayerNorm(x) with `bias`, or RMSNorm(x) without one.
    private func norm(_ out: any DeviceTensor, _ x: any DeviceTensor, _ gain: any DeviceTensor,
                      _ bias: (any DeviceTensor)?) {
        if let bias {
            layerNorm(out, x, gain, bias, eps: config.normEps)
        } else {
            rmsNorm(out, x, gain, eps: config.normEps)
        }
    }

    /// x += proj, after a norm of proj where the block has one.
    private func residual(_ a: DecoderActivations, _ postNorm: (any DeviceTensor)?) {
        if let postNorm { rmsNorm(a.proj, a.proj, postNorm, eps: config.normEps) }
        add(a.x, a.x, a.proj)
    }

    /// The head of a decoder: the rows of x whose logits are wanted, their final norm (RMSNorm; LayerNorm where
    /// `normBias` is given), the unembedding, and its bias if any. The last steps of a plan.
    public func outputHead(_ x: any DeviceTensor, norm: any DeviceTensor, normBias: (any DeviceTensor)? = nil,
                           unembedding: any DeviceTensor, bias: (any DeviceTensor)? = nil) throws {
        let last = try outputRows(of: x)
        let lastNorm = try activation("output_norm", width: config.nEmbd)
        self.norm(lastNorm, last, norm, normBias)
        try logits(lastNorm, unembedding)
        if let bias, let logits = plan.logits { addBias(logits, bias) }
    }
}
