// ModelConfig+Validation: the one check of a model's hyper-parameters, for every source (GGUF metadata, a Hugging
// Face config.json, a configuration built in code). Every count and size is checked against sane limits, then
// against the tensors the source really holds, before anything is allocated, so that a file claiming 2^31 layers
// or a 10^12-wide embedding fails with an error naming the key and value instead of an allocation that aborts.
// Each source names its own keys (`llama.block_count`, `n_layer`) through `key(_:)`.
import GPTCore
import Tokenization

extension ModelConfig {
    /// The hyper-parameters `validate` checks, named for error messages by each source.
    public enum Field: String, CaseIterable, Sendable {
        case nLayers, nEmbd, nFF, nHeads, nKVHeads, headDim, nCtxTrain, nVocab, ropeFreqBase, normEps
    }

    /// Accepted ranges of the counts. Each is far beyond the largest published decoder, so no real model is
    /// refused, yet small enough that every size below fits in 64 bits: Llama 3.1 405B has 126 layers, width
    /// 16384, MLP 53248, 128 heads, head size 128; Gemma 3 has 262144 tokens and head size 256; Llama 4 Scout
    /// trains on 10M positions.
    public static let limits: [Field: ClosedRange<Int>] = [
        .nLayers: 1...1024,
        .nEmbd: 1...65536,
        .nFF: 1...(1 << 20),
        .nHeads: 1...1024,
        .nKVHeads: 1...1024,
        .headDim: 1...1024,
        .nCtxTrain: 1...(1 << 24),
        .nVocab: 1...(1 << 22),
    ]
    /// Norm epsilon: positive and at most 1 (models use 1e-12 to 1e-5; 0 divides by zero on a zero row).
    public static let normEpsLimits: ClosedRange<Float> = Float.leastNormalMagnitude...1
    /// RoPE base: at least 1 (below 1 the "frequencies" grow with the dimension) and at most 1e12 (models use 1e4
    /// to 1e8).
    public static let ropeFreqBaseLimits: ClosedRange<Float> = 1...1e12

    /// Checks every number against `limits` and the relations between them, with overflow-checked sizes.
    /// - Parameters:
    ///   - path: the file or folder, for messages.
    ///   - key: the source's name of a field (`llama.block_count`, `n_layer`).
    ///   - rotary: the architecture rotates queries and keys (then the head size must be even and the RoPE base
    ///     sane); its `ModelArchitecture.rotary`.
    /// - Throws: `EngineError.badHyperParameter` naming the key and value.
    public func validate(path: String, key: (Field) -> String = { $0.rawValue }, rotary: Bool = true)
        throws(EngineError)
    {
        func bad(_ field: Field, _ value: Any, _ detail: String) -> EngineError {
            .badHyperParameter(path: path, key: key(field), value: "\(value)", detail: detail)
        }
        let counts: [(Field, Int)] = [
            (.nLayers, nLayers), (.nEmbd, nEmbd), (.nFF, nFF), (.nHeads, nHeads), (.nKVHeads, nKVHeads),
            (.headDim, headDim), (.nCtxTrain, nCtxTrain), (.nVocab, nVocab),
        ]
        for (field, value) in counts {
            let range = Self.limits[field]!
            guard range.contains(value) else {
                throw bad(field, value, "outside \(range.lowerBound)...\(range.upperBound)")
            }
        }
        guard nKVHeads <= nHeads, nHeads % nKVHeads == 0 else {
            throw bad(.nKVHeads, nKVHeads, "\(nHeads) query heads are not a multiple of \(nKVHeads) key/value heads")
        }
        guard !rotary || headDim % 2 == 0 else {
            throw bad(.headDim, headDim, "rotary embeddings rotate pairs: the head size must be even")
        }
        guard normEps.isFinite, Self.normEpsLimits.contains(normEps) else {
            throw bad(.normEps, normEps, "must be a finite number in (0, 1]")
        }
        guard !rotary || (ropeFreqBase.isFinite && Self.ropeFreqBaseLimits.contains(ropeFreqBase)) else {
            throw bad(.ropeFreqBase, ropeFreqBase, "must be a finite number in 1...1e12")
        }
        // The largest sizes the engine computes: every weight, and the KV cache at the training context.
        do {
            _ = try CheckedSize.product([nVocab, nEmbd], "token embedding elements")
            _ = try CheckedSize.product([nLayers, nFF, nEmbd, 3], "MLP weight elements")
            _ = try CheckedSize.product([nLayers, nCtxTrain, nKVHeads, headDim, 2 * 4], "KV cache bytes")
        } catch {
            throw .badModel(path: path, error.description)
        }
    }

    /// Checks the configuration against what `source` holds before anything is allocated: the token embedding
    /// is (nVocab, nEmbd), the last block exists, and the tokenizer has a text for every embedding row.
    /// - Throws: `EngineError.badHyperParameter`, `.missingTensor` or `.badTensor`.
    public func validate(against source: any WeightSource, tokenizer: BPETokenizer?,
                         key: (Field) -> String = { $0.rawValue }) throws(EngineError) {
        let path = source.path
        guard let embedding = source.tensorLayout("token_embd.weight") else {
            throw .missingTensor("token_embd.weight", path: path)
        }
        guard embedding.shape == [nEmbd, nVocab] else {
            throw .badTensor(
                "token_embd.weight", path: path,
                "shape \(embedding.shape), but \(key(.nEmbd)) = \(nEmbd) and \(key(.nVocab)) = \(nVocab)")
        }
        let lastBlock = "blk.\(nLayers - 1).attn_norm.weight"
        guard source.tensorLayout(lastBlock) != nil else {
            throw .badHyperParameter(
                path: path, key: key(.nLayers), value: "\(nLayers)", detail: "no tensor '\(lastBlock)' in the file")
        }
        if let tokenizer, tokenizer.vocabSize < nVocab {
            throw .badHyperParameter(
                path: path, key: key(.nVocab), value: "\(nVocab)",
                detail: "the tokenizer has only \(tokenizer.vocabSize) tokens for \(nVocab) embedding rows "
                    + "(sampled ids past the vocabulary would have no text)")
        }
    }

    /// The GGUF key of each field for architecture `arch` (llama.cpp's names).
    public static func ggufKey(_ arch: String) -> (Field) -> String {
        { field in
            let name: String
            switch field {
            case .nLayers: name = "block_count"
            case .nEmbd: name = "embedding_length"
            case .nFF: name = "feed_forward_length"
            case .nHeads: name = "attention.head_count"
            case .nKVHeads: name = "attention.head_count_kv"
            case .headDim: name = "attention.key_length"
            case .nCtxTrain: name = "context_length"
            case .nVocab: name = "vocab_size"
            case .ropeFreqBase: name = "rope.freq_base"
            case .normEps: name = arch == "gpt2" ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"
            }
            return "\(arch).\(name)"
        }
    }
}
