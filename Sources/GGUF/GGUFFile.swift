// GGUFFile: a GGUF v2/v3 file mapped read-only into memory, with its metadata, tensor table and zero-copy views of
// tensor data. Parsing checks every read and every tensor's bounds, so a bad file throws GGUFError instead of
// crashing. It does not dequantize or interpret tensors: that is the backends' job.
//
// Layout (GGUF spec; v2 and v3 are identical little-endian, v1 with 32-bit counts is rejected):
//   "GGUF" | version u32 | tensor_count u64 | kv_count u64
//   kv_count × { key: string, type: u32, value }        string = u64 length + UTF-8 bytes
//   tensor_count × { name: string, n_dims: u32, ne[n_dims]: u64, ggml_type: u32, offset: u64 }
//   padding to `general.alignment` (default 32), then the data section; tensor offsets are relative to it.

import GPTCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One tensor's entry in the tensor table.
public struct GGUFTensorInfo: Sendable, Equatable, Hashable {
    public let name: String
    /// ggml order: `shape[0]` = ne0 = elements per row (columns), then rows, then higher dimensions.
    public let shape: [Int]
    public let format: WeightFormat
    /// Absolute byte offset of the data in the file (data section start + the tensor's relative offset).
    public let offset: Int
    /// Bytes of data: `format.byteCount(elementCount)`.
    public let byteCount: Int

    public init(name: String, shape: [Int], format: WeightFormat, offset: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.format = format
        self.offset = offset
        self.byteCount = byteCount
    }

    /// Elements per row (ne0).
    public var cols: Int { shape.first ?? 1 }
    /// Rows: the product of every dimension after the first (1 for a vector).
    public var rows: Int { shape.dropFirst().reduce(1, *) }
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A GGUF file, mapped read-only. Tensor views from `bytes(of:)` stay valid while this object lives.
public final class GGUFFile: @unchecked Sendable {  // immutable after init; the mapping is read-only
    /// Largest `general.alignment` accepted (1 GiB); keeps offset arithmetic far from overflow.
    static let maxAlignment = 1 << 30
    /// ggml's GGML_MAX_DIMS.
    static let maxDims = 4

    public let path: String
    public let version: UInt32
    public let alignment: Int
    /// Every metadata value (the large arrays decoded from the mapping on each call: prefer `value(_:)`).
    public var metadata: [String: GGUFValue] {
        Dictionary(uniqueKeysWithValues: metadataKeys.compactMap { key in value(key).map { (key, $0) } })
    }
    /// Metadata keys in file order (for listings).
    public let metadataKeys: [String]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// Absolute offset where the tensor table starts (the end of the metadata).
    public let tensorInfoOffset: Int
    /// Absolute offset of the data section (aligned end of the tensor table).
    public let dataOffset: Int

    /// Arrays with at least this many elements (none of them arrays) stay in the mapping until asked for.
    static let largeArrayCount = 1024

    private let storage: MappedFile
    private let tensorIndex: [String: Int]
    /// The metadata values, except the large flat arrays (a vocabulary's tokens, merges, scores and token types:
    /// ~100k entries) which are decoded from the mapping when asked for, so that an open model does not keep a
    /// second copy of its vocabulary on the heap beside its tokenizer's.
    private let values: [String: GGUFValue]
    /// Key -> offset in the mapping of a large array's body (element type, count, elements), bounds-checked at
    /// parse time.
    private let largeArrays: [String: Int]

    /// Maps and parses the file at `path`.
    /// - Throws: `GGUFError` naming the path and the problem.
    public convenience init(path: String) throws {
        let storage: MappedFile
        do {
            // 4 bytes is the magic alone
            storage = try MappedFile(mapping: path, minimumSize: 4)
        } catch .cannotOpen(let reason) {
            throw GGUFError.cannotOpen(path: path, reason: reason)
        } catch .tooSmall(let size) {
            throw GGUFError.notGGUF(path: path, detail: "the file has only \(size) bytes")
        }
        try self.init(storage: storage, path: path)
    }

