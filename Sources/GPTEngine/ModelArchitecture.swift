// ModelArchitecture: what one model family is — its hyper-parameters, its tensors' names and shapes, and its forward
// pass spelled out as a plan of ops. One file per architecture (Architectures/*.swift), each exporting an
// `ArchitectureEntry`; `Architectures.all` lists them once, as AllBackends lists the backends.
// Not here: running the plan (TransformerExecutor), the KV cache (KVCache), the op values (GPTCore's Op).
import GGUF
import GPTCore

/// One model family.
public protocol ModelArchitecture: Sendable {
    /// The numbers every architecture has; the executor sizes its buffers and the KV cache from them.
    var config: ModelConfig { get }
    /// Loads the weights through `plan` (which checks each tensor's shape) and appends the forward pass, top to
    /// bottom, as plan steps.
    func build(_ plan: PlanBuilder) throws
    /// The weights by group (`gpt params`, `gpt inspect`), every tensor of the file counted once: `has` says
    /// which optional tensors the file holds (`output.weight`: an unembedding of its own, not tied; biases, RoPE
    /// factors).
    func parameterCount(has: (String) -> Bool) throws -> ParameterCount
    /// Whether queries and keys are rotated (RoPE): the hyper-parameter check then wants an even head size.
    var rotary: Bool { get }
}

extension ModelArchitecture {
    public var rotary: Bool { true }

    /// The count without a file: `tied`, the unembedding is the token embedding; no other optional tensor.
    public func parameterCount(tied: Bool) throws -> ParameterCount {
        try parameterCount(has: { $0 == "output.weight" && !tied })
    }

    /// The count of the tensors `file` holds.
    public func parameterCount(_ file: GGUFFile) throws -> ParameterCount {
        try parameterCount(has: { file.tensor($0) != nil })
    }
}

extension ModelConfig {
    /// The common numbers of a GGUF file's `<arch>.*` keys, checked (ModelConfig+Validation) with the file's
    /// key names; architectures call this from their GGUF initialisers, after setting what they read themselves.
    /// RoPE scaling that no architecture applies (a linear or YaRN factor: rope.scaling.factor, the older
    /// rope.scale_linear) is refused here rather than run with the wrong positions.
    public static func checked(_ config: ModelConfig, file: GGUFFile, rotary: Bool = true) throws -> ModelConfig {
        try config.validate(path: file.path, key: ggufKey(config.architecture), rotary: rotary)
        for name in ["rope.scaling.factor", "rope.scale_linear"] {
            let key = "\(config.architecture).\(name)"
            if let factor = try file.float(ifPresent: key), factor != 0, factor != 1 {
                throw GGUFError.invalidValue(path: file.path, key: key,
                                             detail: "\(factor): RoPE scaling by a factor is not supported")
            }
        }
        return config
    }
}

/// An architecture whose GGUF hyper-parameters are the common keys alone (block_count, embedding_length,
/// attention.head_count[_kv], rope.freq_base, attention.layer_norm_rms_epsilon, ...): it is made from its config.
public protocol ReadsCommonKeys: ModelArchitecture {
    init(config: ModelConfig)
}

extension ReadsCommonKeys {
    /// Reads and checks the common keys of `file`.
    public init(_ file: GGUFFile) throws {
        self.init(config: try .checked(ModelConfig(try ModelHyperParameters(file)), file: file))
    }
}

/// How an architecture registers itself: its `general.architecture` name and how to read a GGUF file's
/// hyper-parameters into it.
public struct ArchitectureEntry: Sendable {
    public let name: String
    public let make: @Sendable (GGUFFile) throws -> any ModelArchitecture

    public init(name: String, make: @escaping @Sendable (GGUFFile) throws -> any ModelArchitecture) {
        self.name = name
        self.make = make
    }
}

public enum Architectures {
    /// Every architecture SwiftGPT runs, one line each.
    public static let all: [ArchitectureEntry] = [.llama, .gpt2, .gemma3, .qwen2, .phi3]

    public static var names: [String] { all.map(\.name) }

