// QuantizationType: the whole-file types of `gpt quantize` (llama.cpp's llama_ftype names), and which format each
// tensor gets in them: llama.cpp's rules (src/llama-quant.cpp, llama_tensor_get_type) for these types, so a Q4_K_M
// made here has the same tensor formats as llama-quantize's.
import GPTCore
import HFCheckpoint

/// A file type: one base format, plus per-tensor exceptions for the K-quant mixes (_S, _M, _L).
public enum QuantizationType: String, CaseIterable, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    case q4_0 = "Q4_0", q4_1 = "Q4_1", q5_0 = "Q5_0", q5_1 = "Q5_1", q8_0 = "Q8_0"
    case q2_K = "Q2_K", q3_K_S = "Q3_K_S", q3_K_M = "Q3_K_M", q3_K_L = "Q3_K_L"
    case q4_K_S = "Q4_K_S", q4_K_M = "Q4_K_M", q5_K_S = "Q5_K_S", q5_K_M = "Q5_K_M", q6_K = "Q6_K"
    case iq4_nl = "IQ4_NL", iq4_xs = "IQ4_XS"

    /// Parses a name case-insensitively ("q4_k_m", "Q4_K_M"); the bare K-quant names Q3_K, Q4_K and Q5_K mean the
    /// _M mixes, as in llama-quantize.
    public init?(name: String) {
        let upper = name.uppercased()
        let aliases = ["Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"]
        guard let t = QuantizationType(rawValue: aliases[upper] ?? upper) else { return nil }
        self = t
    }

    /// llama_ftype, written as general.file_type: the _S and _L mixes have their own ids; every other type has
    /// its base format's whole-file id (the _M mixes are what a K format means for a whole file).
    public var fileType: UInt32 {
        switch self {
        case .q3_K_S: 11
        case .q3_K_L: 13
        case .q4_K_S: 14
        case .q5_K_S: 16
        default: HFModelFolder.fileType(baseFormat)
        }
    }

    /// The format most matrices get.
    public var baseFormat: WeightFormat {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        case .q5_0: .q5_0
        case .q5_1: .q5_1
        case .q8_0: .q8_0
        case .q2_K: .q2_K
        case .q3_K_S, .q3_K_M, .q3_K_L: .q3_K
        case .q4_K_S, .q4_K_M: .q4_K
        case .q5_K_S, .q5_K_M: .q5_K
        case .q6_K: .q6_K
        case .iq4_nl: .iq4_nl
        case .iq4_xs: .iq4_xs
        }
    }
}

/// Chooses each tensor's format for a file type, in file order (the attention-V and FFN-down rules count layers as
/// the tensors come, like llama.cpp's quantize state).
public struct QuantizationPlan {
    public let type: QuantizationType
    let nLayers: Int
    /// Query heads per KV head (n_gqa).
    let gqa: Int
    let tiedEmbeddings: Bool
    let nAttentionV: Int
    private var iAttentionV = 0
    private var iFFNDown = 0
    /// Tensors whose rows do not fit the chosen format's block, with the format they fell back to.
    public private(set) var fallbacks: [(tensor: String, from: WeightFormat, to: WeightFormat)] = []

    /// - Parameters:
    ///   - tensorNames: every tensor of the file (for the attention-V count and whether output.weight exists).
    public init(type: QuantizationType, tensorNames: [String], nLayers: Int, nHeads: Int, nKVHeads: Int) {
        self.type = type
        self.nLayers = nLayers
        gqa = nKVHeads > 0 ? nHeads / nKVHeads : 1
        tiedEmbeddings = !tensorNames.contains("output.weight")
        nAttentionV = tensorNames.filter { Self.category($0) == .attentionV }.count
    }

    enum Category { case output, tokenEmbedding, attentionV, attentionK, attentionQ, attentionOutput, ffnUp, ffnGate,
                      ffnDown, other }

