// GGUFCorruptionTests: damaged and foreign files throw GGUFError (never crash or hang): every truncation of a small
// file, seeded bit flips, and hand-patched fields (tensor type, offset, alignment, duplicates, magic, version).

import Foundation
import GGUF
import GPTCore
import Testing

/// Parses `bytes`; the result is fine either way, as long as only GGUFError comes out.
private func parsesOrThrowsGGUFError(_ bytes: [UInt8]) -> Bool {
    do {
        let file = try GGUFFile(bytes: bytes)
        for tensor in file.tensors { _ = file.bytes(of: tensor).last }  // every view must lie in the file
        return true
    } catch is GGUFError {
        return true
    } catch {
        return false
    }
}

@Suite("GGUF corruption")
struct GGUFCorruptionTests {
    @Test("every truncation of a small file throws GGUFError")
    func everyTruncation() throws {
        let bytes = try Sample.bytes()
        let lastTensorEnd = try GGUFFile(bytes: bytes).tensors.map { $0.offset + $0.byteCount }.max()!
        for length in 0..<lastTensorEnd {
            #expect(throws: GGUFError.self, "length \(length)") { try GGUFFile(bytes: Array(bytes[..<length])) }
        }
    }

    @Test("every truncation inside large arrays (left in the mapping) throws GGUFError")
    func everyTruncationOfLargeArrays() throws {
        var writer = GGUFWriter()
        for (key, value) in Sample.largeArrays { writer.set(key, value) }
        let bytes = try writer.serialized()
        let metadataEnd = try GGUFFile(bytes: bytes).tensorInfoOffset
        for length in 0..<metadataEnd {
            #expect(throws: GGUFError.self, "length \(length)") { try GGUFFile(bytes: Array(bytes[..<length])) }
        }
    }

