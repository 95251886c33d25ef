// ModelHyperParameters: the typed architecture numbers of a GGUF model (layers, widths, heads, RoPE, norm epsilon),
// read from the "<arch>.<key>" metadata with llama.cpp's defaults. Limits and the tensors are checked by
// GPTEngine's ModelConfig.validate (one check for GGUF and Hugging Face models alike).

/// The hyper-parameters of a llama- or gpt2-family model.
public struct ModelHyperParameters: Sendable, Equatable {
    /// Architectures whose keys this type knows.
    public static let supportedArchitectures = ["llama", "gpt2", "gemma3", "qwen2", "phi3"]

    public var architecture: String  // "llama" | "gpt2"
    public var nLayers: Int  // <arch>.block_count
    public var nEmbd: Int  // <arch>.embedding_length
    public var nFF: Int  // <arch>.feed_forward_length
    public var nHeads: Int  // <arch>.attention.head_count
    public var nKVHeads: Int  // <arch>.attention.head_count_kv, default nHeads
    public var nCtx: Int  // <arch>.context_length (training context)
    public var nVocab: Int  // <arch>.vocab_size, else the length of tokenizer.ggml.tokens
    public var headDim: Int  // <arch>.attention.key_length, default nEmbd / nHeads
    public var ropeDim: Int  // <arch>.rope.dimension_count, default headDim
    public var ropeFreqBase: Float  // <arch>.rope.freq_base, default 10000
    public var normEps: Float  // llama: attention.layer_norm_rms_epsilon; gpt2: attention.layer_norm_epsilon

    public init(
        architecture: String, nLayers: Int, nEmbd: Int, nFF: Int, nHeads: Int, nKVHeads: Int, nCtx: Int,
        nVocab: Int, headDim: Int, ropeDim: Int, ropeFreqBase: Float, normEps: Float
    ) {
        self.architecture = architecture
        self.nLayers = nLayers
        self.nEmbd = nEmbd
        self.nFF = nFF
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads
        self.nCtx = nCtx
        self.nVocab = nVocab
        self.headDim = headDim
        self.ropeDim = ropeDim
        self.ropeFreqBase = ropeFreqBase
        self.normEps = normEps
    }

    /// Reads and checks the hyper-parameters of `file`.
    /// - Throws: `GGUFError.unsupportedArchitecture`, `.missingKey`, `.wrongType`, or `.invalidValue` when the
    ///   numbers are inconsistent (nEmbd not divisible by nHeads, nHeads not a multiple of nKVHeads, ...).
    public init(_ file: GGUFFile) throws {
        let arch = try file.string("general.architecture")
        guard Self.supportedArchitectures.contains(arch) else {
            throw GGUFError.unsupportedArchitecture(path: file.path, architecture: arch)
        }
        func key(_ name: String) -> String { "\(arch).\(name)" }
        func positive(_ name: String, _ value: Int) throws -> Int {
            guard value > 0 else {
                throw GGUFError.invalidValue(path: file.path, key: key(name), detail: "\(value) is not positive")
            }
            return value
        }

        architecture = arch
        nLayers = try positive("block_count", try file.int(key("block_count")))
        nEmbd = try positive("embedding_length", try file.int(key("embedding_length")))
        nFF = try positive("feed_forward_length", try file.int(key("feed_forward_length")))
        nHeads = try positive("attention.head_count", try file.int(key("attention.head_count")))
        nKVHeads = try positive(
            "attention.head_count_kv", try file.int(key("attention.head_count_kv"), default: nHeads) ?? nHeads)
        nCtx = try positive("context_length", try file.int(key("context_length")))
        if let vocab = try file.int(ifPresent: key("vocab_size")) {
            nVocab = try positive("vocab_size", vocab)
        } else if let count = file.arrayCount("tokenizer.ggml.tokens") {
            nVocab = count
        } else {
            throw GGUFError.missingKey(path: file.path, key: "\(key("vocab_size")) (or tokenizer.ggml.tokens)")
        }
        // The head size: attention.key_length where the file sets it (Gemma 3: 256 with nEmbd 640 over 4 heads),
        // else nEmbd / nHeads.
        let keyLength = try file.int(ifPresent: key("attention.key_length"))
        guard keyLength != nil || nEmbd % nHeads == 0 else {
            throw GGUFError.invalidValue(
                path: file.path, key: key("attention.head_count"),
                detail: "embedding length \(nEmbd) is not divisible by \(nHeads) heads")
        }
        guard nHeads % nKVHeads == 0 else {
            throw GGUFError.invalidValue(
                path: file.path, key: key("attention.head_count_kv"),
                detail: "\(nHeads) query heads are not a multiple of \(nKVHeads) key/value heads")
        }
        headDim = try keyLength.map { try positive("attention.key_length", $0) } ?? nEmbd / nHeads
        ropeDim = try positive("rope.dimension_count", try file.int(ifPresent: key("rope.dimension_count")) ?? headDim)
        // Every supported architecture rotates whole heads; a partial rotary model would run with wrong positions.
        guard ropeDim == headDim else {
            throw GGUFError.invalidValue(
                path: file.path, key: key("rope.dimension_count"),
                detail: "\(ropeDim) differs from the head size \(headDim) (partial rotary embeddings are not supported)")
        }
        ropeFreqBase = try file.float(ifPresent: key("rope.freq_base")) ?? 10000
        let epsKey = arch == "gpt2" ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"
        normEps = try file.float(key(epsKey))
    }
}
