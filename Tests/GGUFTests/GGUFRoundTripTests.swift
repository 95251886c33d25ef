// GGUFRoundTripTests: files built by GGUFWriter read back equal (metadata of every type, tensors of every format,
// versions 2 and 3, alignments), plus the typed lookups and ModelHyperParameters on small synthetic files.

import Foundation
import GGUF
import GPTCore
import Testing

@Suite("GGUF round trip")
struct GGUFRoundTripTests {
    @Test("writer output reads back equal", arguments: [(UInt32(3), 32), (3, 64), (2, 32), (3, 1)])
    func roundTrip(version: UInt32, alignment: Int) throws {
        let dir = try TemporaryDirectory()
        let writer = try Sample.writer(version: version, alignment: alignment)
        let path = dir.path("sample.gguf")
        try writer.write(to: path)
        let file = try GGUFFile(path: path)

        #expect(file.path == path)
        #expect(file.version == version)
        #expect(file.alignment == alignment)
        #expect(file.metadataKeys == writer.metadata.map(\.key))
        for (key, value) in writer.metadata { #expect(file.value(key) == value, "\(key)") }
        #expect(file.metadata.count == writer.metadata.count)
        #expect(file.dataOffset % alignment == 0)

        #expect(file.tensors.map(\.name) == writer.tensors.map(\.name))
        for (written, read) in zip(writer.tensors, file.tensors) {
            #expect(read.shape == written.shape, "\(read.name)")
            #expect(read.format == written.format, "\(read.name)")
            #expect(read.byteCount == written.data.count, "\(read.name)")
            #expect(read.offset % alignment == 0, "\(read.name)")
            #expect(read.offset >= file.dataOffset, "\(read.name)")
            #expect(Array(file.bytes(of: read)) == written.data, "\(read.name)")
            #expect(file.tensor(read.name) == read)
        }
        #expect(file.tensor("missing") == nil)
    }

    @Test("large arrays stay in the mapping and read back equal through every lookup")
    func largeArrays() throws {
        var writer = GGUFWriter()
        for (key, value) in Sample.largeArrays { writer.set(key, value) }
        let file = try GGUFFile(bytes: try writer.serialized())
        let written = Dictionary(uniqueKeysWithValues: Sample.largeArrays)
        #expect(file.metadata == written)
        for (key, value) in Sample.largeArrays {
            #expect(file.contains(key) && file.value(key) == value, "\(key)")
            #expect(file.arrayCount(key) == value.array?.count, "\(key)")
        }
        #expect(try file.stringArray("test.large.strings") == written["test.large.strings"]?.stringArray)
        #expect(try file.intArray("test.large.int8s") == written["test.large.int8s"]?.intArray)
        #expect(try file.floatArray("test.large.float32s") == written["test.large.float32s"]?.floatArray)
        #expect(throws: GGUFError.self) { try file.stringArray("test.large.int8s") }  // wrong element type
        #expect(!file.contains("test.missing") && file.arrayCount("test.missing") == nil)

        // general.alignment as a large array is still the wrong type, not ignored.
        var bad = GGUFWriter()
        bad.set("general.alignment", .array((0..<2000).map { .uint32($0) }))
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: try bad.serialized()) }
    }

    @Test("file and in-memory parses agree")
    func memoryMatchesFile() throws {
        let dir = try TemporaryDirectory()
        let bytes = try Sample.bytes()
        let fromFile = try GGUFFile(path: try dir.write(bytes, as: "s.gguf"))
        let fromMemory = try GGUFFile(bytes: bytes, name: "sample")
        #expect(fromFile.metadata == fromMemory.metadata)
        #expect(fromFile.tensors == fromMemory.tensors)
        #expect(fromFile.fileSize == bytes.count)
        #expect(fromMemory.path == "sample")
    }

    @Test("rows and cols follow ggml order")
    func rowsAndCols() throws {
        let file = try GGUFFile(bytes: try Sample.bytes())
        let matrix = try #require(file.tensor("q8_0.matrix"))
        #expect(matrix.cols == 96 && matrix.rows == 5 && matrix.elementCount == 480)
        #expect(matrix.byteCount == 5 * 3 * 34)
        let cube = try #require(file.tensor("q4_1.cube"))
        #expect(cube.cols == 32 && cube.rows == 6)
        let vector = try #require(file.tensor("f32.vector"))
        #expect(vector.cols == 5 && vector.rows == 1 && vector.byteCount == 20)
    }

    @Test("empty file: no metadata, no tensors")
    func emptyFile() throws {
        let file = try GGUFFile(bytes: try GGUFWriter().serialized())
        #expect(file.metadata.isEmpty && file.tensors.isEmpty)
        #expect(file.fileSize == 32)  // 24-byte header, padded to the alignment
    }

    @Test("typed lookups convert and report the key and file")
    func typedLookups() throws {
        let file = try GGUFFile(bytes: try Sample.bytes(), name: "sample.gguf")
        #expect(try file.int("test.uint32") == 4_000_000_000)
        #expect(try file.int("test.int8") == -128)
        #expect(try file.float("test.float32") == 3.25)
        #expect(try file.float("test.uint8") == 255)
        #expect(try file.bool("test.bool.true"))
        #expect(try file.string("test.string") == "héllo, 世界 🦙")
        #expect(try file.stringArray("test.strings") == ["Ġ t", "", "<|im_end|>", "ünï"])
        #expect(try file.intArray("test.int32s") == [-1, 0, 7])
        #expect(try file.floatArray("test.float32s") == [0.5, -2])
        #expect(try file.int("absent", default: 7) == 7)
        #expect(try file.string(ifPresent: "absent") == nil)
        #expect(try file.int(ifPresent: "test.int16") == -32768)
        #expect(file.value("test.uint64")?.int == nil)  // UInt64.max does not fit in Int

        #expect(throws: GGUFError.missingKey(path: "sample.gguf", key: "absent")) { try file.int("absent") }
        #expect(
            throws: GGUFError.wrongType(
                path: "sample.gguf", key: "test.strings", expected: "integer", actual: "array<string>")
        ) {
            try file.int("test.strings")
        }
        #expect(
            throws: GGUFError.wrongType(
                path: "sample.gguf", key: "test.int32s", expected: "array<string>", actual: "array<int32>")
        ) {
            try file.stringArray("test.int32s")
        }
        #expect(throws: GGUFError.self) { try file.int("test.string", default: 1) }  // present with another type
        let message = String(describing: GGUFError.missingKey(path: "sample.gguf", key: "absent"))
        #expect(message.contains("sample.gguf") && message.contains("absent"))
    }

    @Test("invalid UTF-8 in a string is repaired, not rejected")
    func invalidUTF8() throws {
        var writer = GGUFWriter()
        writer.set("test.s", .string("aXb"))
        var bytes = try writer.serialized()
        let at = try #require(offset(of: "aXb", in: bytes))
        bytes[at + 1] = 0xFF
        let file = try GGUFFile(bytes: bytes)
        #expect(try file.string("test.s") == "a\u{FFFD}b")
    }

    @Test("writer rejects bad input")
    func writerValidation() throws {
        var writer = GGUFWriter()
        try writer.addTensor("a", shape: [32], format: .q8_0, data: [UInt8](repeating: 0, count: 34))
        #expect(throws: GGUFError.duplicateTensor(path: GGUFWriter.inputLabel, tensor: "a")) {
            try writer.addTensor("a", shape: [32], format: .q8_0, data: [UInt8](repeating: 0, count: 34))
        }
        #expect(throws: GGUFError.self) { try writer.addTensor("b", shape: [33], format: .q8_0, data: []) }
        #expect(throws: GGUFError.self) { try writer.addTensor("c", shape: [4], format: .f32, data: [0]) }
        #expect(throws: GGUFError.self) { try writer.addTensor("d", shape: [], format: .f32, data: []) }
        #expect(throws: GGUFError.self) {
            try writer.addTensor("e", shape: [1, 1, 1, 1, 1], format: .f32, data: [0, 0, 0, 0])
        }
        writer.set("mixed", .array([.uint8(1), .string("x")]))
        #expect(throws: GGUFError.self) { try writer.serialized() }
    }
}

