// WeightSource: where ModelWeights reads tensors from. A GGUF file is one (its tensors as stored, zero-copy); a
// converted checkpoint (HFCheckpoint's Hugging Face folder) is another, renaming and transposing on the fly.
// Names, shapes and formats are GGUF's (llama.cpp's tensor names, ggml dimension order), so the loader has one
// vocabulary whatever the file.
import GGUF
import GPTCore

/// A read-only set of named tensors in GGUF naming and layout.
public protocol WeightSource: AnyObject {
    /// The file or folder, for error messages.
    var path: String { get }
    /// The shape (ggml order: `shape[0]` = elements per row) and format of tensor `name`, or nil if absent.
    func tensorLayout(_ name: String) -> (shape: [Int], format: WeightFormat)?
    /// Calls `body` with the tensor's data in the format `tensorLayout` gives (valid only during the call).
    /// - Throws: `EngineError.missingTensor`, or the source's own error if the data cannot be read.
    func withTensorBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
    /// The tensor's bytes if they stay valid as long as this source lives (a mapped file), so that a backend may
    /// compute on them in place; nil where the data is made on the fly.
    func persistentBytes(_ name: String) -> UnsafeRawBufferPointer?
    /// The names of every tensor the source holds (for scans such as `nonFiniteTensors`).
    var tensorNames: [String] { get }
}

extension WeightSource {
    public func persistentBytes(_ name: String) -> UnsafeRawBufferPointer? { nil }
    public var tensorNames: [String] { [] }
}

extension GGUFFile: WeightSource {
    public var tensorNames: [String] { tensors.map(\.name) }

    public func tensorLayout(_ name: String) -> (shape: [Int], format: WeightFormat)? {
        tensor(name).map { ($0.shape, $0.format) }
    }

    public func withTensorBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let info = tensor(name) else { throw EngineError.missingTensor(name, path: path) }
        return try body(bytes(of: info))
    }

    /// Tensors are in the mapping for the file's lifetime. The last 64 bytes of the file are excluded: SIMD
    /// kernels may load a vector past the end of a row, which must not cross the end of the mapping.
    public func persistentBytes(_ name: String) -> UnsafeRawBufferPointer? {
        guard let info = tensor(name), info.offset + info.byteCount + 64 <= fileSize else { return nil }
        return bytes(of: info)
    }
}
