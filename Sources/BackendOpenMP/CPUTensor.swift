// CPUTensor: a tensor in host memory, 64-byte aligned, freed when the last reference goes.
import GPTCore

public final class CPUTensor: DeviceTensor {
    public let shape: [Int]
    /// How the bytes are stored.
    public let format: WeightFormat
    /// The format `write` receives (differs from `format` when a backend converts at upload, as blas does).
    public let sourceFormat: WeightFormat
    public let label: String
    public let data: UnsafeMutableRawPointer
    /// Set for tensors that use someone else's memory in place (a mapped file): never freed, never written.
    public let owner: AnyObject?

    public init(shape: [Int], format: WeightFormat, sourceFormat: WeightFormat? = nil, label: String) throws {
        self.shape = shape
        self.format = format
        self.sourceFormat = sourceFormat ?? format
        self.label = label
        let count = shape.reduce(1, *)
        guard count > 0, count % format.blockSize == 0, (shape.last ?? 1) % format.blockSize == 0 else {
            throw BackendError.allocationFailed(
                label: label, bytes: 0, "shape \(shape) does not fit \(format) blocks of \(format.blockSize)")
        }
        // 64 bytes of tail padding let SIMD loads run past the end of the last row safely.
        let bytes = format.byteCount(count) + 64
        guard let p = aligned_alloc_64(bytes) else {
            throw BackendError.allocationFailed(label: label, bytes: bytes, "out of memory")
        }
        memset(p, 0, bytes)
        data = p
        owner = nil
    }

    /// A read-only tensor over `bytes` (in `format`), kept alive by `owner`.
    public init(adopting bytes: UnsafeRawBufferPointer, shape: [Int], format: WeightFormat, owner: AnyObject,
                label: String) {
        self.shape = shape
        self.format = format
        self.sourceFormat = format
        self.label = label
        self.data = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
        self.owner = owner
    }

    deinit { if owner == nil { free(data) } }

    public var floats: UnsafeMutablePointer<Float> { data.assumingMemoryBound(to: Float.self) }
    /// F16 tensors (the KV cache) as IEEE half bit patterns.
    public var halves: UnsafeMutablePointer<UInt16> { data.assumingMemoryBound(to: UInt16.self) }
}

private func aligned_alloc_64(_ bytes: Int) -> UnsafeMutableRawPointer? {
    var p: UnsafeMutableRawPointer?
    let rounded = (bytes + 63) / 64 * 64
    guard posix_memalign(&p, 64, rounded) == 0 else { return nil }
    return p
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