    @Test("truncated files on disk throw GGUFError", arguments: [0, 3, 4, 8, 23, 24, 100, 1000])
    func truncatedOnDisk(length: Int) throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(try Sample.bytes().prefix(length), as: "t.gguf")
        #expect(throws: GGUFError.self) { try GGUFFile(path: path) }
    }

    @Test("seeded bit flips parse or throw GGUFError", .timeLimit(.minutes(1)))
    func bitFlips() throws {
        let original = try Sample.bytes()
        let metadataEnd = try GGUFFile(bytes: original).dataOffset
        var rng = SplitMix64(seed: 0x6767_7566)
        var parsed = 0
        for trial in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<metadataEnd, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            }
            if (try? GGUFFile(bytes: bytes)) != nil { parsed += 1 }
            #expect(parsesOrThrowsGGUFError(bytes), "trial \(trial)")
        }
        #expect(parsed > 0 && parsed < 3000)  // both paths were exercised
    }

    @Test("foreign files are 'not a GGUF file'")
    func foreign() throws {
        let dir = try TemporaryDirectory()
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64)
        for (name, bytes) in [("x.png", png), ("x.txt", Array("hello, this is text\n".utf8)), ("x.bin", [0x47, 0x47])] {
            let path = try dir.write(bytes, as: name)
            let error = try #require(throws: GGUFError.self) { try GGUFFile(path: path) }
            #expect(String(describing: error).contains("not a GGUF file"), "\(error)")
            #expect(String(describing: error).contains(path))
        }
    }

    @Test("missing file and directory: cannotOpen")
    func cannotOpen() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: GGUFError.self) { try GGUFFile(path: dir.path("absent.gguf")) }
        #expect(throws: GGUFError.cannotOpen(path: dir.url.path, reason: "not a regular file")) {
            try GGUFFile(path: dir.url.path)
        }
    }

    @Test("unsupported versions", arguments: [UInt32(1), 4, 0x0300_0000])
    func versions(version: UInt32) throws {
        var bytes = try Sample.bytes()
        patch(&bytes, at: 4, version)
        #expect(throws: GGUFError.unsupportedVersion(path: "v", version: version)) {
            try GGUFFile(bytes: bytes, name: "v")
        }
    }

    @Test("unknown tensor type id names the tensor and the type")
    func unknownType() throws {
        var bytes = try Sample.bytes()
        let layout = TensorInfoLayout(try GGUFFile(bytes: bytes), index: 3)
        patch(&bytes, at: layout.typeOffset, UInt32(21))
        let error = try #require(throws: GGUFError.self) { try GGUFFile(bytes: bytes, name: "s.gguf") }
        #expect(error == .unknownTensorType(path: "s.gguf", tensor: "q4_0.matrix", typeID: 21))
        #expect(String(describing: error).contains("IQ3_S"))
        #expect(String(describing: error).contains(WeightFormat.names(WeightFormat.allCases)))
        patch(&bytes, at: layout.typeOffset, UInt32(0xDEAD))
        #expect(throws: GGUFError.unknownTensorType(path: "s.gguf", tensor: "q4_0.matrix", typeID: 0xDEAD)) {
            try GGUFFile(bytes: bytes, name: "s.gguf")
        }
    }

    @Test("tensor data outside the file or misaligned", arguments: [UInt64(1 << 20), 4, UInt64.max - 31, 1 << 62])
    func badOffset(relative: UInt64) throws {
        var bytes = try Sample.bytes()
        let file = try GGUFFile(bytes: bytes)
        let last = file.tensors.count - 1
        patch(&bytes, at: TensorInfoLayout(file, index: last).dataOffsetOffset, relative)
        let error = try #require(throws: GGUFError.self) { try GGUFFile(bytes: bytes, name: "s.gguf") }
        guard case .invalidTensor(_, let tensor, _) = error else {
            Issue.record("expected invalidTensor, got \(error)")
            return
        }
        #expect(tensor == file.tensors[last].name)
    }

    @Test("absurd dimensions: zero, overflowing product, block size")
    func badDimensions() throws {
        let original = try Sample.bytes()
        let file = try GGUFFile(bytes: original)
        let index = file.tensors.firstIndex { $0.name == "q8_0.matrix" }!
        let dimsAt = TensorInfoLayout(file, index: index).typeOffset - 16  // ne0, ne1
        for (ne0, ne1) in [(UInt64(0), UInt64(5)), (96, 1 << 62), (33, 5), (UInt64.max, 1)] {
            var bytes = original
            patch(&bytes, at: dimsAt, ne0)
            patch(&bytes, at: dimsAt + 8, ne1)
            #expect(throws: GGUFError.self, "\(ne0) x \(ne1)") { try GGUFFile(bytes: bytes) }
        }
    }

    @Test("duplicate tensor names and metadata keys")
    func duplicates() throws {
        var writer = GGUFWriter()
        writer.set("key.a", .uint8(1))
        writer.set("key.b", .uint8(2))
        try writer.addTensor("t.a", shape: [4], format: .f32, data: [UInt8](repeating: 0, count: 16))
        try writer.addTensor("t.b", shape: [4], format: .f32, data: [UInt8](repeating: 0, count: 16))
        var bytes = try writer.serialized()
        bytes[try #require(offset(of: "t.b", in: bytes)) + 2] = UInt8(ascii: "a")
        #expect(throws: GGUFError.duplicateTensor(path: "d", tensor: "t.a")) { try GGUFFile(bytes: bytes, name: "d") }
        bytes[try #require(offset(of: "key.b", in: bytes)) + 4] = UInt8(ascii: "a")
        #expect(throws: GGUFError.duplicateKey(path: "d", key: "key.a")) { try GGUFFile(bytes: bytes, name: "d") }
    }

    @Test("alignment must be a power of two", arguments: [UInt32(0), 3, 48, 1 << 31])
    func badAlignment(alignment: UInt32) throws {
        var writer = GGUFWriter(alignment: 64)
        try writer.addTensor("t", shape: [4], format: .f32, data: [UInt8](repeating: 0, count: 16))
        var bytes = try writer.serialized()
        let key = try #require(offset(of: "general.alignment", in: bytes))
        patch(&bytes, at: key + "general.alignment".utf8.count + 4, alignment)
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: bytes) }
    }

    @Test("absurd counts and deep nesting fail fast")
    func absurdCounts() throws {
        // version 3, 0 tensors, UInt64.max metadata entries, then a little padding.
        var header: [UInt8] = Array("GGUF".utf8) + [UInt8](repeating: 0, count: 20 + 64)
        patch(&header, at: 4, UInt32(3))
        patch(&header, at: 16, UInt64.max)
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: header) }
        patch(&header, at: 8, UInt64(1) << 40)  // and 2^40 tensors
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: header) }

        // One key holding arrays nested 100 deep.
        var nested = GGUFValue.uint8(0)
        for _ in 0..<100 { nested = .array([nested]) }
        var writer = GGUFWriter()
        writer.set("deep", nested)
        let error = try #require(throws: GGUFError.self) { try GGUFFile(bytes: try writer.serialized()) }
        #expect(String(describing: error).contains("nested"))
    }
}
