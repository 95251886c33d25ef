// HFCheckpointError: failures of reading a Hugging Face checkpoint folder, each naming the file and key or tensor.

/// An error opening a Hugging Face model folder (config.json, safetensors, tokenizer files).
public enum HFCheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `path` is not a folder, or a required file is missing (`what` says which files would do).
    case missingFile(folder: String, what: String)
    /// A JSON file is not valid, or a key has the wrong type or value.
    case badConfig(file: String, key: String, detail: String)
    /// config.json describes a model SwiftGPT does not run (`model_type`, activation, attention variant).
    case unsupportedModel(file: String, detail: String)
    /// A weight is absent from every safetensors file of the folder.
    case missingTensor(folder: String, tensor: String)
    /// A weight has the wrong shape or dtype.
    case badTensor(file: String, tensor: String, detail: String)
    /// The tokenizer files are inconsistent (ids outside the vocabulary, a bad merge line).
    case badTokenizer(file: String, detail: String)

    public var description: String {
        switch self {
        case .missingFile(let folder, let what): "\(folder): \(what)"
        case .badConfig(let file, let key, let detail): "\(file): '\(key)': \(detail)"
        case .unsupportedModel(let file, let detail): "\(file): \(detail)"
        case .missingTensor(let folder, let tensor): "\(folder): no safetensors file holds tensor '\(tensor)'"
        case .badTensor(let file, let tensor, let detail): "\(file): tensor '\(tensor)': \(detail)"
        case .badTokenizer(let file, let detail): "\(file): \(detail)"
        }
    }
}