    /// Parses a GGUF image held in memory (copied), e.g. one just built by `GGUFWriter`. `name` stands in for the
    /// path in errors.
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws {
        try self.init(storage: MappedFile(copying: bytes), path: name)
    }

    private init(storage: MappedFile, path: String) throws {
        let parsed = try Parser.parse(storage.base, count: storage.count, path: path)
        self.storage = storage
        self.path = path
        self.version = parsed.version
        self.alignment = parsed.alignment
        self.values = parsed.metadata
        self.largeArrays = parsed.largeArrays
        self.metadataKeys = parsed.metadataKeys
        self.tensors = parsed.tensors
        self.tensorInfoOffset = parsed.tensorInfoOffset
        self.dataOffset = parsed.dataOffset
        self.tensorIndex = parsed.tensorIndex
    }

    /// File size in bytes.
    public var fileSize: Int { storage.count }

    public func tensor(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's data: a view into the mapping (no copy), valid while this `GGUFFile` is alive.
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(
            tensor.offset >= 0 && tensor.byteCount >= 0 && tensor.offset <= fileSize - tensor.byteCount,
            "tensor '\(tensor.name)' does not lie inside \(path)")
        return UnsafeRawBufferPointer(start: storage.base + tensor.offset, count: tensor.byteCount)
    }

    // MARK: - Metadata lookups

    /// The value at `key`, or nil.
    public func value(_ key: String) -> GGUFValue? {
        if let value = values[key] { return value }
        guard let start = largeArrays[key] else { return nil }
        var reader = GGUFReader(base: storage.base, count: storage.count, path: path, offset: start)
        // Parsing walked these bytes with the same checks, so decoding them again cannot fail.
        return try? reader.value(.array, key: key)
    }

    /// Whether the metadata has `key` (without decoding a large array).
    public func contains(_ key: String) -> Bool { values[key] != nil || largeArrays[key] != nil }

    /// The element count of the array at `key` (without decoding it); nil when absent or not an array.
    public func arrayCount(_ key: String) -> Int? {
        if let value = values[key] { return value.array?.count }
        guard let start = largeArrays[key] else { return nil }
        var reader = GGUFReader(base: storage.base, count: storage.count, path: path, offset: start)
        return try? reader.arrayHeader(key: key).count  // parsing checked this header: cannot fail
    }

    public func string(_ key: String) throws -> String { try typed(key, "string") { $0.string } }
    /// Any integer type that fits in `Int`.
    public func int(_ key: String) throws -> Int { try typed(key, "integer") { $0.int } }
    /// float32, float64 or an integer.
    public func float(_ key: String) throws -> Float { try typed(key, "float") { $0.float } }
    public func bool(_ key: String) throws -> Bool { try typed(key, "bool") { $0.bool } }
    public func stringArray(_ key: String) throws -> [String] {
        if let start = largeArrays[key] {  // straight from the mapping, without a GGUFValue per element
            var reader = GGUFReader(base: storage.base, count: storage.count, path: path, offset: start)
            if let strings = try reader.stringArray(key: key) { return strings }
        }
        return try typed(key, "array<string>") { $0.stringArray }
    }
    public func intArray(_ key: String) throws -> [Int] { try typed(key, "array<integer>") { $0.intArray } }
    public func floatArray(_ key: String) throws -> [Float] { try typed(key, "array<float>") { $0.floatArray } }

    /// `default` when the key is absent (pass nil for an optional lookup); still `.wrongType` when it is present
    /// with another type.
    public func string(_ key: String, default: String?) throws -> String? { try string(ifPresent: key) ?? `default` }
    public func int(_ key: String, default: Int?) throws -> Int? { try int(ifPresent: key) ?? `default` }
    public func float(_ key: String, default: Float?) throws -> Float? { try float(ifPresent: key) ?? `default` }
    public func bool(_ key: String, default: Bool?) throws -> Bool? { try bool(ifPresent: key) ?? `default` }

