// ForwardPlan: a model's forward pass as data — the op values an architecture spells out once at load, with its
// weights and the executor's activation buffers bound in. The executor validates every op with the backend at load
// and then runs the plan for each batch, setting the rows (and, for the position-dependent steps, each sequence's
// rows, positions and KV cache) per call. PlanBuilder is the vocabulary architectures write their files in.
import GPTCore

/// One step of the part of a forward pass that runs over every row of a batch.
public enum PlanStep {
    /// An op over all rows (its row count is set per batch).
    case op(Op)
    /// out = rows of `table` for the batch's token ids.
    case embedTokens(out: any DeviceTensor, table: any DeviceTensor)
    /// out = rows of `table` for the batch's positions (learned position embeddings).
    case embedPositions(out: any DeviceTensor, table: any DeviceTensor)
    /// Rotary embedding, once per sequence over its rows and positions.
    case rope(Op.Rope)
    /// Once per sequence: its rows of `k` and `v` are stored in its cache slot of `layer` at their positions, then
    /// its rows of queries attend over the slot's positions.
    case attention(layer: Int, k: any DeviceTensor, v: any DeviceTensor, Op.Attention)
}

/// A model's whole forward pass.
public struct ForwardPlan {
    /// Over every row of a batch, through the last block.
    public var body: [PlanStep] = []
    /// The rows whose logits are wanted are copied from `outputSource` into `outputRows` (outputGroup rows at a
    /// time), then `head` runs on them and leaves (outputGroup, nVocab) logits in `logits`.
    public var outputSource: (any DeviceTensor)?
    public var outputRows: (any DeviceTensor)?
    public var head: [Op] = []
    public var logits: (any DeviceTensor)?
    /// Bytes of the activation buffers `PlanBuilder.activation` made (the logits buffer included).
    public var activationBytes = 0
    /// Rows the body's buffers hold, and rows the head's hold.
    public let maxBatch: Int
    public let outputGroup: Int
}

/// What an architecture's `build` writes: weights by name, activation buffers, and ops in order. Ops appended
/// before `outputRows(of:)` run over every row of a batch; after it, over the rows whose logits are wanted.
public final class PlanBuilder {
    public let config: ModelConfig
    public let backend: any Backend
    /// Positions of the executor's own cache: the context a model with context-dependent RoPE (Phi-3's LongRoPE)
    /// chooses its factors for.
    public let nCtx: Int
    public private(set) var plan: ForwardPlan
    var loader: TensorLoader
    private var inHead = false

    init(config: ModelConfig, source: any WeightSource, backend: any Backend, nCtx: Int, maxBatch: Int,
         outputGroup: Int) {
        self.config = config
        self.backend = backend
        self.nCtx = nCtx
        self.loader = TensorLoader(source: source, backend: backend)
        self.plan = ForwardPlan(maxBatch: maxBatch, outputGroup: outputGroup)
    }

    /// Rows of the buffers `activation` makes now.
    public var rows: Int { inHead ? plan.outputGroup : plan.maxBatch }

    // MARK: - Weights and buffers

    /// Weight `name` with shape [rows, cols] (GGUF's, reversed), used for `ops` (a matrix: products; a table:
    /// embedding); throws naming the tensor if absent, misshapen, or in a format the backend cannot use so.
    public func weight(_ name: String, _ shape: [Int], for ops: [OpKind] = [.matmul]) throws -> any DeviceTensor {
        try loader.load(name, shape, for: ops)
    }

    /// Weight `name` if the file has it (biases, an untied unembedding).
    public func optionalWeight(_ name: String, _ shape: [Int]) throws -> (any DeviceTensor)? {
        loader.has(name) ? try loader.load(name, shape) : nil
    }

    /// The token embedding table, which is also the unembedding when the file has no `output.weight`.
    public func tokenEmbedding(_ name: String = "token_embd.weight") throws -> any DeviceTensor {
        try loader.load(name, [config.nVocab, config.nEmbd],
                        for: loader.has("output.weight") ? [.embedding] : [.embedding, .matmul])
    }

    /// Weight `name` split into blocks of rows (a fused projection: QKV, gate and up).
    public func weight(_ name: String, _ shape: [Int], split: [Int]) throws -> [any DeviceTensor] {
        try loader.loadRows(name, shape, split: split)
    }

    /// Whether the file has tensor `name`.
    public func has(_ name: String) -> Bool { loader.has(name) }

    /// An F32 activation buffer (rows, width).
    public func activation(_ label: String, width: Int) throws -> any DeviceTensor {
        let buffer = try backend.allocate([rows, width], .f32, label: label)
        plan.activationBytes += buffer.byteCount
        return buffer
    }

    /// The activation buffers of a pre-norm decoder block, (B, width) each, named as every architecture names them.
    public struct DecoderActivations {
        public let x, xn, q, k, v, att, proj, gate, up, hidden: any DeviceTensor
    }

