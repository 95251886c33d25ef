// ModelWeights: every weight of a model, uploaded to a backend once in its stored format.
// GGUF names follow llama.cpp's converter (token_embd, blk.N.attn_q, ...); shapes here are [rows, cols] = (N, K).
import GGUF
import GPTCore

/// The weights of one transformer block. Optional members exist only for some architectures.
public struct LayerWeights {
    public var attnNorm: any DeviceTensor  // (nEmbd)
    public var attnNormBias: (any DeviceTensor)?  // (nEmbd), gpt2
    public var wq: any DeviceTensor  // (nHeads*headDim, nEmbd)
    public var wk: any DeviceTensor  // (nKVHeads*headDim, nEmbd)
    public var wv: any DeviceTensor  // (nKVHeads*headDim, nEmbd)
    public var bq: (any DeviceTensor)?  // (nEmbd), gpt2
    public var bk: (any DeviceTensor)?  // (kvDim), gpt2
    public var bv: (any DeviceTensor)?  // (kvDim), gpt2
    public var wo: any DeviceTensor  // (nEmbd, nHeads*headDim)
    public var bo: (any DeviceTensor)?  // (nEmbd), gpt2
    public var ffnNorm: any DeviceTensor  // (nEmbd)
    public var ffnNormBias: (any DeviceTensor)?  // (nEmbd), gpt2
    public var wGate: (any DeviceTensor)?  // (nFF, nEmbd), llama
    public var wUp: any DeviceTensor  // (nFF, nEmbd)
    public var bUp: (any DeviceTensor)?  // (nFF), gpt2
    public var wDown: any DeviceTensor  // (nEmbd, nFF)
    public var bDown: (any DeviceTensor)?  // (nEmbd), gpt2
}

public final class ModelWeights {
    public let config: ModelConfig
    public let tokenEmbedding: any DeviceTensor  // (nVocab, nEmbd)
    public let positionEmbedding: (any DeviceTensor)?  // (nCtxTrain, nEmbd), gpt2
    public let layers: [LayerWeights]
    public let outputNorm: any DeviceTensor  // (nEmbd)
    public let outputNormBias: (any DeviceTensor)?  // (nEmbd), gpt2
    /// The unembedding (nVocab, nEmbd); the token embedding itself when the model ties them.
    public let output: any DeviceTensor
    /// Bytes uploaded to the backend.
    public let byteCount: Int

    /// Uploads every tensor the architecture needs from `file` to `backend`.
    public convenience init(file: GGUFFile, config: ModelConfig, backend: any Backend) throws {
        try self.init(source: file, config: config, backend: backend)
    }

    /// Uploads every tensor the architecture needs from `source` (a GGUF file or a converted checkpoint).
    public init(source: any WeightSource, config: ModelConfig, backend: any Backend) throws {
        self.config = config
        var loader = TensorLoader(source: source, backend: backend)
        let c = config
        let tied = source.tensorLayout("output.weight") == nil
        tokenEmbedding = try loader.load("token_embd.weight", [c.nVocab, c.nEmbd],
                                         for: tied ? [.embedding, .matmul] : [.embedding])
        outputNorm = try loader.load("output_norm.weight", [c.nEmbd])
        if !tied {
            output = try loader.load("output.weight", [c.nVocab, c.nEmbd])
        } else {
            output = tokenEmbedding
        }
        switch c.architecture {
        case .llama:
            positionEmbedding = nil
            outputNormBias = nil
            layers = try (0..<c.nLayers).map { i in
                let p = "blk.\(i)."
                return LayerWeights(
                    attnNorm: try loader.load(p + "attn_norm.weight", [c.nEmbd]), attnNormBias: nil,
                    wq: try loader.load(p + "attn_q.weight", [c.nHeads * c.headDim, c.nEmbd]),
                    wk: try loader.load(p + "attn_k.weight", [c.kvDim, c.nEmbd]),
                    wv: try loader.load(p + "attn_v.weight", [c.kvDim, c.nEmbd]),
                    bq: nil, bk: nil, bv: nil,
                    wo: try loader.load(p + "attn_output.weight", [c.nEmbd, c.nHeads * c.headDim]), bo: nil,
                    ffnNorm: try loader.load(p + "ffn_norm.weight", [c.nEmbd]), ffnNormBias: nil,
                    wGate: try loader.load(p + "ffn_gate.weight", [c.nFF, c.nEmbd]),
                    wUp: try loader.load(p + "ffn_up.weight", [c.nFF, c.nEmbd]), bUp: nil,
                    wDown: try loader.load(p + "ffn_down.weight", [c.nEmbd, c.nFF]), bDown: nil)
            }
        case .gpt2:
            positionEmbedding = try loader.load("position_embd.weight", [c.nCtxTrain, c.nEmbd], for: [.embedding])
            outputNormBias = try loader.load("output_norm.bias", [c.nEmbd])
            layers = try (0..<c.nLayers).map { i in
                let p = "blk.\(i)."
                // The fused QKV projection (3*nEmbd, nEmbd) is three contiguous row blocks: split it at load.
                let qkv = try loader.loadRows(p + "attn_qkv.weight", [3 * c.nEmbd, c.nEmbd], parts: 3)
                let qkvBias = try loader.loadRows(p + "attn_qkv.bias", [3 * c.nEmbd], parts: 3)
                return LayerWeights(
                    attnNorm: try loader.load(p + "attn_norm.weight", [c.nEmbd]),
                    attnNormBias: try loader.load(p + "attn_norm.bias", [c.nEmbd]),
                    wq: qkv[0], wk: qkv[1], wv: qkv[2], bq: qkvBias[0], bk: qkvBias[1], bv: qkvBias[2],
                    wo: try loader.load(p + "attn_output.weight", [c.nEmbd, c.nEmbd]),
                    bo: try loader.load(p + "attn_output.bias", [c.nEmbd]),
                    ffnNorm: try loader.load(p + "ffn_norm.weight", [c.nEmbd]),
                    ffnNormBias: try loader.load(p + "ffn_norm.bias", [c.nEmbd]),
                    wGate: nil,
                    wUp: try loader.load(p + "ffn_up.weight", [c.nFF, c.nEmbd]),
                    bUp: try loader.load(p + "ffn_up.bias", [c.nFF]),
                    wDown: try loader.load(p + "ffn_down.weight", [c.nEmbd, c.nFF]),
                    bDown: try loader.load(p + "ffn_down.bias", [c.nEmbd]))
            }
        }
        byteCount = loader.uploadedBytes
    }
}