    /// nil when the key is absent; still `.wrongType` when it is present with another type.
    public func string(ifPresent key: String) throws -> String? { contains(key) ? try string(key) : nil }
    public func int(ifPresent key: String) throws -> Int? { contains(key) ? try int(key) : nil }
    public func float(ifPresent key: String) throws -> Float? { contains(key) ? try float(key) : nil }
    public func bool(ifPresent key: String) throws -> Bool? { contains(key) ? try bool(key) : nil }
    public func stringArray(ifPresent key: String) throws -> [String]? {
        contains(key) ? try stringArray(key) : nil
    }

    private func typed<T>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> T?) throws -> T {
        guard let value = value(key) else { throw GGUFError.missingKey(path: path, key: key) }
        guard let converted = convert(value) else {
            throw GGUFError.wrongType(path: path, key: key, expected: expected, actual: value.typeName)
        }
        return converted
    }
}

// MARK: - Parser

extension GGUFFile {
    private struct Parsed {
        var version: UInt32 = 0
        var alignment = 32
        var metadata: [String: GGUFValue] = [:]
        var metadataKeys: [String] = []
        var largeArrays: [String: Int] = [:]
        var tensors: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        var tensorInfoOffset = 0
        var dataOffset = 0
    }

    private enum Parser {
        static let magic: [UInt8] = Array("GGUF".utf8)

        static func parse(_ base: UnsafeRawPointer, count: Int, path: String) throws -> Parsed {
            var parsed = Parsed()
            var reader = GGUFReader(base: base, count: count, path: path)

            // Header
            let head = UnsafeRawBufferPointer(start: base, count: min(count, 4))
            guard count >= 4, head.elementsEqual(magic) else {
                let shown = head.map { String($0, radix: 16, uppercase: true) }.joined(separator: " ")
                throw GGUFError.notGGUF(path: path, detail: "it starts with bytes \(shown), expected \"GGUF\"")
            }
            _ = try reader.integer(UInt32.self, "magic")
            parsed.version = try reader.integer(UInt32.self, "version")
            guard parsed.version == 2 || parsed.version == 3 else {
                throw GGUFError.unsupportedVersion(path: path, version: parsed.version)
            }
            // Bounded by the smallest encodings: a tensor info is >= 24 bytes, a key/value pair >= 13.
            let tensorCount = try reader.count(minBytes: 24, "tensor count")
            let kvCount = try reader.count(minBytes: 13, "metadata count")

            // Metadata
            parsed.metadata.reserveCapacity(kvCount)
            parsed.metadataKeys.reserveCapacity(kvCount)
            for i in 0..<kvCount {
                let key = try reader.string("key of metadata entry \(i)")
                let type = try reader.valueType("value type of '\(key)'")
                guard parsed.metadata[key] == nil, parsed.largeArrays[key] == nil else {
                    throw GGUFError.duplicateKey(path: path, key: key)
                }
                let start = reader.offset
                if type == .array, key != "general.alignment",
                    try reader.skipLargeFlatArray(key: key, minimumCount: GGUFFile.largeArrayCount)
                {
                    parsed.largeArrays[key] = start
                } else {
                    parsed.metadata[key] = try reader.value(type, key: key)
                }
                parsed.metadataKeys.append(key)
            }
            if let value = parsed.metadata["general.alignment"] {
                guard let alignment = value.int else {
                    throw GGUFError.wrongType(
                        path: path, key: "general.alignment", expected: "integer", actual: value.typeName)
                }
                guard alignment > 0, alignment <= GGUFFile.maxAlignment, alignment & (alignment - 1) == 0 else {
                    throw GGUFError.invalidValue(
                        path: path, key: "general.alignment",
                        detail: "\(alignment) is not a power of two between 1 and \(GGUFFile.maxAlignment)")
                }
                parsed.alignment = alignment
            }

            // Tensor table: read it all, then place it once the data section's start is known.
            parsed.tensorInfoOffset = reader.offset
            var raw: [(name: String, shape: [Int], format: WeightFormat, relative: UInt64)] = []
            raw.reserveCapacity(tensorCount)
            for i in 0..<tensorCount {
                let name = try reader.string("name of tensor \(i)")
                let nDims = try reader.integer(UInt32.self, "dimension count of tensor '\(name)'")
                guard nDims >= 1, nDims <= GGUFFile.maxDims else {
                    throw GGUFError.invalidTensor(
                        path: path, tensor: name, detail: "\(nDims) dimensions (expected 1...\(GGUFFile.maxDims))")
                }
                var shape: [Int] = []
                shape.reserveCapacity(Int(nDims))
                for d in 0..<Int(nDims) {
                    let ne = try reader.integer(UInt64.self, "dimension \(d) of tensor '\(name)'")
                    guard ne >= 1, let dim = Int(exactly: ne) else {
                        throw GGUFError.invalidTensor(path: path, tensor: name, detail: "dimension \(d) is \(ne)")
                    }
                    shape.append(dim)
                }
                let typeID = try reader.integer(UInt32.self, "ggml type of tensor '\(name)'")
                guard let format = WeightFormat(ggmlType: typeID) else {
                    throw GGUFError.unknownTensorType(path: path, tensor: name, typeID: typeID)
                }
                let relative = try reader.integer(UInt64.self, "data offset of tensor '\(name)'")
                raw.append((name, shape, format, relative))
            }
            reader.align(to: parsed.alignment)
            parsed.dataOffset = reader.offset

            // Validate and place each tensor.
            parsed.tensors.reserveCapacity(tensorCount)
            parsed.tensorIndex.reserveCapacity(tensorCount)
            for (name, shape, format, relative) in raw {
                let info = try place(
                    name: name, shape: shape, format: format, relative: relative, dataOffset: parsed.dataOffset,
                    alignment: parsed.alignment, fileSize: count, path: path)
                guard parsed.tensorIndex.updateValue(parsed.tensors.count, forKey: name) == nil else {
                    throw GGUFError.duplicateTensor(path: path, tensor: name)
                }
                parsed.tensors.append(info)
            }
            return parsed
        }

