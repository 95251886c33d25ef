// OpKind: the operations a Backend runs. One case per row family of `gpt check` and `gpt profile`.

/// An operation of the transformer executor.
public enum OpKind: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case embedding  // rows of a (possibly quantized) table, dequantized
    case rmsNorm  // llama
    case layerNorm  // gpt2 (with bias)
    case matmul  // activations x weightsᵀ, weights in any WeightFormat
    case rope  // rotary position embedding, in place
    case attention  // causal multi-head attention over the KV cache
    case swiglu  // silu(gate) * up
    case gelu  // tanh approximation
    case geglu  // gelu(gate) * up
    case scale  // multiply by a constant
    case add  // elementwise
    case addBias  // broadcast a row over many
    case copyRows  // KV-cache stores and row selection

    public var description: String { rawValue }
}

/// How rotary embedding pairs dimensions.
public enum RopeStyle: String, Sendable, CaseIterable {
    /// Adjacent pairs (x[2i], x[2i+1]): llama.cpp's LLAMA_ROPE_TYPE_NORM, used for the `llama` architecture
    /// (its converter permutes the Q and K weights so that this equals the Hugging Face rotate-half form).
    case adjacent
    /// Halves (x[i], x[i + d/2]): the GPT-NeoX form.
    case neox
}

/// Which attention kernel runs.
public enum AttentionKind: String, Sendable, CaseIterable {
    /// Flash-style: online softmax over key blocks, no score matrix in memory.
    case fused
    /// Scores for every (query, key) pair are written out, then softmaxed: a comparison and a test oracle.
    case naive
}
