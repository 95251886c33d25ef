// EngineError: failures of loading a model or running it, each naming the file, tensor or limit involved.

public enum EngineError: Error, CustomStringConvertible, Equatable {
    case unsupportedArchitecture(String, path: String)
    case missingTensor(String, path: String)
    case badTensor(String, path: String, String)
    case badModel(path: String, String)
    /// A hyper-parameter outside its limits or inconsistent with the tensors; `key` is the source's own name.
    case badHyperParameter(path: String, key: String, value: String, detail: String)
    /// A value passed to the library (sampling settings, token counts) that it cannot use.
    case invalidArgument(String)
    case contextOverflow(needed: Int, limit: Int)
    case emptyPrompt
    case invalidToken(Int32, vocab: Int)
    case unsupportedOp(String, backend: String)
    case badCache(String)
    case badBatch(String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let arch, let path):
            "\(path): architecture '\(arch)' is not supported (supported: "
                + Architectures.names.joined(separator: ", ") + ")"
        case .missingTensor(let name, let path): "\(path): tensor '\(name)' is missing"
        case .badTensor(let name, let path, let detail): "\(path): tensor '\(name)': \(detail)"
        case .badModel(let path, let detail): "\(path): \(detail)"
        case .badHyperParameter(let path, let key, let value, let detail): "\(path): \(key) = \(value): \(detail)"
        case .invalidArgument(let detail): detail
        case .contextOverflow(let needed, let limit):
            "the prompt and generation need \(needed) positions but the context holds \(limit) "
                + "(raise --ctx, up to the model's training context, or shorten the prompt)"
        case .emptyPrompt: "the prompt is empty"
        case .invalidToken(let id, let vocab): "token id \(id) is outside the vocabulary (0..<\(vocab))"
        case .unsupportedOp(let op, let backend):
            "backend '\(backend)' cannot run this model: it does not support \(op)"
        case .badCache(let detail): "KV cache: \(detail)"
        case .badBatch(let detail): "batch: \(detail)"
        }
    }
}