/// Checks each tensor's shape and format against what the architecture expects, then uploads it.
struct TensorLoader {
    let source: any WeightSource
    let backend: any Backend
    var uploadedBytes = 0
    /// The address alignment a tensor needs to be computed on in place: GGUF's default alignment, which ggml
    /// assumes too. The C kernels load `float`s and block structs (with 2-byte f16 fields) relative to it.
    static let adoptAlignment = 32

    /// `shape` is [rows, cols]: GGUF stores it reversed (ne0 = cols first). `ops`: what a matrix is used for (the
    /// backend must run them in the tensor's format, checked here so a model fails at load, not mid-forward).
    mutating func load(_ name: String, _ shape: [Int], for ops: [OpKind] = [.matmul]) throws -> any DeviceTensor {
        try loadRows(name, shape, parts: 1, for: ops)[0]
    }

    /// Loads a tensor split into `parts` equal blocks of rows.
    mutating func loadRows(_ name: String, _ shape: [Int], parts: Int, for ops: [OpKind] = [.matmul]) throws
        -> [any DeviceTensor]
    {
        guard let info = source.tensorLayout(name) else { throw EngineError.missingTensor(name, path: source.path) }
        let expected = Array(shape.reversed())
        guard info.shape == expected || (shape.count == 1 && info.shape.first == shape[0] && info.shape.count <= 2 && info.shape.dropFirst().allSatisfy { $0 == 1 }) else {
            throw EngineError.badTensor(name, path: source.path, "shape \(info.shape), expected \(expected)")
        }
        if shape.count == 1 && info.format != .f32 {
            throw EngineError.badTensor(name, path: source.path, "vectors must be F32, found \(info.format)")
        }
        if shape.count == 2, let op = ops.first(where: { !backend.supports($0, info.format) }) {
            let runs = WeightFormat.allCases.filter { backend.supports(op, $0) }
            throw EngineError.badTensor(
                name, path: source.path,
                "\(info.format.ggmlName) weights, which backend '\(backend.name)' cannot use for \(op) "
                    + "(it runs \(op) on \(WeightFormat.names(runs)))")
        }
        let partRows = shape[0] / parts
        let partShape = shape.count == 1 ? [partRows] : [partRows] + shape.dropFirst()
        let partBytes = info.format.byteCount(partShape.reduce(1, *))
        var tensors: [any DeviceTensor] = []
        // Zero copy where the backend computes from host memory, the bytes live as long as the source, and they
        // are aligned for the kernels (a file written with general.alignment = 1 places tensors anywhere).
        if parts == 1, let bytes = source.persistentBytes(name), bytes.count == partBytes,
            Int(bitPattern: bytes.baseAddress) % Self.adoptAlignment == 0,
            let t = try backend.adopt(partShape, info.format, bytes: bytes, owner: source, label: name)
        {
            uploadedBytes += partBytes
            return [t]
        }
        try source.withTensorBytes(name) { raw in try Self.withAligned(raw) { bytes in
            guard bytes.count == parts * partBytes else {
                throw EngineError.badTensor(name, path: source.path, "\(bytes.count) bytes, expected \(parts * partBytes)")
            }
            for part in 0..<parts {
                let label = parts == 1 ? name : "\(name)[\(part)]"
                let t = try backend.allocate(partShape, info.format, label: label)
                let slice = UnsafeRawBufferPointer(rebasing: bytes[(part * partBytes)..<((part + 1) * partBytes)])
                try backend.write(t, from: slice)
                tensors.append(t)
            }
        } }
        uploadedBytes += parts * partBytes
        return tensors
    }

    /// Calls `body` with `bytes`, or with an aligned copy when they do not start at `adoptAlignment`: a backend's
    /// `write` may read them with the kernels (BLAS dequantizes at load).
    static func withAligned<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R)
        rethrows -> R
    {
        guard let base = bytes.baseAddress, Int(bitPattern: base) % adoptAlignment != 0 else { return try body(bytes) }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: adoptAlignment)
        defer { copy.deallocate() }
        copy.copyMemory(from: bytes)
        return try body(UnsafeRawBufferPointer(copy))
    }
}
