// DequantizeGoldenTests: ck_dequantize_row (CKernels/ref/dequantize.c) equals gguf-py's numpy dequantizers bit for
// bit, on every format of the table. Golden/dequantize.json was made by scripts/make_dequant_golden.py with PyPI's
// `gguf` package (llama.cpp's gguf-py; version recorded in the file): random blocks, random bytes (subnormal, huge,
// inf and NaN fp16 scales), all scales zero, maximum magnitudes (every byte 0xFF, scales +-65504), negative zero
// scales, and inf / NaN scales, which propagate as in numpy and llama.cpp. NaN matches any NaN.
import CKernels
import Foundation
import GPTCore
import Testing

private struct DequantGolden: Decodable {
    struct Case: Decodable { var name: String, bytes: String, floats: String }
    struct Format: Decodable { var format: String, ggml_type: UInt32, cases: [Case] }
    var gguf_version: String
    var formats: [Format]

    static let file: DequantGolden = {
        let url = Bundle.module.url(forResource: "Golden/dequantize", withExtension: "json")!
        return try! JSONDecoder().decode(DequantGolden.self, from: Data(contentsOf: url))
    }()
}

private func hexBytes(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count / 2)
    var it = s.utf8.makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
    while let hi = it.next(), let lo = it.next() { out.append(nibble(hi) << 4 | nibble(lo)) }
    return out
}

extension CKernelsSuite {
    @Suite("Dequantize golden (gguf-py)")
    struct DequantizeGoldenTests {
        @Test("every table format has golden blocks")
        func covered() {
            let golden = Set(DequantGolden.file.formats.map(\.format))
            for f in WeightFormat.allCases where f != .f32 { #expect(golden.contains(f.rawValue), "\(f)") }
        }

        @Test("ck_dequantize_row equals gguf-py bit for bit", arguments: DequantGolden.file.formats.map(\.format))
        func bitExact(_ name: String) throws {
            let entry = try #require(DequantGolden.file.formats.first { $0.format == name })
            let format = try #require(WeightFormat(rawValue: name))
            #expect(format.ggmlType == entry.ggml_type)
            for c in entry.cases {
                let bytes = hexBytes(c.bytes)
                let expected = stride(from: 0, to: c.floats.utf8.count, by: 8).map { i -> UInt32 in
                    let start = c.floats.utf8.index(c.floats.utf8.startIndex, offsetBy: i)
                    return UInt32(String(c.floats.utf8[start..<c.floats.utf8.index(start, offsetBy: 8)])!, radix: 16)!
                }
                #expect(bytes.count == format.byteCount(expected.count), "\(name) \(c.name)")
                var out = [Float](repeating: 0, count: expected.count)
                bytes.withUnsafeBytes { ck_dequantize_row(Int32(format.ggmlType), &out, $0.baseAddress, Int64(out.count)) }
                var mismatches = 0
                for (i, bits) in expected.enumerated() {
                    let want = Float(bitPattern: bits)
                    let same = want.isNaN ? out[i].isNaN : out[i].bitPattern == bits
                    if !same {
                        mismatches += 1
                        if mismatches <= 3 { Issue.record("\(name) \(c.name) element \(i): \(out[i]) != gguf-py \(want)") }
                    }
                }
                #expect(mismatches == 0, "\(name) \(c.name): \(mismatches) of \(expected.count) elements differ")
            }
        }
    }
}
