// QuantizeGoldenTests: ck_quantize_row (CKernels/quants.c and quantize.c) equals ggml's reference quantizers bit for
// bit, on every format with a quantizer. Golden/quantize.json was made by scripts/make_quantize_golden.py, which
// calls quantize_row_<fmt>_ref (and ggml_fp32_to_bf16_row_ref; for IQ4_NL / IQ4_XS ggml_quantize_chunk without an
// importance matrix) in the libggml-base of the llama.cpp that scripts/build-llama.sh builds: the quantizers
// llama-quantize runs without an importance matrix. Inputs: gaussian, heavy-tailed, all-zero sub-blocks, huge /
// tiny / signed-zero values, and all-zero (and below 1e-15) blocks of 32 and 256.
import CKernels
import Foundation
import GPTCore
import Testing

private struct QuantizeGolden: Decodable {
    struct Row: Decodable {
        var name: String
        var input_f32le_b64: String
        var formats: [String: String]
    }
    var n: Int
    var rows: [Row]

    static let file: QuantizeGolden = {
        let url = Bundle.module.url(forResource: "Golden/quantize", withExtension: "json")!
        return try! JSONDecoder().decode(QuantizeGolden.self, from: Data(contentsOf: url))
    }()
}

extension CKernelsSuite {
    @Suite("Quantize golden (ggml)")
    struct QuantizeGoldenTests {
        /// The formats with a quantizer besides F32 and F16 (every other format of the table).
        static let quantized = WeightFormat.allCases.filter {
            $0 != .f32 && $0 != .f16 && ck_format_supports(Int32($0.ggmlType), Int32(CK_CAN_QUANTIZE.rawValue)) == 1
        }

        @Test("every quantized format and bf16 has a quantizer and golden blocks")
        func covered() {
            let golden = Set(QuantizeGolden.file.rows[0].formats.keys)
            for f in Self.quantized { #expect(golden.contains(f.rawValue), "\(f)") }
            #expect(Set(WeightFormat.allCases).subtracting(Self.quantized) == [.f32, .f16])
        }

        @Test("ck_quantize_row equals ggml's reference quantizer bit for bit", arguments: quantized)
        func bitExact(_ format: WeightFormat) throws {
            for row in QuantizeGolden.file.rows {
                let input = Data(base64Encoded: row.input_f32le_b64)!.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                let expected = try #require(row.formats[format.rawValue].flatMap { Data(base64Encoded: $0) })
                var out = [UInt8](repeating: 0, count: format.byteCount(input.count))
                #expect(out.count == expected.count, "\(format) \(row.name)")
                ck_quantize_row(Int32(format.ggmlType), &out, input, Int64(input.count))
                let blockDiffs = stride(from: 0, to: out.count, by: format.blockBytes).filter {
                    out[$0..<$0 + format.blockBytes] != [UInt8](expected)[$0..<$0 + format.blockBytes]
                }
                #expect(blockDiffs.isEmpty,
                        "\(format) \(row.name): \(blockDiffs.count) of \(out.count / format.blockBytes) blocks differ")
            }
        }
    }
}
