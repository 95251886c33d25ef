// ModelConfig: an architecture described as data. The executor reads these fields; it has no per-model branches
// beyond the ones named here (norm kind, position encoding, MLP kind, biases).
import GGUF
import GPTCore

/// The decoder families SwiftGPT runs.
public enum Architecture: String, Sendable, CaseIterable {
    /// RMSNorm, rotary positions, SwiGLU MLP, no biases (llama, SmolLM2).
    case llama
    /// LayerNorm with bias, learned positions, GELU MLP, biases everywhere (GPT-2, GPT-3).
    case gpt2
}

public struct ModelConfig: Sendable, Equatable {
    public var architecture: Architecture
    public var nLayers: Int
    public var nEmbd: Int
    public var nFF: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var headDim: Int
    /// Context the model was trained for.
    public var nCtxTrain: Int
    public var nVocab: Int
    public var ropeFreqBase: Float
    public var ropeStyle: RopeStyle
    public var normEps: Float

    public var kvDim: Int { nKVHeads * headDim }
    public var usesRope: Bool { architecture == .llama }

    public init(
        architecture: Architecture, nLayers: Int, nEmbd: Int, nFF: Int, nHeads: Int, nKVHeads: Int, headDim: Int,
        nCtxTrain: Int, nVocab: Int, ropeFreqBase: Float = 10000, ropeStyle: RopeStyle = .adjacent,
        normEps: Float = 1e-5
    ) {
        self.architecture = architecture
        self.nLayers = nLayers
        self.nEmbd = nEmbd
        self.nFF = nFF
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads
        self.headDim = headDim
        self.nCtxTrain = nCtxTrain
        self.nVocab = nVocab
        self.ropeFreqBase = ropeFreqBase
        self.ropeStyle = ropeStyle
        self.normEps = normEps
    }

    /// Reads the typed hyper-parameters of a GGUF file.
    public init(_ hp: ModelHyperParameters, path: String) throws {
        guard let arch = Architecture(rawValue: hp.architecture) else {
            throw EngineError.unsupportedArchitecture(hp.architecture, path: path)
        }
        self.init(
            architecture: arch, nLayers: hp.nLayers, nEmbd: hp.nEmbd, nFF: hp.nFF, nHeads: hp.nHeads,
            nKVHeads: hp.nKVHeads, headDim: hp.headDim, nCtxTrain: hp.nCtx, nVocab: hp.nVocab,
            ropeFreqBase: hp.ropeFreqBase, ropeStyle: .adjacent, normEps: hp.normEps)
        guard nHeads > 0, nKVHeads > 0, nHeads % nKVHeads == 0, nEmbd == nHeads * headDim else {
            throw EngineError.badModel(
                path: path, "heads (\(nHeads)) must be a multiple of KV heads (\(nKVHeads)) and divide nEmbd (\(nEmbd))")
        }
        try validate(path: path, key: Self.ggufKey(hp.architecture))
    }
}
