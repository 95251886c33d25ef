// The Hugging Face folder loader and `gpt convert`: tokenizer files, GGUF names and keys, errors that name the file,
// and the GPT-2 small parameter count.
import Foundation
import SwiftGPT
import Testing

@Suite("Hugging Face GPT-2 folders")
struct HFCheckpointTests {
    static let ref = Reference.file

    @Test("general.file_type of every quantization type is llama.cpp's llama_ftype")
    func fileTypes() {
        // From llama.cpp's include/llama.h (enum llama_ftype, the tree vendored in llama-cpp-python 0.3.36).
        let llamaFtype: [String: UInt32] = [
            "F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11,
            "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18,
            "IQ4_NL": 25, "IQ4_XS": 30, "BF16": 32,
        ]
        #expect(Set(QuantizationType.allCases.map(\.rawValue)) == Set(llamaFtype.keys))
        for type in QuantizationType.allCases { #expect(type.fileType == llamaFtype[type.rawValue], "\(type)") }
    }

    @Test("config.json gives the model's shape")
    func config() throws {
        let folder = try HFModelFolder(path: Resources.folder)
        let c = folder.config
        #expect(
            c
                == ModelConfig(
                    architecture: "gpt2", nLayers: 2, nEmbd: 64, nFF: 256, nHeads: 4, nKVHeads: 4,
                    headDim: 16, nCtxTrain: 64, nVocab: 277, normEps: 1e-5))
        #expect(folder.tensorLayout("blk.0.attn_qkv.weight")! == ([64, 192], .f32))  // (3C, C) in ggml order
        #expect(folder.tensorLayout("output.weight") == nil)  // tied: no lm_head.weight
        #expect(folder.tensorLayout("h.0.attn.bias") == nil)  // the causal-mask buffer is not a weight
    }

    @Test("tokenizer.json and vocab.json + merges.txt give the same tokenizer, which encodes as the reference")
    func tokenizerFiles() throws {
        let fromJSON = try HFModelFolder(path: Resources.folder).vocabulary
        let dir = Variants.folder + "/slow-tokenizer"
        try Variants.copyFolder(to: dir, dtype: .f32, keepFiles: ["config.json", "vocab.json", "merges.txt"])
        let fromSlow = try HFModelFolder(path: dir).vocabulary
        #expect(fromJSON.tokens == fromSlow.tokens)
        #expect(fromJSON.tokenTypes == fromSlow.tokenTypes)
        #expect(fromJSON.merges == fromSlow.merges)
        #expect(fromJSON.bos == 276 && fromJSON.eos == 276 && fromJSON.tokenTypes[276] == 3)
        for vocabulary in [fromJSON, fromSlow] {
            let tokenizer = try vocabulary.makeTokenizer()
            #expect(tokenizer.encode(Self.ref.prompt) == Self.ref.prompt_tokens)
            #expect(tokenizer.decode(Self.ref.prompt_tokens) == Self.ref.prompt)
            #expect(tokenizer.encode("<|endoftext|>", parseSpecial: true) == [276])
        }
    }

