// QuantsTests: the block formats of CKernels/quants.c: fp16 conversions, row sizes, hand-made blocks with known
// values, and quantize -> dequantize round trips that must be exact (values on the block's grid) or close.

import GPTCore
import CKernels
import Testing

extension CKernelsSuite {
    @Suite("Quants")
    struct QuantsTests {
        @Test("format ids match ckernels.h and ggml")
        func formatIDs() {
            #expect(Format.f32.rawValue == Int32(CK_F32.rawValue))
            #expect(Format.f16.rawValue == Int32(CK_F16.rawValue))
            #expect(Format.q4_0.rawValue == Int32(CK_Q4_0.rawValue))
            #expect(Format.q4_1.rawValue == Int32(CK_Q4_1.rawValue))
            #expect(Format.q8_0.rawValue == Int32(CK_Q8_0.rawValue))
            #expect(MemoryLayout<ck_block_q4_0>.size == 18)
            #expect(MemoryLayout<ck_block_q4_1>.size == 20)
            #expect(MemoryLayout<ck_block_q8_0>.size == 34)
        }

        @Test("row bytes")
        func rowBytes() {
            #expect(ck_row_bytes(Format.f32.rawValue, 576) == 2304)
            #expect(ck_row_bytes(Format.f16.rawValue, 576) == 1152)
            #expect(ck_row_bytes(Format.q4_0.rawValue, 576) == 18 * 18)
            #expect(ck_row_bytes(Format.q4_1.rawValue, 576) == 18 * 20)
            #expect(ck_row_bytes(Format.q8_0.rawValue, 576) == 18 * 34)
            #expect(ck_row_bytes(Format.q4_1.rawValue, 33) == 0, "quantized rows are whole blocks")
            #expect(ck_row_bytes(9, 64) == 0, "not a weight format (Q8_1)")
        }

        @Test("fp16 known values")
        func fp16Known() {
            let exact: [(Float, UInt16)] = [
                (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (0.5, 0x3800), (65504, 0x7BFF),
                (0x1p-24, 0x0001), (0x1p-14, 0x0400), (Float.infinity, 0x7C00), (-Float.infinity, 0xFC00),
            ]
            for (f, h) in exact {
                #expect(ck_fp32_to_fp16(f) == h, "fp32 \(f) -> fp16")
                #expect(ck_fp16_to_fp32(h).bitPattern == f.bitPattern, "fp16 \(h) -> fp32")
            }
            // rounded: 0.1 to nearest, 65520 (halfway above the largest half) to inf, tiny values to 0
            #expect(ck_fp32_to_fp16(0.1) == 0x2E66)
            #expect(ck_fp32_to_fp16(65520) == 0x7C00)
            #expect(ck_fp32_to_fp16(1e-9) == 0x0000)
            #expect(ck_fp16_to_fp32(0x7E00).isNaN)
            #expect(ck_fp16_to_fp32(ck_fp32_to_fp16(.nan)).isNaN)
        }

        @Test("fp16: every half round-trips, and fp32 -> fp16 rounds to nearest even like Float16")
        func fp16Exhaustive() {
            for h in UInt16.min...UInt16.max {
                let f = ck_fp16_to_fp32(h)
                if f.isNaN { continue }
                #expect(f == Float(Float16(bitPattern: h)), "fp16 \(h) -> fp32")
                #expect(ck_fp32_to_fp16(f) == h, "fp16 \(h) round trip")
            }
            var rng = SplitMix64(seed: 16)
            for _ in 0..<100_000 {
                // random bit patterns cover normals, subnormals, overflow and ties
                let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
                if f.isNaN { continue }
                #expect(ck_fp32_to_fp16(f) == Float16(f).bitPattern, "fp32 \(f) (bits \(f.bitPattern))")
            }
        }

        /// Dequantizes one row of `bytes` in `format`.
        private func dequantize(_ format: Format, _ bytes: [UInt8], count: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: count)
            bytes.withUnsafeBytes { ck_dequantize_row(format.rawValue, &out, $0.baseAddress, Int64(count)) }
            return out
        }

        private func half(_ f: Float) -> [UInt8] {
            let h = ck_fp32_to_fp16(f)
            return [UInt8(h & 0xFF), UInt8(h >> 8)]
        }

