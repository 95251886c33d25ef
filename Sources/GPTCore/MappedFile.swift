// MappedFile: the bytes of a model file, mapped read-only (unmapped in deinit) or a heap copy (freed in deinit).
// The GGUF and safetensors readers parse from it without copying tensor data.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public final class MappedFile: @unchecked Sendable {  // immutable after init; the mapping is read-only
    /// Why a file could not be mapped; each reader turns it into its own error naming the file.
    public enum Failure: Error, Equatable {
        case cannotOpen(reason: String)
        /// Smaller than the reader's `minimumSize`.
        case tooSmall(size: Int)
    }

    public let base: UnsafeRawPointer
    public let count: Int
    private let isMapped: Bool

    /// Maps the regular file at `path`; files under `minimumSize` bytes (at least 1: mmap of 0 bytes fails) are
    /// refused before mapping.
    public init(mapping path: String, minimumSize: Int) throws(Failure) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotOpen(reason: MappedFile.errnoText()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(reason: MappedFile.errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size >= max(1, minimumSize) else { throw .tooSmall(size: size) }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != UnsafeMutableRawPointer(bitPattern: -1) else {  // MAP_FAILED
            throw .cannotOpen(reason: "mmap failed: \(MappedFile.errnoText())")
        }
        base = UnsafeRawPointer(pointer)
        count = size
        isMapped = true
    }

    /// A heap copy of `bytes` (e.g. a file just built in memory).
    public init(copying bytes: [UInt8]) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { memory.copyMemory(from: b, byteCount: $0.count) } }
        base = UnsafeRawPointer(memory)
        count = bytes.count
        isMapped = false
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
