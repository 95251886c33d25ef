// GGUFReader: a bounds-checked little-endian cursor over a GGUF file's bytes (the mmap, or a copy in memory).
// Every read checks the bytes left and throws GGUFError; nothing here traps on bad input. It only decodes:
// what the values mean (alignment, tensor layout) is GGUFFile's business.

struct GGUFReader {
    /// Deepest nesting of arrays accepted (llama.cpp writes none; the spec allows them). Bounds the recursion.
    static let maxArrayDepth = 8

    let base: UnsafeRawPointer
    let count: Int
    let path: String
    private(set) var offset = 0

    /// A cursor at `offset` (0: the start of the file).
    init(base: UnsafeRawPointer, count: Int, path: String, offset: Int = 0) {
        self.base = base
        self.count = count
        self.path = path
        self.offset = offset
    }

    var remaining: Int { count - offset }

    /// Throws `.truncated` unless `n` more bytes are there.
    @inline(__always)
    func require(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n <= count - offset else {
            throw GGUFError.truncated(path: path, offset: offset, needed: n, fileSize: count, what: what())
        }
    }

    @inline(__always)
    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, what())
        let raw = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: raw)
    }

    /// A count stored as uint64 that must not exceed what the rest of the file can hold, `minBytes` each.
    mutating func count(minBytes: Int, _ what: @autoclosure () -> String) throws -> Int {
        let start = offset
        let n = try integer(UInt64.self, what())
        guard n <= UInt64(remaining / minBytes) else {
            let needed = n.multipliedReportingOverflow(by: UInt64(minBytes))
            throw GGUFError.truncated(
                path: path, offset: start, needed: needed.overflow ? Int.max : Int(clamping: needed.partialValue),
                fileSize: count, what: "\(what()) (count \(n), at least \(minBytes) bytes each)")
        }
        return Int(n)
    }

    /// A GGUF string: uint64 byte length, then UTF-8 bytes (no terminator). Invalid UTF-8 is repaired with U+FFFD.
    @inline(__always)
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try count(minBytes: 1, what())
        let bytes = UnsafeBufferPointer(start: (base + offset).assumingMemoryBound(to: UInt8.self), count: n)
        offset += n
        return String(decoding: bytes, as: UTF8.self)
    }

    /// One metadata value of type `type`; `key` only names the value in errors.
    mutating func value(_ type: GGUFValueType, key: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case .uint8: .uint8(try integer(UInt8.self, "uint8 value of '\(key)'"))
        case .int8: .int8(try integer(Int8.self, "int8 value of '\(key)'"))
        case .uint16: .uint16(try integer(UInt16.self, "uint16 value of '\(key)'"))
        case .int16: .int16(try integer(Int16.self, "int16 value of '\(key)'"))
        case .uint32: .uint32(try integer(UInt32.self, "uint32 value of '\(key)'"))
        case .int32: .int32(try integer(Int32.self, "int32 value of '\(key)'"))
        case .uint64: .uint64(try integer(UInt64.self, "uint64 value of '\(key)'"))
        case .int64: .int64(try integer(Int64.self, "int64 value of '\(key)'"))
        case .float32: .float32(Float(bitPattern: try integer(UInt32.self, "float32 value of '\(key)'")))
        case .float64: .float64(Double(bitPattern: try integer(UInt64.self, "float64 value of '\(key)'")))
        case .bool: .bool(try integer(UInt8.self, "bool value of '\(key)'") != 0)
        case .string: .string(try string("string value of '\(key)'"))
        case .array: .array(try array(key: key, depth: depth + 1))
        }
    }

    /// A value type id, checked against the known ones.
    mutating func valueType(_ what: @autoclosure () -> String) throws -> GGUFValueType {
        let start = offset
        let raw = try integer(UInt32.self, what())
        guard let type = GGUFValueType(rawValue: raw) else {
            throw GGUFError.corrupt(
                path: path, offset: start, detail: "\(what()) is \(raw), not a GGUF value type (0...12)")
        }
        return type
    }

    /// The element type (uint32) and count (uint64) that open an array body; the count must fit in the bytes left.
    mutating func arrayHeader(key: String) throws -> (elementType: GGUFValueType, count: Int) {
        let elementType = try valueType("array element type of '\(key)'")
        return (elementType, try count(minBytes: elementType.minimumEncodedSize, "array '\(key)'"))
    }

    /// An array body: element type (uint32), count (uint64), elements.
    private mutating func array(key: String, depth: Int) throws -> [GGUFValue] {
        guard depth <= Self.maxArrayDepth else {
            throw GGUFError.corrupt(
                path: path, offset: offset,
                detail: "arrays in '\(key)' are nested deeper than \(Self.maxArrayDepth) levels")
        }
        let (elementType, n) = try arrayHeader(key: key)
        var values: [GGUFValue] = []
        values.reserveCapacity(n)
        if elementType == .string {  // the hot case: token and merge tables, ~100k strings
            for i in 0..<n { values.append(.string(try string("element \(i) of array '\(key)'"))) }
        } else {
            for _ in 0..<n { values.append(try value(elementType, key: key, depth: depth)) }
        }
        return values
    }

    /// An array body (element type, count, elements) that holds at least `minimumCount` elements of a type other
    /// than array: its bounds are checked as `value(.array)` would check them, but nothing is decoded, and the
    /// cursor moves past it. Any other array body: nil, and the cursor stays where it was.
    mutating func skipLargeFlatArray(key: String, minimumCount: Int) throws -> Bool {
        let start = offset
        let (elementType, n) = try arrayHeader(key: key)
        guard elementType != .array, n >= minimumCount else {
            offset = start
            return false
        }
        if let size = elementType.fixedSize {
            offset += n * size  // count(minBytes:) checked that n * size bytes are left
        } else {
            for i in 0..<n {
                let length = try count(minBytes: 1, "element \(i) of array '\(key)'")
                offset += length
            }
        }
        return true
    }

    /// The strings of an array body at the cursor (nil when its elements are not strings), without building a
    /// `GGUFValue` for each.
    mutating func stringArray(key: String) throws -> [String]? {
        let (elementType, n) = try arrayHeader(key: key)
        guard elementType == .string else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(n)
        for i in 0..<n { strings.append(try string("element \(i) of array '\(key)'")) }
        return strings
    }

    /// Moves to the next multiple of `alignment` (a power of two); the result may lie past the end.
    mutating func align(to alignment: Int) {
        offset = (offset + alignment - 1) & ~(alignment - 1)
    }
}