        @Test("hand-made q4_1 block: d = 0.5, m = -1, nibbles 0...15")
        func q41Block() {
            // element j (< 16) is the low nibble of qs[j] = j; element j + 16 the high nibble = 15 - j
            let qs: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | UInt8(15 - j) << 4 }
            let values = dequantize(.q4_1, half(0.5) + half(-1) + qs, count: 32)
            let low: [Float] = (0..<16).map { (j: Int) -> Float in 0.5 * Float(j) - 1 }
            let high: [Float] = (0..<16).map { (j: Int) -> Float in 0.5 * Float(15 - j) - 1 }
            let expected = low + high
            #expect(values == expected)
        }

        @Test("hand-made q4_0 block: d = 0.25, x = d * (nibble - 8)")
        func q40Block() {
            let qs: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | UInt8((j * 7) % 16) << 4 }
            let values = dequantize(.q4_0, half(0.25) + qs, count: 32)
            let low: [Float] = (0..<16).map { (j: Int) -> Float in 0.25 * Float(j - 8) }
            let high: [Float] = (0..<16).map { (j: Int) -> Float in 0.25 * Float((j * 7) % 16 - 8) }
            let expected = low + high
            #expect(values == expected)
        }

        @Test("hand-made q8_0 block: d = 0.125, q = -16...15")
        func q80Block() {
            let qs = (-16..<16).map { UInt8(bitPattern: Int8($0)) }
            let values = dequantize(.q8_0, half(0.125) + qs, count: 32)
            #expect(values == (-16..<16).map { 0.125 * Float($0) })
        }

        @Test("values on the block grid survive quantize -> dequantize exactly", arguments: Format.allCases)
        func exactRoundTrip(_ format: Format) {
            // Two blocks whose values lie on the grid the reference quantizer picks, with scales exact in fp16.
            var rng = SplitMix64(seed: 7)
            var row: [Float] = []
            for _ in 0..<2 {
                var block: [Float]
                switch format {
                case .q4_0:  // absmax -4 (negative) -> d = -4 / -8 = 0.5, x = 0.5 * (n - 8), n in 0...15
                    block = [-4, 3.5] + (0..<30).map { _ in 0.5 * Float(Int(rng.next() % 16) - 8) }
                case .q4_1:  // min -1, max 6.5 -> d = 0.5, x = -1 + 0.5 n
                    block = [-1, 6.5] + (0..<30).map { _ in -1 + 0.5 * Float(rng.next() % 16) }
                case .q8_0:  // absmax 7.9375 = 127 * 0.0625 -> d = 0.0625, x = 0.0625 q
                    block = [7.9375] + (0..<31).map { _ in 0.0625 * Float(Int(rng.next() % 255) - 127) }
                case .f16:
                    block = (0..<32).map { _ in Float(Float16(rng.nextFloat(scale: 100))) }
                case .f32:
                    block = rng.floats(32, scale: 1e3)
                }
                row += block
            }
            let bytes = format.quantize(row, rows: 1, cols: row.count)
            #expect(dequantize(format, bytes, count: row.count) == row)
        }

        @Test("random rows: round-trip error within the format's resolution", arguments: Format.allCases)
        func randomRoundTrip(_ format: Format) {
            var rng = SplitMix64(seed: 11)
            let row = rng.floats(1536, scale: 2)
            let back = dequantize(format, format.quantize(row, rows: 1, cols: row.count), count: row.count)
            // Each element is off by at most half a step of its block (step = range / levels), plus the fp16
            // rounding of the scales.
            let levels: Float = format == .q8_0 ? 254 : format.isQuantized ? 15 : 1
            for b in 0..<(row.count / 32) {
                let block = row[(b * 32)..<(b * 32 + 32)]
                let step = format.isQuantized ? (block.max()! - block.min()!) / levels * 2 : 0
                for i in block.indices {
                    let allowed = format == .f32 ? 0 : format == .f16 ? abs(row[i]) * 0x1p-11 : step * 0.5 + 1e-3
                    #expect(abs(back[i] - row[i]) <= allowed, "\(format) element \(i): \(row[i]) -> \(back[i])")
                }
            }
        }
    }
}
