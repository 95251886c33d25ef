// BlockLayout: where the scales lie in each quantized block (ggml-common.h), for making test weights: random blocks
// (every bit pattern of the quants and sub-block scales) with fp16 scales of a size that keeps the weights near
// [-1, 1], or for the first formats of the suite random rows quantized the reference way. FaultyBackend
// uses the scale positions to simulate a kernel that unpacks K-quant scales wrongly.
import CKernels
import GPTCore

public enum BlockLayout {
    /// Byte offsets of a block's fp16 fields, each with the largest magnitude to give it.
    static func halfFields(_ format: WeightFormat) -> [(offset: Int, magnitude: Float)] {
        switch format {
        case .q4_0, .q8_0: [(0, 1.0 / 64)]
        case .q5_0: [(0, 1.0 / 16)]
        case .q4_1: [(0, 1.0 / 8), (2, 1)]
        case .q5_1: [(0, 1.0 / 16), (2, 1)]
        case .q2_K: [(80, 1.0 / 32), (82, 1.0 / 16)]
        case .q3_K: [(108, 1.0 / 64)]
        case .q4_K: [(0, 1.0 / 256), (2, 1.0 / 64)]
        case .q5_K: [(0, 1.0 / 512), (2, 1.0 / 64)]
        case .q6_K: [(208, 1.0 / 2048)]
        case .iq4_nl: [(0, 1.0 / 128)]  // table values up to 127
        case .iq4_xs: [(0, 1.0 / 4096)]  // (sc - 32) up to 32 times table values up to 127
        case .f32, .f16, .bf16: []
        }
    }

    /// The packed sub-block scales of a K-quant block (offset, bytes); nil for other formats.
    static func kScales(_ format: WeightFormat) -> (offset: Int, count: Int)? {
        switch format {
        case .q2_K: (0, 16)
        case .q3_K: (96, 12)
        case .q4_K, .q5_K: (4, 12)
        case .q6_K: (192, 16)
        case .iq4_xs: (2, 6)  // scales_h (2 bytes), scales_l (4)
        default: nil
        }
    }

    /// `rows` x `cols` weights in `format`: for F32, F16, Q4_0, Q4_1 and Q8_0 (the suite's first formats, whose
    /// cases keep their inputs) uniform values in [-1, 1) quantized by ck_quantize_row; for the others random
    /// blocks, which reach bit patterns a quantizer never writes (bf16: random floats with the low half dropped).
    public static func randomRows(_ format: WeightFormat, rows: Int, cols: Int, _ rng: inout SplitMix64) -> [UInt8] {
        let count = rows * cols
        let type = Int32(format.ggmlType)
        if [.f32, .f16, .q4_0, .q4_1, .q8_0].contains(format) {
            let values = rng.floats(count)
            let rowBytes = format.byteCount(cols)
            var bytes = [UInt8](repeating: 0, count: rows * rowBytes)
            bytes.withUnsafeMutableBytes { dst in
                values.withUnsafeBufferPointer { src in
                    for r in 0..<rows {
                        ck_quantize_row(type, dst.baseAddress! + r * rowBytes, src.baseAddress! + r * cols, Int64(cols))
                    }
                }
            }
            return bytes
        }
        if format == .bf16 {
            return rng.floats(count).flatMap { f -> [UInt8] in
                let h = UInt16(truncatingIfNeeded: f.bitPattern >> 16)
                return [UInt8(h & 0xFF), UInt8(h >> 8)]
            }
        }
        var bytes = (0..<format.byteCount(count)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let fields = halfFields(format)
        for block in stride(from: 0, to: bytes.count, by: format.blockBytes) {
            for (offset, magnitude) in fields {
                let h = ck_fp32_to_fp16(rng.nextFloat(scale: magnitude))
                bytes[block + offset] = UInt8(h & 0xFF)
                bytes[block + offset + 1] = UInt8(h >> 8)
            }
        }
        return bytes
    }

    /// Simulates a kernel that unpacks K-quant sub-block scales wrongly: q4_K / q5_K lose the high 2 bits of the
    /// scales and mins of sub-blocks 4-7, q3_K the high 2 bits of every scale, q2_K swaps each scale and min,
    /// q6_K drops the sign bit of its int8 scales; iq4_xs loses the high 2 bits of its 6-bit scales. Rewrites `bytes`
    /// (blocks of `format`).
    static func misreadScales(_ format: WeightFormat, _ bytes: inout [UInt8]) {
        guard let (offset, count) = kScales(format) else { return }
        for block in stride(from: 0, to: bytes.count, by: format.blockBytes) {
            let s = block + offset
            switch format {
            case .q4_K, .q5_K: for j in 0..<8 { bytes[s + j] &= 0x3F }
            case .q3_K: for j in 8..<count { bytes[s + j] = 0 }
            case .q2_K: for j in 0..<count { bytes[s + j] = bytes[s + j] << 4 | bytes[s + j] >> 4 }
            case .q6_K: for j in 0..<count { bytes[s + j] &= 0x7F }
            case .iq4_xs: bytes[s] = 0; bytes[s + 1] = 0
            default: break
            }
        }
    }
}
