// WeightFormat: the tensor storage formats SwiftGPT reads from GGUF and computes on: ONE table (`WeightFormat.table`)
// that mirrors CK_FORMATS in CKernels/include/ckernels.h (a test compares them entry by entry). Every list of
// formats shown to users (errors, `gpt backends`, help texts) is generated from it, never written by hand.
// Block layouts match the GGUF specification (ggml type ids); they are read in place from the mmap.

/// How one tensor's elements are stored.
///
/// Blocks of 32 elements (x = element value, q = its quant):
/// - `q8_0`: `{ f16 d; int8 qs[32] }` (34 bytes), x = d * q
/// - `q4_0`: `{ f16 d; uint8 qs[16] }` (18 bytes), x = d * (nibble - 8); low nibbles hold elements 0..15, high 16..31
/// - `q4_1`: `{ f16 d; f16 m; uint8 qs[16] }` (20 bytes), x = d * nibble + m; same nibble order as q4_0
/// - `q5_0`: `{ f16 d; uint32 qh; uint8 qs[16] }` (22 bytes), x = d * (q - 16), q = nibble | bit j of qh << 4
/// - `q5_1`: `{ f16 d; f16 m; uint32 qh; uint8 qs[16] }` (24 bytes), x = d * q + m
///
/// K-quants, super-blocks of 256 with 6- or 8-bit sub-block scales (see CKernels/ref/dequantize.c for the bits):
/// `q2_K` (84 bytes, 16 sub-blocks of 16 with 4-bit scale and min), `q3_K` (110), `q4_K` (144, 8 sub-blocks of 32
/// with 6-bit scale and min), `q5_K` (176), `q6_K` (210, 16 sub-blocks of 16 with int8 scales).
///
/// IQ4: 4-bit indices into one fixed non-linear table of 16 int8 values (`ck_iq4_values`), nibble order as q4_0:
/// `iq4_nl` `{ f16 d; uint8 qs[16] }` (18 bytes, blocks of 32), x = d * values[nibble]; `iq4_xs` (136 bytes,
/// super-blocks of 256: f16 d, 8 sub-block scales of 6 bits stored + 32), x = d * (sc - 32) * values[nibble].
public enum WeightFormat: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case f32, f16, bf16
    case q4_0, q4_1, q5_0, q5_1, q8_0
    case q2_K, q3_K, q4_K, q5_K, q6_K
    case iq4_nl, iq4_xs

    /// One row of the table: ggml type id, elements per block, bytes per block.
    public struct Layout: Sendable, Equatable {
        public let ggmlType: UInt32
        public let blockSize: Int
        public let blockBytes: Int
    }

    /// The table (mirrors CK_FORMATS in ckernels.h).
    public var layout: Layout {
        switch self {
        case .f32: Layout(ggmlType: 0, blockSize: 1, blockBytes: 4)
        case .f16: Layout(ggmlType: 1, blockSize: 1, blockBytes: 2)
        case .bf16: Layout(ggmlType: 30, blockSize: 1, blockBytes: 2)
        case .q4_0: Layout(ggmlType: 2, blockSize: 32, blockBytes: 18)
        case .q4_1: Layout(ggmlType: 3, blockSize: 32, blockBytes: 20)
        case .q5_0: Layout(ggmlType: 6, blockSize: 32, blockBytes: 22)
        case .q5_1: Layout(ggmlType: 7, blockSize: 32, blockBytes: 24)
        case .q8_0: Layout(ggmlType: 8, blockSize: 32, blockBytes: 34)
        case .q2_K: Layout(ggmlType: 10, blockSize: 256, blockBytes: 84)
        case .q3_K: Layout(ggmlType: 11, blockSize: 256, blockBytes: 110)
        case .q4_K: Layout(ggmlType: 12, blockSize: 256, blockBytes: 144)
        case .q5_K: Layout(ggmlType: 13, blockSize: 256, blockBytes: 176)
        case .q6_K: Layout(ggmlType: 14, blockSize: 256, blockBytes: 210)
        case .iq4_nl: Layout(ggmlType: 20, blockSize: 32, blockBytes: 18)
        case .iq4_xs: Layout(ggmlType: 23, blockSize: 256, blockBytes: 136)
        }
    }

    /// The GGUF / ggml type id.
    public var ggmlType: UInt32 { layout.ggmlType }

    public init?(ggmlType: UInt32) {
        guard let format = WeightFormat.allCases.first(where: { $0.ggmlType == ggmlType }) else { return nil }
        self = format
    }

    /// Elements per block (1 for the float formats).
    public var blockSize: Int { layout.blockSize }

    /// Bytes per block.
    public var blockBytes: Int { layout.blockBytes }

    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` elements; `count` must be a multiple of `blockSize`.
    public func byteCount(_ count: Int) -> Int { count / blockSize * blockBytes }

    /// Bits per weight, for reports.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }

    /// The name ggml and llama.cpp print (`Q4_K`, `BF16`).
    public var ggmlName: String { rawValue.uppercased() }

    public var description: String { rawValue }

    /// `formats` as ggml names in table order, e.g. "F32, F16, Q4_0" (for messages: never spelled out by hand).
    public static func names(_ formats: some Sequence<WeightFormat>) -> String {
        let set = Set(formats)
        return allCases.filter(set.contains).map(\.ggmlName).joined(separator: ", ")
    }
}