@Suite("Model hyper-parameters")
struct HyperParameterTests {
    @Test("llama defaults: kv heads, rope dim, freq base, vocab from tokens")
    func llamaDefaults() throws {
        let hp = try ModelHyperParameters(GGUFFile(bytes: try Sample.bytes()))
        #expect(hp.architecture == "llama")
        #expect(hp.nLayers == 2 && hp.nEmbd == 64 && hp.nFF == 96 && hp.nHeads == 4 && hp.nCtx == 128)
        #expect(hp.nKVHeads == 4 && hp.headDim == 16 && hp.ropeDim == 16 && hp.ropeFreqBase == 10000)
        #expect(hp.nVocab == 5 && hp.normEps == 1e-6)
    }

    @Test("gpt2 keys")
    func gpt2() throws {
        var writer = GGUFWriter()
        for (key, value) in [
            ("general.architecture", GGUFValue.string("gpt2")), ("gpt2.block_count", .uint32(12)),
            ("gpt2.embedding_length", .uint32(768)), ("gpt2.feed_forward_length", .uint32(3072)),
            ("gpt2.attention.head_count", .uint32(12)), ("gpt2.context_length", .uint32(1024)),
            ("gpt2.attention.layer_norm_epsilon", .float32(1e-5)), ("gpt2.vocab_size", .uint64(50257)),
        ] { writer.set(key, value) }
        let hp = try ModelHyperParameters(GGUFFile(bytes: try writer.serialized()))
        #expect(hp.architecture == "gpt2" && hp.nLayers == 12 && hp.headDim == 64 && hp.nKVHeads == 12)
        #expect(hp.nVocab == 50257 && hp.normEps == 1e-5)
    }

    @Test("unsupported architecture, missing key, inconsistent heads")
    func errors() throws {
        var writer = try Sample.writer()
        writer.set("general.architecture", .string("mamba"))
        #expect(throws: GGUFError.unsupportedArchitecture(path: "m", architecture: "mamba")) {
            try ModelHyperParameters(GGUFFile(bytes: try writer.serialized(), name: "m"))
        }
        var missing = GGUFWriter()
        missing.set("general.architecture", .string("llama"))
        #expect(throws: GGUFError.missingKey(path: "m", key: "llama.block_count")) {
            try ModelHyperParameters(GGUFFile(bytes: try missing.serialized(), name: "m"))
        }
        var heads = try Sample.writer()
        heads.set("llama.attention.head_count_kv", .uint32(3))
        #expect(throws: GGUFError.self) { try ModelHyperParameters(GGUFFile(bytes: try heads.serialized())) }
    }
}
