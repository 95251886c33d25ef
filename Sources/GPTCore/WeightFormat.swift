// WeightFormat: the tensor storage formats SwiftGPT reads from GGUF and computes on.
// Block layouts match the GGUF specification (ggml type ids); they are read in place from the mmap.

/// How one tensor's elements are stored.
///
/// Quantized formats store rows as blocks of 32 elements:
/// - `q8_0`: `{ f16 d; int8 qs[32] }` (34 bytes), x = d * q
/// - `q4_0`: `{ f16 d; uint8 qs[16] }` (18 bytes), x = d * (nibble - 8); low nibbles hold elements 0..15, high 16..31
/// - `q4_1`: `{ f16 d; f16 m; uint8 qs[16] }` (20 bytes), x = d * nibble + m; same nibble order as q4_0
public enum WeightFormat: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case f32, f16, q4_0, q4_1, q8_0

    /// The GGUF / ggml type id.
    public var ggmlType: UInt32 {
        switch self {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 8
        }
    }

    public init?(ggmlType: UInt32) {
        guard let format = WeightFormat.allCases.first(where: { $0.ggmlType == ggmlType }) else { return nil }
        self = format
    }

    /// Elements per block (1 for the float formats).
    public var blockSize: Int {
        switch self {
        case .f32, .f16: 1
        case .q4_0, .q4_1, .q8_0: 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` elements; `count` must be a multiple of `blockSize`.
    public func byteCount(_ count: Int) -> Int { count / blockSize * blockBytes }

    /// Bits per weight, for reports.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }

    public var description: String { rawValue }
}