    /// One buffer per role: the residual stream x, its norm xn, q/k/v, the attention output, a projection back to
    /// nEmbd, and the MLP's gate, up and hidden. `compact`: the projections reuse x_norm (dead after each block
    /// half's first product) and hidden reuses gate (the gated activation runs in place): two buffers fewer.
    public func decoderActivations(compact: Bool = false) throws -> DecoderActivations {
        let c = config
        let x = try activation("x", width: c.nEmbd), xn = try activation("x_norm", width: c.nEmbd)
        let q = try activation("q", width: c.qDim), k = try activation("k", width: c.kvDim)
        let v = try activation("v", width: c.kvDim), att = try activation("attn", width: c.qDim)
        let proj = compact ? xn : try activation("proj", width: c.nEmbd)
        let gate = try activation("ffn_gate", width: c.nFF), up = try activation("ffn_up", width: c.nFF)
        let hidden = compact ? gate : try activation("ffn_hidden", width: c.nFF)
        return DecoderActivations(x: x, xn: xn, q: q, k: k, v: v, att: att, proj: proj, gate: gate, up: up,
                                  hidden: hidden)
    }

    // MARK: - Ops over the batch's rows

    /// Appends any op; its rows are set when it runs.
    public func append(_ op: Op) {
        if inHead { plan.head.append(op) } else { plan.body.append(.op(op)) }
    }

    public func embedTokens(_ out: any DeviceTensor, table: any DeviceTensor) {
        plan.body.append(.embedTokens(out: out, table: table))
    }

    public func embedPositions(_ out: any DeviceTensor, table: any DeviceTensor) {
        plan.body.append(.embedPositions(out: out, table: table))
    }

    public func rmsNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, _ weight: any DeviceTensor, eps: Float) {
        append(.rmsNorm(out: out, x: x, weight: weight, rows: rows, eps: eps))
    }

    public func layerNorm(_ out: any DeviceTensor, _ x: any DeviceTensor, _ weight: any DeviceTensor,
                          _ bias: any DeviceTensor, eps: Float) {
        append(.layerNorm(out: out, x: x, weight: weight, bias: bias, rows: rows, eps: eps))
    }

    /// out = x · wᵀ
    public func matmul(_ out: any DeviceTensor, _ x: any DeviceTensor, _ w: any DeviceTensor) {
        append(.matmul(outs: [out], x: x, weights: [w], rows: rows))
    }

    /// outs[i] = x · ws[i]ᵀ: projections of one input in one pass.
    public func matmul(_ outs: [any DeviceTensor], _ x: any DeviceTensor, _ ws: [any DeviceTensor]) {
        append(.matmul(outs: outs, x: x, weights: ws, rows: rows))
    }

    public func addBias(_ x: any DeviceTensor, _ bias: any DeviceTensor) {
        append(.addBias(x: x, bias: bias, rows: rows))
    }

    public func add(_ out: any DeviceTensor, _ a: any DeviceTensor, _ b: any DeviceTensor) {
        append(.add(out: out, a: a, b: b, rows: rows))
    }

    public func swiglu(_ out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor) {
        append(.swiglu(out: out, gate: gate, up: up, rows: rows))
    }

    public func gelu(_ out: any DeviceTensor, _ x: any DeviceTensor) {
        append(.gelu(out: out, x: x, rows: rows))
    }

    public func geglu(_ out: any DeviceTensor, gate: any DeviceTensor, up: any DeviceTensor) {
        append(.geglu(out: out, gate: gate, up: up, rows: rows))
    }

    public func scale(_ x: any DeviceTensor, by factor: Float) {
        append(.scale(x: x, factor: factor, rows: rows))
    }

    // MARK: - Per-sequence steps

    /// Rotary embedding of x (·, heads * headDim) at each row's position; `factors` (headDim / 2): divisors of the
    /// pairs' angles (Llama 3's rope_freqs, Phi-3's LongRoPE factors).
    public func rope(_ x: any DeviceTensor, heads: Int, headDim: Int, freqBase: Float, style: RopeStyle,
                     factors: (any DeviceTensor)? = nil) {
        plan.body.append(.rope(Op.Rope(x: x, rows: rows, startPos: 0, nHeads: heads, headDim: headDim,
                                       freqBase: freqBase, style: style, freqFactors: factors)))
    }

    /// Stores k and v in the cache of `layer`, then causal attention of q over it into out; `window` > 0: each
    /// query sees only the last `window` positions (sliding-window attention).
    public func attention(layer: Int, out: any DeviceTensor, q: any DeviceTensor, k: any DeviceTensor,
                          v: any DeviceTensor, heads: Int, kvHeads: Int, headDim: Int, scale: Float, window: Int = 0) {
        // the cache tensors are the sequence's, bound per call; k and v stand in for their shapes until then
        plan.body.append(.attention(
            layer: layer, k: k, v: v,
            Op.Attention(out: out, q: q, kCache: k, vCache: v, rows: rows, startPos: 0, nHeads: heads,
                         nKVHeads: kvHeads, headDim: headDim, scale: scale, kind: .fused, window: window)))
    }

    // MARK: - Output

    /// From here on ops run on the rows whose logits are wanted: returns the buffer (outputGroup, width) they are
    /// copied into from `x`.
    public func outputRows(of x: any DeviceTensor) throws -> any DeviceTensor {
        inHead = true
        let rows = try activation("output_rows", width: x.cols)
        plan.outputSource = x
        plan.outputRows = rows
        return rows
    }

    /// The unembedding: logits (outputGroup, nVocab) = x · wᵀ. The last step of a plan.
    public func logits(_ x: any DeviceTensor, _ w: any DeviceTensor) throws {
        precondition(inHead, "logits come after outputRows(of:)")
        let out = try activation("logits", width: w.rows)
        matmul(out, x, w)
        plan.logits = out
    }
}
