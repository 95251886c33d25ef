// SafeTensorsError: every failure of reading a .safetensors file, naming the file and, where there is one, the tensor.

/// An error opening or reading a safetensors file.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file cannot be opened or mapped (missing, unreadable, not a regular file).
    case cannotOpen(path: String, reason: String)
    /// The file ends before the 8-byte header length, the header, or the data it describes.
    case truncated(path: String, detail: String)
    /// The JSON header is not valid (bad JSON, not an object, an entry without dtype/shape/data_offsets).
    case badHeader(path: String, detail: String)
    /// One tensor's entry is inconsistent (offsets out of range, size not matching shape and dtype, overlap).
    case badTensor(path: String, tensor: String, detail: String)
    /// The tensor is not in the file.
    case missingTensor(path: String, tensor: String)
    /// The tensor's dtype cannot be read as floats (only F32, F16 and BF16 can).
    case unsupportedDType(path: String, tensor: String, dtype: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "\(path): cannot open: \(reason)"
        case .truncated(let path, let detail): "\(path): truncated safetensors file: \(detail)"
        case .badHeader(let path, let detail): "\(path): bad safetensors header: \(detail)"
        case .badTensor(let path, let tensor, let detail): "\(path): tensor '\(tensor)': \(detail)"
        case .missingTensor(let path, let tensor): "\(path): tensor '\(tensor)' is missing"
        case .unsupportedDType(let path, let tensor, let dtype):
            "\(path): tensor '\(tensor)' has dtype \(dtype); only F32, F16 and BF16 can be read as floats"
        }
    }
}
