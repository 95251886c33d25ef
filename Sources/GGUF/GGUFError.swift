// GGUFError: every failure the GGUF reader and writer report. Each message names the file and the problem
// (offset, key or tensor), so a user can tell a truncated download from an unsupported quantization.

import GPTCore

/// An error reading, validating or writing a GGUF file.
public enum GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, stat'ed or mapped.
    case cannotOpen(path: String, reason: String)
    /// The file does not start with the magic "GGUF".
    case notGGUF(path: String, detail: String)
    /// The header's version is not 2 or 3.
    case unsupportedVersion(path: String, version: UInt32)
    /// `what` at `offset` needs `needed` bytes, but the file ends first (or a count is absurd for the file size).
    case truncated(path: String, offset: Int, needed: Int, fileSize: Int, what: String)
    /// A structural problem in the header or metadata (unknown value type, nesting too deep, bad count).
    case corrupt(path: String, offset: Int, detail: String)
    /// The same metadata key appears twice.
    case duplicateKey(path: String, key: String)
    /// A tensor's ggml type id is not one SwiftGPT computes with (see `WeightFormat`).
    case unknownTensorType(path: String, tensor: String, typeID: UInt32)
    /// A tensor's shape, offset or size is invalid.
    case invalidTensor(path: String, tensor: String, detail: String)
    /// Two tensors share a name.
    case duplicateTensor(path: String, tensor: String)
    /// A required metadata key is absent.
    case missingKey(path: String, key: String)
    /// A metadata key holds a value of another type than the one asked for.
    case wrongType(path: String, key: String, expected: String, actual: String)
    /// A metadata value has the right type but an unusable value (e.g. alignment not a power of two).
    case invalidValue(path: String, key: String, detail: String)
    /// `general.architecture` names a model family SwiftGPT does not run.
    case unsupportedArchitecture(path: String, architecture: String)
    /// Writing a GGUF file failed.
    case writeFailed(path: String, reason: String)

    /// The file the error is about (`"<GGUFWriter>"` for writer input errors, the name given for in-memory files).
    public var path: String {
        switch self {
        case .cannotOpen(let path, _), .notGGUF(let path, _), .unsupportedVersion(let path, _),
            .truncated(let path, _, _, _, _), .corrupt(let path, _, _), .duplicateKey(let path, _),
            .unknownTensorType(let path, _, _), .invalidTensor(let path, _, _), .duplicateTensor(let path, _),
            .missingKey(let path, _), .wrongType(let path, _, _, _), .invalidValue(let path, _, _),
            .unsupportedArchitecture(let path, _), .writeFailed(let path, _):
            path
        }
    }

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open GGUF file \(path): \(reason)"
        case .notGGUF(let path, let detail):
            "\(path) is not a GGUF file: \(detail)"
        case .unsupportedVersion(let path, let version):
            "\(path): GGUF version \(version) is not supported (SwiftGPT reads versions 2 and 3)"
                + (version > 0xFFFF ? "; the file may be big-endian, which SwiftGPT does not read" : "")
        case .truncated(let path, let offset, let needed, let fileSize, let what):
            "\(path) is truncated or corrupt: \(what) at offset \(offset) needs \(needed) bytes, "
                + "but the file has only \(max(0, fileSize - offset)) left (file size \(fileSize))"
        case .corrupt(let path, let offset, let detail):
            "\(path) is corrupt at offset \(offset): \(detail)"
        case .duplicateKey(let path, let key):
            "\(path): metadata key '\(key)' appears more than once"
        case .unknownTensorType(let path, let tensor, let typeID):
            "\(path): tensor '\(tensor)' has ggml type \(typeID)\(ggmlTypeSuffix(typeID)), which SwiftGPT does not "
                + "support (supported: \(WeightFormat.names(WeightFormat.allCases)))"
        case .invalidTensor(let path, let tensor, let detail):
            "\(path): tensor '\(tensor)': \(detail)"
        case .duplicateTensor(let path, let tensor):
            "\(path): tensor name '\(tensor)' appears more than once"
        case .missingKey(let path, let key):
            "\(path): metadata key '\(key)' is missing"
        case .wrongType(let path, let key, let expected, let actual):
            "\(path): metadata key '\(key)' holds \(actual), expected \(expected)"
        case .invalidValue(let path, let key, let detail):
            "\(path): metadata key '\(key)': \(detail)"
        case .unsupportedArchitecture(let path, let architecture):
            "\(path): architecture '\(architecture)' is not supported (supported: llama, gpt2)"
        case .writeFailed(let path, let reason):
            "cannot write GGUF file \(path): \(reason)"
        }
    }
}

// MARK: - ggml type names (for messages only)

/// The names of ggml type ids, from ggml.h `enum ggml_type` (ids 4 and 5, the removed Q4_2/Q4_3, are gaps).
let ggmlTypeNames: [UInt32: String] = [
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
    16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
    24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0",
    39: "MXFP4",
]

private func ggmlTypeSuffix(_ typeID: UInt32) -> String {
    ggmlTypeNames[typeID].map { " (\($0))" } ?? " (unknown to ggml)"
}
