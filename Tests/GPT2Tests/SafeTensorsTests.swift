// SafeTensorsFile: values of every float dtype, and clear errors (never a crash) on truncated or corrupt input.
import GPTCore
import Foundation
import SafeTensors
import Testing

@Suite("safetensors reader")
struct SafeTensorsTests {
    /// Values that stress the conversions: signs, zero, a subnormal half, large and small magnitudes.
    static let values: [Float] = [0, -0.0, 1, -2.5, 0.1, 65504, 6.1035156e-05, 5.9604645e-08, -3.140625, 1e-3, 7, -1]

    static func sample() -> [UInt8] {
        SafeTensorsBuilder.build([
            .init(name: "a.f32", shape: [3, 4], values: values, dtype: .f32),
            .init(name: "b.f16", shape: [12], values: values, dtype: .f16),
            .init(name: "c.bf16", shape: [2, 6], values: values, dtype: .bf16),
            .init(name: "d.scalar", shape: [], values: [42], dtype: .f32),
        ])
    }

    @Test("F32, F16 and BF16 tensors read back as floats")
    func floats() throws {
        let file = try SafeTensorsFile(bytes: Self.sample())
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors.map(\.name) == ["a.f32", "b.f16", "c.bf16", "d.scalar"])
        #expect(try file.floats("a.f32") == Self.values)
        #expect(try file.floats("b.f16") == Self.values.map { Float(Float16($0)) })
        let bf16 = try file.floats("c.bf16")
        for (x, y) in zip(bf16, Self.values) {
            #expect(abs(x - y) <= abs(y) / 256, "BF16 \(x) vs \(y)")  // 8-bit mantissa: half an ulp <= 2^-9
        }
        #expect(try file.floats("d.scalar") == [42])
        #expect(file.tensor("a.f32")?.shape == [3, 4])
        #expect(throws: SafeTensorsError.missingTensor(path: "<memory>", tensor: "nope")) { try file.floats("nope") }
    }

    @Test("every truncation of a valid file throws")
    func truncations() throws {
        let bytes = Self.sample()
        for n in 0..<bytes.count {
            #expect(throws: SafeTensorsError.self, "prefix of \(n) bytes") {
                try SafeTensorsFile(bytes: Array(bytes.prefix(n)), name: "cut")
            }
        }
    }

    @Test("a truncated file on disk names the file and the tensor")
    func truncatedOnDisk() throws {
        let bytes = Self.sample()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(getpid()).safetensors")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes.dropLast(1)).write(to: URL(fileURLWithPath: path))
        do {
            _ = try SafeTensorsFile(path: path)
            Issue.record("a truncated file opened")
        } catch let error as SafeTensorsError {
            let message = error.description
            #expect(message.contains(path) && message.contains("d.scalar"), "\(message)")
        }
    }

    static let corrupt: [(String, [UInt8])] = [
        (
            "header length past the end",
            SafeTensorsBuilder.image(header: "{}", data: []).enumerated().map { $0 == 0 ? 0xFF : $1 }
        ),
        ("header length of 2^63", [0, 0, 0, 0, 0, 0, 0, 0x80] + Array("{}      ".utf8)),
        ("not JSON", SafeTensorsBuilder.image(header: "{\"a\":", data: [])),
        ("JSON array", SafeTensorsBuilder.image(header: "[1,2]", data: [])),
        ("entry not an object", SafeTensorsBuilder.image(header: "{\"a\":3}", data: [])),
        (
            "unknown dtype",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}",
                data: .init(repeating: 0, count: 16))
        ),
        (
            "negative dimension",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])
        ),
        (
            "fractional offset",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", data: [0, 0, 0, 0])
        ),
        (
            "size does not match shape",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])
        ),
        (
            "offsets past the data",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: [0, 0, 0, 0])
        ),
        (
            "offsets reversed",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", data: [0, 0, 0, 0])
        ),
        (
            "shape overflows",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
                data: .init(repeating: 0, count: 8))
        ),
        (
            "overlapping tensors",
            SafeTensorsBuilder.image(
                header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                data: .init(repeating: 0, count: 12))
        ),
        ("metadata not strings", SafeTensorsBuilder.image(header: "{\"__metadata__\":{\"a\":1}}", data: [])),
    ]

    @Test("corrupt headers throw", arguments: 0..<corrupt.count)
    func corruptHeader(_ index: Int) throws {
        let (what, bytes) = Self.corrupt[index]
        #expect(throws: SafeTensorsError.self, "\(what)") { try SafeTensorsFile(bytes: bytes, name: what) }
    }

    @Test("random byte flips never crash the parser")
    func byteFlips() throws {
        let bytes = Self.sample()
        var rng = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var b = bytes
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                b[Int(rng.next() % UInt64(min(b.count, 8 + 400)))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if let file = try? SafeTensorsFile(bytes: b) {  // still valid: every tensor must lie inside it
                for t in file.tensors { #expect(t.offset + t.byteCount <= b.count) }
            }
        }
    }

    @Test("files that cannot be opened throw cannotOpen")
    func cannotOpen() {
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: "/nonexistent/model.safetensors") }
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: NSTemporaryDirectory()) }
    }
}
