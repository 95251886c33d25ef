// GGUFRealModelTests: SmolLM2-135M-Instruct Q4_1 (the project's reference model) parses with the expected
// hyper-parameters and tensor table, quickly, and its truncated or bit-flipped copies throw GGUFError.
// Disabled, with the reason shown, when the model file is absent.

import Foundation
import GGUF
import GPTCore
import Testing

@Suite("GGUF real model", .enabled(if: RealModel.isPresent, RealModel.absentReason))
struct GGUFRealModelTests {
    let path = RealModel.path ?? ""

    @Test("hyper-parameters match llama.cpp's reading")
    func hyperParameters() throws {
        let hp = try ModelHyperParameters(GGUFFile(path: path))
        #expect(hp.architecture == "llama")
        #expect(hp.nLayers == 30 && hp.nEmbd == 576 && hp.nFF == 1536)
        #expect(hp.nHeads == 9 && hp.nKVHeads == 3 && hp.headDim == 64 && hp.ropeDim == 64)
        #expect(hp.nCtx == 8192 && hp.nVocab == 49152)
        #expect(hp.ropeFreqBase == 100_000 && hp.normEps == 1e-5)
    }

    @Test("tensor table, data views and tokenizer arrays")
    func tensors() throws {
        let file = try GGUFFile(path: path)
        #expect(file.version == 3 && file.alignment == 32)
        #expect(file.tensors.count == 272)
        #expect(file.dataOffset == 1_785_664)  // gguf-py GGUFReader.data_offset
        let embedding = try #require(file.tensor("token_embd.weight"))
        #expect(embedding.format == .q8_0 && embedding.shape == [576, 49152])
        #expect(embedding.cols == 576 && embedding.rows == 49152 && embedding.byteCount == 49152 * 18 * 34)
        #expect(embedding.offset == file.dataOffset)
        #expect(file.tensors.filter { $0.format == .q8_0 }.count == 1)
        #expect(Set(file.tensors.map(\.format)) == [.q8_0, .q4_1, .f32])
        let end = file.tensors.map { $0.offset + $0.byteCount }.max()
        #expect(end == file.fileSize)

        // RMSNorm weights are F32 and finite: the view reads the right bytes.
        let norm = try #require(file.tensor("output_norm.weight"))
        #expect(norm.format == .f32 && norm.shape == [576])
        let weights = file.bytes(of: norm).withMemoryRebound(to: Float.self) { Array($0) }
        #expect(weights.count == 576 && weights.allSatisfy { $0.isFinite } && weights.contains { $0 != 0 })

        let tokens = try file.stringArray("tokenizer.ggml.tokens")
        let merges = try file.stringArray("tokenizer.ggml.merges")
        #expect(tokens.count == 49152 && merges.count == 48900)
        #expect(merges.first == "Ġ t")
        #expect(try file.intArray("tokenizer.ggml.token_type").count == 49152)
        #expect(try file.string("tokenizer.ggml.model") == "gpt2")
    }

    @Test("parsing is not quadratic in the vocabulary")
    func speed() throws {
        _ = try GGUFFile(path: path)  // warm the page cache
        let clock = ContinuousClock()
        let elapsed = try clock.measure { _ = try GGUFFile(path: path) }
        // Not a benchmark: 49152 token strings + 48900 merges take about 5 ms in release and 30 ms in debug builds
        // (2-core x86 VM); a parser quadratic in the array lengths takes tens of seconds. 3 s leaves room for a
        // machine loaded by parallel builds (0.3 s failed there once).
        #expect(elapsed < .seconds(3), "parsing took \(elapsed)")
    }

    @Test("truncated copies throw GGUFError")
    func truncated() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        let file = try GGUFFile(path: path)
        let infos = file.tensorInfoOffset
        let start = file.dataOffset
        let size = file.fileSize
        let lengths = [
            0, 3, 4, 8, 23, 24, 100, 1000, infos / 2, infos - 1, infos, infos + (start - infos) / 2, start - 1,
            start, start + 1000, size / 2, size - 1,
        ]
        let dir = try TemporaryDirectory()
        for length in lengths {
            let copy = try dir.write(data.prefix(length), as: "truncated-\(length).gguf")
            #expect(throws: GGUFError.self, "length \(length)") { try GGUFFile(path: copy) }
            try FileManager.default.removeItem(atPath: copy)
        }
    }

    @Test("seeded bit flips in the header and metadata parse or throw GGUFError", .timeLimit(.minutes(2)))
    func bitFlips() throws {
        let file = try GGUFFile(path: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped))
        var rng = SplitMix64(seed: 135)
        for trial in 0..<24 {
            // Half the flips hit the header and first keys, where the counts and lengths are; half anywhere
            // before the data section.
            let limit = trial % 2 == 0 ? 1024 : file.dataOffset
            let at = Int.random(in: 0..<limit, using: &rng)
            let bit = UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            bytes[at] ^= bit
            do {
                let copy = try GGUFFile(bytes: bytes)
                for tensor in copy.tensors { _ = copy.bytes(of: tensor).last }
            } catch is GGUFError {
            } catch {
                Issue.record("trial \(trial), byte \(at): \(error)")
            }
            bytes[at] ^= bit
        }
    }
}