    @Test(
        "the converted GGUF has llama.cpp's gpt2 keys and tensor names, and its tokenizer encodes the same",
        arguments: [WeightFormat.f32, .f16, .q8_0])
    func convertedGGUF(_ type: WeightFormat) throws {
        let image = try HFModelFolder(path: Resources.folder).ggufWriter(type: type).serialized()
        let file = try GGUFFile(bytes: image, name: "converted-\(type)")
        let hp = try ModelHyperParameters(file)
        #expect(
            hp
                == ModelHyperParameters(
                    architecture: "gpt2", nLayers: 2, nEmbd: 64, nFF: 256, nHeads: 4, nKVHeads: 4, nCtx: 64,
                    nVocab: 277,
                    headDim: 16, ropeDim: 16, ropeFreqBase: 10000, normEps: 1e-5))
        #expect(try file.int("general.file_type") == Int(HFModelFolder.fileType(type)))
        #expect(try file.string("tokenizer.ggml.pre") == "gpt-2")
        // The same names as the file gguf-py wrote, less the duplicated output.weight.
        let llama = try GGUFFile(path: Resources.llamaGGUF)
        #expect(Set(file.tensors.map(\.name)) == Set(llama.tensors.map(\.name)).subtracting(["output.weight"]))
        for t in file.tensors {
            let expected = HFModelFolder.storedFormat(t.name, shape: t.shape, type: type)
            #expect(t.format == expected, "\(t.name)")
            #expect(t.shape == llama.tensor(t.name)?.shape, "\(t.name)")
        }
        #expect(file.tensor("blk.1.ffn_up.weight")?.format == type)
        #expect(file.tensor("position_embd.weight")?.format == .f32)
        let tokenizer = try BPETokenizer(gguf: file)
        #expect(tokenizer.encode(Self.ref.prompt) == Self.ref.prompt_tokens)
        #expect(try file.stringArray("tokenizer.ggml.tokens") == llama.stringArray("tokenizer.ggml.tokens"))
        #expect(try file.stringArray("tokenizer.ggml.merges") == llama.stringArray("tokenizer.ggml.merges"))
    }

    @Test(
        "gpt convert writes the GGUF the library does",
        .enabled(if: HFCheckpointTests.gptTool != nil, "the gpt executable is not built"))
    func convertCommand() throws {
        let out = Variants.folder + "/cli-q8_0.gguf"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.gptTool!)
        process.arguments = ["convert", Resources.folder, out, "--type", "q8_0", "--quiet"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let written = try Data(contentsOf: URL(fileURLWithPath: out))
        let library = try HFModelFolder(path: Resources.folder).ggufWriter(type: .q8_0).serialized()
        #expect(Array(written) == library)
    }

    /// The `gpt` executable next to the test bundle (swift build --build-tests builds it too).
    static let gptTool: String? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("gpt").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    // MARK: - Errors

    @Test("a folder without config.json, tokenizer or weights says what is missing")
    func missingFiles() throws {
        let dir = Variants.folder + "/empty"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(
            throws: HFCheckpointError.missingFile(folder: dir, what: "no config.json (not a Hugging Face model folder)")
        ) {
            try HFModelFolder(path: dir)
        }
        let noTokenizer = Variants.folder + "/no-tokenizer"
        try Variants.copyFolder(to: noTokenizer, dtype: .f32, keepFiles: ["config.json"])
        #expect(throws: HFCheckpointError.self) { try HFModelFolder(path: noTokenizer) }
        #expect(throws: HFCheckpointError.self) { try HFModelFolder(path: Resources.folder + "/config.json") }
    }

    @Test("a missing weight is named")
    func missingTensor() throws {
        let dir = Variants.folder + "/missing-tensor"
        try Variants.copyFolder(to: dir, dtype: .f32, dropping: ["h.1.mlp.c_fc.bias"])
        #expect(throws: HFCheckpointError.missingTensor(folder: dir, tensor: "h.1.mlp.c_fc.bias")) {
            try HFModelFolder(path: dir)
        }
    }

    @Test("a config that disagrees with the weights is caught")
    func wrongConfig() throws {
        let dir = Variants.folder + "/wrong-config"
        try Variants.copyFolder(to: dir, dtype: .f32)
        let config = dir + "/config.json"
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(of: "\"n_embd\": 64", with: "\"n_embd\": 128")
            .write(toFile: config, atomically: true, encoding: .utf8)
        #expect(throws: HFCheckpointError.self) { try HFModelFolder(path: dir) }
        try text.replacingOccurrences(of: "\"model_type\": \"gpt2\"", with: "\"model_type\": \"llama\"")
            .write(toFile: config, atomically: true, encoding: .utf8)
        #expect(throws: HFCheckpointError.self) { try HFModelFolder(path: dir) }
    }

    @Test("a safetensors file cut short fails to open with the file named")
    func truncatedWeights() throws {
        let dir = Variants.folder + "/truncated"
        try Variants.copyFolder(to: dir, dtype: .f32)
        let path = dir + "/model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        do {
            _ = try HFModelFolder(path: dir)
            Issue.record("a truncated checkpoint opened")
        } catch let error as SafeTensorsError {
            #expect(error.description.contains(path))
        }
    }

    // MARK: - Parameter count

    @Test("GPT-2 small has 124,439,808 weights with biases and position embeddings")
    func gpt2ParameterCount() throws {
        let count = try #require(ParameterCount.preset("gpt2"))
        // wte 50257*768 + wpe 1024*768 + 12 * (qkv 768*2304+2304, proj 768*768+768, fc 768*3072+3072,
        // proj 3072*768+768, 2 LayerNorms 4*768) + ln_f 2*768 = 124,439,808 (HF's num_parameters(), tied head)
        #expect(count.total + count.leftOutTotal == 124_439_808)
        #expect(count.leftOutTotal == 786_432 + 2 * 25 * 768 + 12 * (2304 + 768 + 3072 + 768))
    }

    @Test("the tiny model's own count matches its safetensors")
    func tinyParameterCount() throws {
        let folder = try HFModelFolder(path: Resources.folder)
        let count = try GPT2(config: folder.config).parameterCount(tied: true)
        let file = try SafeTensorsFile(path: Resources.folder + "/model.safetensors")
        // the causal masks h.N.attn.bias are buffers, not weights (the suffix has a dot: c_attn.bias stays)
        let stored = file.tensors.filter { !$0.name.hasSuffix(".attn.bias") }.reduce(0) { $0 + $1.elementCount }
        #expect(count.total + count.leftOutTotal == stored)
    }
}

/// A backend that runs everything but matmul on one format, as a backend without that format's kernels would.
private final class WithoutFormat: ForwardingBackend {
    let missing: WeightFormat
    init(_ inner: any Backend, missing: WeightFormat) {
        self.missing = missing
        super.init(inner)
    }
    override var name: String { "no-\(missing)" }
    override func supports(_ op: OpKind, _ format: WeightFormat) -> Bool {
        op == .matmul && format == missing ? false : inner.supports(op, format)
    }
}

@Suite("Load-time format check")
struct LoadFormatCheckTests {
    @Test("a model whose matrices a backend cannot run fails at load, naming tensor, format and backend")
    func unsupportedFormatFailsAtLoad() throws {
        let image = try HFModelFolder(path: Resources.folder).ggufWriter(type: .q8_0).serialized()
        let file = try GGUFFile(bytes: image, name: "tiny-q8_0")
        let backend = WithoutFormat(OpenMPBackend(options: BackendOptions(threads: 1)), missing: .q8_0)
        let error = try #require(throws: EngineError.self) {
            try TransformerExecutor(architecture: try Architectures.make(file), source: file, backend: backend, nCtx: 16)
        }
        let message = "\(error)"
        #expect(message.contains("tensor 'token_embd.weight'"), "\(message)")  // tied: the first matrix loaded
        #expect(message.contains("Q8_0") && message.contains("'no-q8_0'") && message.contains("matmul"), "\(message)")
        // the same backend loads the F16 conversion
        let f16 = try GGUFFile(bytes: try HFModelFolder(path: Resources.folder).ggufWriter(type: .f16).serialized(),
                               name: "tiny-f16")
        _ = try TransformerExecutor(architecture: try Architectures.make(f16), source: f16, backend: backend, nCtx: 16)
    }
}