    /// llama.cpp's tensor_get_category (attn_qkv counts as attention V there).
    static func category(_ name: String) -> Category {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" { return .tokenEmbedding }
        if name.contains("attn_qkv.weight") || name.contains("attn_v.weight") { return .attentionV }
        if name.contains("attn_k.weight") { return .attentionK }
        if name.contains("attn_q.weight") { return .attentionQ }
        if name.contains("attn_output.weight") { return .attentionOutput }
        if name.contains("ffn_up") { return .ffnUp }
        if name.contains("ffn_gate") { return .ffnGate }
        if name.contains("ffn_down") { return .ffnDown }
        return .other
    }

    /// Whether llama.cpp quantizes the tensor at all: matrices whose name ends in "weight", except norms and the
    /// position / token-type embeddings (those keep their format).
    public static func isQuantizable(_ name: String, shape: [Int]) -> Bool {
        shape.count >= 2 && name.hasSuffix("weight") && !name.contains("_norm.weight")
            && name != "position_embd.weight" && name != "token_types.weight"
    }

    /// llama.cpp's use_more_bits: the first and last eighth of the layers and every third in between.
    static func useMoreBits(_ i: Int, _ n: Int) -> Bool { i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2 }

    /// The unembedding's format: Q6_K unless the base is Q8_0 (Q8_0 when rows are not whole blocks of the base).
    static func unembeddingFormat(_ base: WeightFormat, rowLength: Int) -> WeightFormat {
        rowLength % base.blockSize != 0 || base == .q8_0 ? .q8_0 : .q6_K
    }

    /// The format of tensor `name` (ggml `shape`, stored now in `current`); call once per tensor, in file order.
    public mutating func format(_ name: String, shape: [Int], current: WeightFormat) -> WeightFormat {
        guard Self.isQuantizable(name, shape: shape) else { return current }
        let base = type.baseFormat
        guard base.isQuantized else { return base }
        var f = base
        let t = type
        switch Self.category(name) {
        case .output:
            f = Self.unembeddingFormat(base, rowLength: shape[0])
        case .tokenEmbedding:
            // tied to the unembedding: quantized as the unembedding is
            if tiedEmbeddings { f = Self.unembeddingFormat(base, rowLength: shape[0]) }
        case .attentionV:
            switch t {
            case .q2_K: f = gqa >= 4 ? .q4_K : .q3_K
            case .q3_K_M: f = iAttentionV < 2 ? .q5_K : .q4_K
            case .q3_K_L: f = .q5_K
            case .q4_K_M, .q5_K_M: if Self.useMoreBits(iAttentionV, nAttentionV) { f = .q6_K }
            case .q4_K_S: if iAttentionV < 4 { f = .q5_K }
            case .iq4_nl, .iq4_xs: if gqa >= 4 { f = .q5_K }
            default: break
            }
            iAttentionV += 1
        case .ffnDown:
            let i = iFFNDown, n = nLayers
            switch t {
            case .q2_K: f = .q3_K
            case .q3_K_M: f = i < n / 16 ? .q5_K : .q4_K
            case .q3_K_L: f = .q5_K
            case .q4_K_M, .q5_K_M: if Self.useMoreBits(i, n) { f = .q6_K }
            case .q4_K_S, .iq4_nl, .iq4_xs: if i < n / 8 { f = .q5_K }  // (IQ4: without an importance matrix)
            default: break
            }
            iFFNDown += 1
        case .attentionOutput:
            switch t {
            case .q2_K: f = .q3_K
            case .q3_K_M: f = .q4_K
            case .q3_K_L: f = .q5_K
            default: break
            }
        default: break
        }
        // rows that are not whole blocks of the chosen format fall back (llama.cpp's tensor_type_fallback)
        if shape[0] % f.blockSize != 0 {
            let from = f
            switch f {
            case .q2_K, .q3_K: f = .q4_0
            case .q4_K: f = .q5_0
            case .q5_K: f = .q5_1
            case .q6_K: f = .q8_0
            case .iq4_xs: f = .iq4_nl
            default: break
            }
            if shape[0] % f.blockSize != 0 { f = .f16 }
            fallbacks.append((name, from, f))
        }
        return f
    }
}
