// GGUFWriter: builds a GGUF v3 (or v2) file in memory from metadata and tensor data, and writes it out. Used by
// the tests to make small files and by `gpt convert`; it does not quantize (callers pass bytes in `format`).

import GPTCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Collects metadata and tensors, then serializes them in insertion order with aligned tensor data.
public struct GGUFWriter: Sendable {
    /// The `path` errors name for problems in the writer's input.
    public static let inputLabel = "<GGUFWriter>"

    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]  // ggml order: shape[0] = elements per row
        public var format: WeightFormat
        public var data: [UInt8]  // format.byteCount(elements) bytes
    }

    public let version: UInt32
    public let alignment: Int
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    public private(set) var tensors: [Tensor] = []

    /// - Parameters:
    ///   - version: 3 (current) or 2 (same layout; for compatibility tests).
    ///   - alignment: of the data section and each tensor; a power of two. Other than 32 it is recorded as the
    ///     `general.alignment` uint32 key.
    public init(version: UInt32 = 3, alignment: Int = 32) {
        precondition(version == 2 || version == 3, "GGUFWriter writes versions 2 and 3")
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        self.version = version
        self.alignment = alignment
        if alignment != 32 { set("general.alignment", .uint32(UInt32(alignment))) }
    }

    /// Sets a metadata value; a key set again keeps its first position.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append((key, value))
        }
    }

    /// Adds a tensor whose `data` is already in `format`.
    /// - Throws: `GGUFError.invalidTensor` for a duplicate or empty name, a bad shape, or a data size that does not
    ///   match `format.byteCount(elements)`.
    public mutating func addTensor(_ name: String, shape: [Int], format: WeightFormat, data: [UInt8]) throws {
        func invalid(_ detail: String) -> GGUFError {
            .invalidTensor(path: Self.inputLabel, tensor: name, detail: detail)
        }
        guard !name.isEmpty else { throw invalid("empty name") }
        guard !tensors.contains(where: { $0.name == name }) else {
            throw GGUFError.duplicateTensor(path: Self.inputLabel, tensor: name)
        }
        guard (1...GGUFFile.maxDims).contains(shape.count), shape.allSatisfy({ $0 > 0 }) else {
            throw invalid("shape \(shape) must have 1...\(GGUFFile.maxDims) positive dimensions")
        }
        guard shape[0] % format.blockSize == 0 else {
            throw invalid("row length \(shape[0]) is not a multiple of the \(format) block size \(format.blockSize)")
        }
        let expected = format.byteCount(shape.reduce(1, *))
        guard data.count == expected else {
            throw invalid("\(data.count) bytes of data, expected \(expected) for \(format) shape \(shape)")
        }
        tensors.append(Tensor(name: name, shape: shape, format: format, data: data))
    }

    /// The whole file.
    /// - Throws: `GGUFError.invalidValue` for an array mixing element types or a `general.alignment` that
    ///   disagrees with `alignment`.
    public func serialized() throws -> [UInt8] {
        if let value = metadata.first(where: { $0.key == "general.alignment" })?.value, value.int != alignment {
            throw GGUFError.invalidValue(
                path: Self.inputLabel, key: "general.alignment",
                detail: "\(value) disagrees with the writer's alignment \(alignment)")
        }
        var out = ByteSink()
        out.bytes.reserveCapacity(4096 + tensors.reduce(0) { $0 + $1.data.count + alignment })
        out.bytes.append(contentsOf: Array("GGUF".utf8))
        out.integer(version)
        out.integer(UInt64(tensors.count))
        out.integer(UInt64(metadata.count))
        for (key, value) in metadata {
            out.string(key)
            out.integer(value.type.rawValue)
            try out.value(value, key: key)
        }
        var relative = 0
        var offsets: [Int] = []
        for tensor in tensors {
            out.string(tensor.name)
            out.integer(UInt32(tensor.shape.count))
            for dim in tensor.shape { out.integer(UInt64(dim)) }
            out.integer(tensor.format.ggmlType)
            out.integer(UInt64(relative))
            offsets.append(relative)
            relative = Self.aligned(relative + tensor.data.count, alignment)
        }
        out.pad(to: alignment)
        for tensor in tensors {
            out.bytes.append(contentsOf: tensor.data)
            out.pad(to: alignment)
        }
        return out.bytes
    }

    /// Serializes and writes the file (created or truncated, mode 0644).
    public func write(to path: String) throws {
        let bytes = try serialized()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw GGUFError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = systemWrite(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw GGUFError.writeFailed(path: path, reason: String(cString: strerror(errno)))
                }
                done += n
            }
        }
    }

    static func aligned(_ offset: Int, _ alignment: Int) -> Int { (offset + alignment - 1) & ~(alignment - 1) }
}

/// write(2), named apart from `GGUFWriter.write(to:)`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.write(fd, buffer, count)
    #else
        Darwin.write(fd, buffer, count)
    #endif
}

/// Little-endian encoding into a growing byte array.
private struct ByteSink {
    var bytes: [UInt8] = []

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        integer(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    mutating func pad(to alignment: Int) {
        bytes.append(contentsOf: repeatElement(0, count: GGUFWriter.aligned(bytes.count, alignment) - bytes.count))
    }

    mutating func value(_ value: GGUFValue, key: String) throws {
        switch value {
        case .uint8(let v): integer(v)
        case .int8(let v): integer(v)
        case .uint16(let v): integer(v)
        case .int16(let v): integer(v)
        case .uint32(let v): integer(v)
        case .int32(let v): integer(v)
        case .uint64(let v): integer(v)
        case .int64(let v): integer(v)
        case .float32(let v): integer(v.bitPattern)
        case .float64(let v): integer(v.bitPattern)
        case .bool(let v): integer(UInt8(v ? 1 : 0))
        case .string(let v): string(v)
        case .array(let values):
            // An empty array is written with element type uint8: readers see an empty array either way.
            let elementType = values.first?.type ?? .uint8
            if let other = values.first(where: { $0.type != elementType }) {
                throw GGUFError.invalidValue(
                    path: GGUFWriter.inputLabel, key: key,
                    detail: "array mixes \(elementType) and \(other.type) elements (GGUF arrays have one type)")
            }
            integer(elementType.rawValue)
            integer(UInt64(values.count))
            for element in values { try self.value(element, key: key) }
        }
    }
}
