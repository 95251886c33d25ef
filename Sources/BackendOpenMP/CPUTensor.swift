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
    /// Bytes of an anonymous mapping holding `data` (large tensors), or 0 (from the heap).
    private let mappedBytes: Int

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
        // Large tensors (a long context's KV cache, a big batch's activations) come from an anonymous mapping: its
        // pages read as zero and take memory only once written, so a short prompt in a long context stays small,
        // as the process's peak RSS shows. Small ones come from the heap, zeroed.
        if bytes >= CPUTensor.mappingThreshold {
            let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let p, p != MAP_FAILED else {
                throw BackendError.allocationFailed(label: label, bytes: bytes, "out of memory")
            }
            data = p
            mappedBytes = bytes
        } else {
            guard let p = aligned_alloc_64(bytes) else {
                throw BackendError.allocationFailed(label: label, bytes: bytes, "out of memory")
            }
            memset(p, 0, bytes)
            data = p
            mappedBytes = 0
        }
        owner = nil
    }

    /// Tensors of at least this many bytes are mapped rather than allocated (page-aligned, zero until written).
    static let mappingThreshold = 256 << 10

    /// A read-only tensor over `bytes` (in `format`), kept alive by `owner`.
    public init(adopting bytes: UnsafeRawBufferPointer, shape: [Int], format: WeightFormat, owner: AnyObject,
                label: String) {
        self.shape = shape
        self.format = format
        self.sourceFormat = format
        self.label = label
        self.data = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
        self.owner = owner
        mappedBytes = 0
    }

    deinit {
        if owner != nil { return }
        if mappedBytes > 0 { munmap(data, mappedBytes) } else { free(data) }
    }

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
