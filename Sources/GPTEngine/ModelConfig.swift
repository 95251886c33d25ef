// ModelConfig: the numbers every architecture has (layers, widths, heads, vocabulary, context), which the executor
// sizes its buffers and the KV cache from. What differs between architectures (norms, positions, MLP, biases,
// attention windows) is not here: it is spelled out in each architecture's file (Architectures/*.swift).
import GGUF
import GPTCore

public struct ModelConfig: Sendable, Equatable {
    /// `general.architecture`: the registered architecture that runs the model ("llama", "gpt2", ...).
    public var architecture: String
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
    public var normEps: Float

    /// Width of a key or value row: nKVHeads * headDim.
    public var kvDim: Int { nKVHeads * headDim }
    /// Width of the queries and of the attention output: nHeads * headDim (nEmbd, except where the head size is
    /// set on its own, as Gemma 3's attention.key_length).
    public var qDim: Int { nHeads * headDim }

    public init(
        architecture: String, nLayers: Int, nEmbd: Int, nFF: Int, nHeads: Int, nKVHeads: Int, headDim: Int,
        nCtxTrain: Int, nVocab: Int, ropeFreqBase: Float = 10000, normEps: Float = 1e-5
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
        self.normEps = normEps
    }

    /// The common numbers of a GGUF file's hyper-parameters.
    public init(_ hp: ModelHyperParameters) {
        self.init(
            architecture: hp.architecture, nLayers: hp.nLayers, nEmbd: hp.nEmbd, nFF: hp.nFF, nHeads: hp.nHeads,
            nKVHeads: hp.nKVHeads, headDim: hp.headDim, nCtxTrain: hp.nCtx, nVocab: hp.nVocab,
            ropeFreqBase: hp.ropeFreqBase, normEps: hp.normEps)
    }
}