        /// Checks one tensor's shape, alignment and bounds; returns it with its absolute offset.
        static func place(
            name: String, shape: [Int], format: WeightFormat, relative: UInt64, dataOffset: Int, alignment: Int,
            fileSize: Int, path: String
        ) throws -> GGUFTensorInfo {
            func invalid(_ detail: String) -> GGUFError { .invalidTensor(path: path, tensor: name, detail: detail) }
            var elements = 1
            for dim in shape {
                let product = elements.multipliedReportingOverflow(by: dim)
                guard !product.overflow else { throw invalid("shape \(shape) has too many elements") }
                elements = product.partialValue
            }
            guard shape[0] % format.blockSize == 0 else {
                throw invalid(
                    "row length \(shape[0]) is not a multiple of the \(format) block size \(format.blockSize)")
            }
            let blocks = elements / format.blockSize
            let bytes = blocks.multipliedReportingOverflow(by: format.blockBytes)
            guard !bytes.overflow else { throw invalid("shape \(shape) has too many bytes") }
            guard relative % UInt64(alignment) == 0 else {
                throw invalid("data offset \(relative) is not a multiple of the alignment \(alignment)")
            }
            guard let rel = Int(exactly: relative), rel <= fileSize, dataOffset <= fileSize - rel,
                bytes.partialValue <= fileSize - dataOffset - rel
            else {
                throw invalid(
                    "its \(bytes.partialValue) bytes at data offset \(relative) (data section at \(dataOffset)) "
                        + "lie outside the file of \(fileSize) bytes")
            }
            return GGUFTensorInfo(
                name: name, shape: shape, format: format, offset: dataOffset + rel, byteCount: bytes.partialValue)
        }
    }
}
