// SafeTensorsFile: a Hugging Face .safetensors file mapped read-only, with its tensor table and views of the data.
// Parsing checks the header length, the JSON, every tensor's dtype, shape and byte range (inside the data, sized
// to match, not overlapping), so a truncated or corrupt file throws SafeTensorsError instead of crashing.
// It converts F32, F16 and BF16 tensors to Float on request; it does not transpose or rename (HFCheckpoint does).
//
// Layout (https://github.com/huggingface/safetensors, "Format"):
//   header_len: u64 little-endian | header: header_len bytes of UTF-8 JSON | data
//   header = { "__metadata__": {string: string} (optional),
//              "<name>": { "dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end] }, ... }
//   offsets are relative to the start of the data; the data is row-major, little-endian.

import Foundation
import GPTCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A safetensors element type (the spec's full list; only the float ones convert).
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Whether `SafeTensorsFile.floats(_:)` reads it.
    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// One tensor's entry in the header.
public struct SafeTensorsTensorInfo: Sendable, Equatable, Hashable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Row-major (PyTorch order): `shape.last` is the fastest-varying dimension. [] is a scalar.
    public let shape: [Int]
    /// Absolute byte offset of the data in the file.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file, mapped read-only. Views from `bytes(of:)` stay valid while this object lives.
public final class SafeTensorsFile: @unchecked Sendable {  // immutable after init; the mapping is read-only
    /// The Rust reader's limit on the header (100 MB): a larger length is corruption, not a model.
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    /// Tensors in data order.
    public let tensors: [SafeTensorsTensorInfo]
    /// The optional `__metadata__` map (e.g. "format": "pt").
    public let metadata: [String: String]
    /// Absolute offset of the data section (8 + header length).
    public let dataOffset: Int

    private let storage: MappedFile
    private let index: [String: Int]

    /// Maps and parses the file at `path`.
    /// - Throws: `SafeTensorsError` naming the path and the problem.
    public convenience init(path: String) throws {
        let storage: MappedFile
        do {
            // 8 bytes is the header length alone
            storage = try MappedFile(mapping: path, minimumSize: 8)
        } catch .cannotOpen(let reason) {
            throw SafeTensorsError.cannotOpen(path: path, reason: reason)
        } catch .tooSmall(let size) {
            throw SafeTensorsError.truncated(path: path, detail: "\(size) bytes, need 8 for the header length")
        }
        try self.init(storage: storage, path: path)
    }

    /// Parses a safetensors image held in memory (copied). `name` stands in for the path in errors.
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws {
        try self.init(storage: MappedFile(copying: bytes), path: name)
    }

    private init(storage: MappedFile, path: String) throws {
        self.storage = storage
        self.path = path
        let size = storage.count
        guard size >= 8 else {
            throw SafeTensorsError.truncated(path: path, detail: "\(size) bytes, need 8 for the header length")
        }
        var raw: UInt64 = 0
        withUnsafeMutableBytes(of: &raw) { $0.copyMemory(from: UnsafeRawBufferPointer(start: storage.base, count: 8)) }
        let headerLength = UInt64(littleEndian: raw)
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw SafeTensorsError.badHeader(
                path: path, detail: "header length \(headerLength) exceeds \(Self.maxHeaderBytes) bytes")
        }
        guard Int(headerLength) <= size - 8 else {
            throw SafeTensorsError.truncated(
                path: path,
                detail: "the header needs \(headerLength) bytes but the file has \(size - 8) after the length")
        }
        dataOffset = 8 + Int(headerLength)
        let header = Data(bytes: storage.base + 8, count: Int(headerLength))
        let parsed = try Self.parseHeader(header, dataOffset: dataOffset, dataBytes: size - dataOffset, path: path)
        tensors = parsed.tensors
        metadata = parsed.metadata
        index = Dictionary(uniqueKeysWithValues: parsed.tensors.enumerated().map { ($1.name, $0) })
    }

    /// File size in bytes.
    public var fileSize: Int { storage.count }

    public func tensor(_ name: String) -> SafeTensorsTensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's data: a view into the mapping (no copy), valid while this object is alive.
    public func bytes(of tensor: SafeTensorsTensorInfo) -> UnsafeRawBufferPointer {
        precondition(
            tensor.offset >= dataOffset && tensor.offset <= fileSize - tensor.byteCount,
            "tensor '\(tensor.name)' does not lie inside \(path)")
        return UnsafeRawBufferPointer(start: storage.base + tensor.offset, count: tensor.byteCount)
    }

    /// The tensor's elements as Float, row-major. F16 and BF16 widen exactly.
    /// - Throws: `.missingTensor`, or `.unsupportedDType` for integer and F64/F8 tensors.
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensor(name) else { throw SafeTensorsError.missingTensor(path: path, tensor: name) }
        guard info.dtype.isFloat else {
            throw SafeTensorsError.unsupportedDType(path: path, tensor: name, dtype: info.dtype.rawValue)
        }
        let src = bytes(of: info)
        let n = info.elementCount
        return [Float](unsafeUninitializedCapacity: n) { out, count in
            switch info.dtype {
            case .f32:
                for i in 0..<n {
                    out[i] = Float(
                        bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case .f16:
                for i in 0..<n {
                    out[i] = Float(
                        halfBits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            default:  // .bf16: the upper half of an IEEE single
                for i in 0..<n {
                    let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            }
            count = n
        }
    }

    // MARK: - Header

    private static func parseHeader(_ header: Data, dataOffset: Int, dataBytes: Int, path: String) throws
        -> (tensors: [SafeTensorsTensorInfo], metadata: [String: String])
    {
        func bad(_ detail: String) -> SafeTensorsError { .badHeader(path: path, detail: detail) }
        guard header.first == UInt8(ascii: "{") else { throw bad("the JSON header does not start with '{'") }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw bad("invalid JSON (\(error.localizedDescription))")
        }
        guard let entries = json as? [String: Any] else { throw bad("the JSON header is not an object") }
        var metadata: [String: String] = [:]
        var tensors: [SafeTensorsTensorInfo] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (key, v) in map {
                    guard let s = v as? String else { throw bad("__metadata__[\(key)] is not a string") }
                    metadata[key] = s
                }
                continue
            }
            func invalid(_ detail: String) -> SafeTensorsError { .badTensor(path: path, tensor: name, detail: detail) }
            guard let entry = value as? [String: Any] else { throw invalid("entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw invalid("no dtype string") }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw invalid("unknown dtype '\(dtypeName)'")
            }
            guard let shape = integers(entry["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw invalid("shape is not an array of non-negative integers")
            }
            guard let offsets = integers(entry["data_offsets"]), offsets.count == 2 else {
                throw invalid("data_offsets is not [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else { throw invalid("data_offsets [\(begin), \(end)] are not ordered") }
            guard end <= dataBytes else {
                throw SafeTensorsError.truncated(
                    path: path, detail: "tensor '\(name)' ends at data byte \(end) but the data has \(dataBytes) bytes")
            }
            var bytes = dtype.size
            for d in shape {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
                guard !overflow else { throw invalid("shape \(shape) overflows") }
                bytes = product
            }
            guard bytes == end - begin else {
                throw invalid("\(end - begin) bytes of data, expected \(bytes) for \(dtypeName) shape \(shape)")
            }
            tensors.append(
                SafeTensorsTensorInfo(
                    name: name, dtype: dtype, shape: shape, offset: dataOffset + begin,
                    byteCount: bytes))
        }
        tensors.sort { ($0.offset, $0.byteCount, $0.name) < ($1.offset, $1.byteCount, $1.name) }
        // The spec forbids holes and overlaps; overlaps would let two tensors alias, so reject them.
        for (a, b) in zip(tensors, tensors.dropFirst()) where b.byteCount > 0 && a.offset + a.byteCount > b.offset {
            throw SafeTensorsError.badTensor(path: path, tensor: b.name, detail: "data overlaps tensor '\(a.name)'")
        }
        return (tensors, metadata)
    }

    /// JSON integers as Int (Foundation hands them over as NSNumber; a fraction or a string is rejected).
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        for element in array {
            guard let number = element as? NSNumber else { return nil }  // (0 and 1 also cast to Bool on Linux)
            let d = number.doubleValue
            guard d == d.rounded(), abs(d) < 9.0e15, let i = Int(exactly: d) else { return nil }
            out.append(i)
        }
        return out
    }
}

extension SafeTensorsDType {
    /// The matching engine format, for dtypes a backend can hold as they are.
    public var weightFormat: WeightFormat? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        default: nil
        }
    }
}

extension Float {
    /// IEEE half bits widened exactly (subnormals, infinities and NaN included).
    init(halfBits bits: UInt16) {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F {
            self = Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        } else if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24  // subnormal (or zero): mantissa * 2^-24, exact
            self = sign != 0 ? -magnitude : magnitude
        } else {
            self = Float(bitPattern: sign | UInt32(exponent + 112) << 23 | mantissa << 13)
        }
    }
}