    /// The architecture of a GGUF file, with its hyper-parameters read and checked.
    /// - Throws: `EngineError.unsupportedArchitecture` naming the supported ones; the architecture's own errors.
    public static func make(_ file: GGUFFile) throws -> any ModelArchitecture {
        let name = try file.string("general.architecture")
        guard let entry = all.first(where: { $0.name == name }) else {
            throw EngineError.unsupportedArchitecture(name, path: file.path)
        }
        return try entry.make(file)
    }
}

// MARK: - Loading tensors

/// Checks each tensor's shape and format against what the architecture expects, then uploads it (or adopts the
/// mapped bytes in place).
public struct TensorLoader {
    let source: any WeightSource
    let backend: any Backend
    public private(set) var uploadedBytes = 0
    /// The address alignment a tensor needs to be computed on in place: GGUF's default alignment, which ggml
    /// assumes too. The C kernels load `float`s and block structs (with 2-byte f16 fields) relative to it.
    static let adoptAlignment = 32

    public init(source: any WeightSource, backend: any Backend) {
        self.source = source
        self.backend = backend
    }

    /// Whether the source has tensor `name` (optional tensors: biases, an untied output).
    public func has(_ name: String) -> Bool { source.tensorLayout(name) != nil }

    /// `shape` is [rows, cols]: GGUF stores it reversed (ne0 = cols first). `ops`: what a matrix is used for (the
    /// backend must run them in the tensor's format, checked before any byte is uploaded).
    public mutating func load(_ name: String, _ shape: [Int], for ops: [OpKind] = [.matmul]) throws
        -> any DeviceTensor
    {
        try loadRows(name, shape, split: [shape[0]], for: ops)[0]
    }

    /// Loads a tensor split into blocks of `split[i]` rows each (Σ split = shape[0]): a fused projection (QKV,
    /// gate and up) into its parts.
    public mutating func loadRows(_ name: String, _ shape: [Int], split: [Int], for ops: [OpKind] = [.matmul]) throws
        -> [any DeviceTensor]
    {
        guard let info = source.tensorLayout(name) else { throw EngineError.missingTensor(name, path: source.path) }
        let expected = Array(shape.reversed())
        let isVector = shape.count == 1 && info.shape.first == shape[0] && info.shape.count <= 2
            && info.shape.dropFirst().allSatisfy { $0 == 1 }
        guard info.shape == expected || isVector else {
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
        precondition(split.reduce(0, +) == shape[0], "the parts must cover the rows")
        let rowElements = shape.dropFirst().reduce(1, *)
        guard rowElements % info.format.blockSize == 0 else {
            throw EngineError.badTensor(
                name, path: source.path, "rows of \(rowElements) do not fill \(info.format) blocks of \(info.format.blockSize)")
        }
        let partShapes = split.map { shape.count == 1 ? [$0] : [$0] + shape.dropFirst() }
        let partBytes = partShapes.map { info.format.byteCount($0.reduce(1, *)) }
        let total = partBytes.reduce(0, +)
        // Zero copy where the backend computes from host memory, the bytes live as long as the source, and they
        // are aligned for the kernels (a file written with general.alignment = 1 places tensors anywhere).
        if split.count == 1, let bytes = source.persistentBytes(name), bytes.count == total,
            Int(bitPattern: bytes.baseAddress) % Self.adoptAlignment == 0,
            let t = try backend.adopt(partShapes[0], info.format, bytes: bytes, owner: source, label: name)
        {
            uploadedBytes += total
            return [t]
        }
        var tensors: [any DeviceTensor] = []
        try source.withTensorBytes(name) { raw in try Self.withAligned(raw) { bytes in
            guard bytes.count == total else {
                throw EngineError.badTensor(name, path: source.path, "\(bytes.count) bytes, expected \(total)")
            }
            var offset = 0
            for (part, partShape) in partShapes.enumerated() {
                let label = split.count == 1 ? name : "\(name)[\(part)]"
                let t = try backend.allocate(partShape, info.format, label: label)
                try backend.write(t, from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + partBytes[part])]))
                offset += partBytes[part]
                tensors.append(t)
            }
        } }
        uploadedBytes += total
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
