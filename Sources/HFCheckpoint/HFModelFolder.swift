// HFModelFolder: a Hugging Face GPT-2 checkpoint folder (the `save_pretrained` layout) opened as a WeightSource,
// so the engine loads it exactly like a GGUF file. It reads:
//   config.json                       n_layer, n_embd, n_head, n_positions, vocab_size, layer_norm_epsilon, n_inner
//   model.safetensors                 or the shards listed by model.safetensors.index.json
//   tokenizer.json, or vocab.json + merges.txt  (HFVocabulary.swift)
// and serves the weights under llama.cpp's gpt2 GGUF names, in GGUF layout:
//   wte.weight (V, C)                      -> token_embd.weight
//   wpe.weight (n_positions, C)            -> position_embd.weight
//   h.N.ln_1.{weight,bias} (C)             -> blk.N.attn_norm.{weight,bias}
//   h.N.attn.c_attn.weight (C, 3C) Conv1D  -> blk.N.attn_qkv.weight (3C, C), transposed; .bias (3C) as is
//   h.N.attn.c_proj.weight (C, C) Conv1D   -> blk.N.attn_output.weight, transposed
//   h.N.ln_2.*                             -> blk.N.ffn_norm.*
//   h.N.mlp.c_fc.weight (C, F) Conv1D      -> blk.N.ffn_up.weight (F, C), transposed
//   h.N.mlp.c_proj.weight (F, C) Conv1D    -> blk.N.ffn_down.weight (C, F), transposed
//   ln_f.{weight,bias}                     -> output_norm.{weight,bias}
//   lm_head.weight (V, C), if not tied     -> output.weight
// Names may carry a "transformer." prefix (GPT2LMHeadModel.save_pretrained); the causal-mask buffers
// h.N.attn.bias / masked_bias are not weights and are ignored, as llama.cpp's converter ignores them.
// Matrices stored F16 stay F16; F32 and BF16 matrices and every vector are served as F32.
// Not here: other architectures, pytorch_model.bin (pickle), quantization (see HFModelFolder+GGUF.swift).
import Foundation
import GPTCore
import GPTEngine
import SafeTensors
import Tokenization

/// A Hugging Face GPT-2 checkpoint folder, mapped read-only.
public final class HFModelFolder: WeightSource {
    public let path: String
    /// The architecture numbers from config.json (nVocab from the embedding's rows).
    public let config: ModelConfig
    /// The model's name for GGUF's general.name: config.json's `_name_or_path`, else the folder's name.
    public let name: String
    public let vocabulary: HFVocabulary
    /// The safetensors files (one, or the index's shards), mapped.
    public let files: [SafeTensorsFile]
    /// GGUF names in llama.cpp's order (embeddings, blocks, output norm, output).
    public let tensorNames: [String]

    /// Where each GGUF-named weight comes from.
    private struct Entry {
        let file: SafeTensorsFile
        let info: SafeTensorsTensorInfo
        /// Conv1D weights are stored (in, out); GGUF wants (out, in).
        let transpose: Bool
    }
    private let entries: [String: Entry]

    /// Opens the folder and checks every weight's shape and dtype against config.json.
    /// - Throws: `HFCheckpointError` naming the file and key or tensor, or `SafeTensorsError` for a bad file.
    public init(path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            throw HFCheckpointError.missingFile(folder: path, what: "not a folder")
        }
        self.path = path
        func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

        // config.json
        guard exists("config.json") else {
            throw HFCheckpointError.missingFile(folder: path, what: "no config.json (not a Hugging Face model folder)")
        }
        let json = try JSONFile(path: file("config.json"))
        let hp = try GPT2Config(json)

        // safetensors: one file, or shards from the index
        if exists("model.safetensors") {
            files = [try SafeTensorsFile(path: file("model.safetensors"))]
        } else if exists("model.safetensors.index.json") {
            let index = try JSONFile(path: file("model.safetensors.index.json"))
            let map = try index.required("weight_map") { try index.object($0) }
            var shards: [String] = []
            for (tensor, value) in map.object {
                guard let shard = value as? String, !shard.contains("/") else {
                    throw index.bad("weight_map.\(tensor)", "is not a file name in the folder")
                }
                if !shards.contains(shard) { shards.append(shard) }
            }
            files = try shards.sorted().map { try SafeTensorsFile(path: file($0)) }
        } else {
            throw HFCheckpointError.missingFile(
                folder: path,
                what: "no model.safetensors or model.safetensors.index.json (only safetensors checkpoints are read; "
                    + "pytorch_model.bin is a pickle: re-save the model with safe_serialization=True)")
        }

        // Tensors by name without the "transformer." prefix.
        var byName: [String: (SafeTensorsFile, SafeTensorsTensorInfo)] = [:]
        for f in files {
            for t in f.tensors {
                let key = t.name.hasPrefix("transformer.") ? String(t.name.dropFirst("transformer.".count)) : t.name
                byName[key] = (f, t)
            }
        }
        guard let wte = byName["wte.weight"], wte.1.shape.count == 2 else {
            throw HFCheckpointError.missingTensor(folder: path, tensor: "wte.weight")
        }
        let nVocab = wte.1.shape[0]
        if let v = hp.vocabSize, v != nVocab {
            throw HFCheckpointError.badTensor(
                file: wte.0.path, tensor: wte.1.name, detail: "\(nVocab) rows but config.json has vocab_size \(v)")
        }
        config = ModelConfig(
            architecture: "gpt2", nLayers: hp.nLayers, nEmbd: hp.nEmbd, nFF: hp.nFF, nHeads: hp.nHeads,
            nKVHeads: hp.nHeads, headDim: hp.nEmbd / hp.nHeads, nCtxTrain: hp.nPositions, nVocab: nVocab,
            normEps: hp.eps)
        // Before the tensor table is built for nLayers blocks: 1e9 layers must fail here, not exhaust memory.
        try config.validate(path: json.path, key: GPT2Config.key, rotary: false)
        name =
            try json.string("_name_or_path").flatMap { $0.isEmpty ? nil : $0 }
            ?? (path as NSString).standardizingPath.components(separatedBy: "/").last ?? "gpt2"

        // The GGUF table, with the shape each Hugging Face tensor must have: (rows, cols) as stored.
        let c = config
        let (C, F, V) = (c.nEmbd, c.nFF, c.nVocab)
        var table: [(gguf: String, hf: String, shape: [Int], transpose: Bool)] = [
            ("token_embd.weight", "wte.weight", [V, C], false),
            ("position_embd.weight", "wpe.weight", [c.nCtxTrain, C], false),
        ]
        for i in 0..<c.nLayers {
            let (b, h) = ("blk.\(i).", "h.\(i).")
            table += [
                (b + "attn_norm.weight", h + "ln_1.weight", [C], false),
                (b + "attn_norm.bias", h + "ln_1.bias", [C], false),
                (b + "attn_qkv.weight", h + "attn.c_attn.weight", [C, 3 * C], true),
                (b + "attn_qkv.bias", h + "attn.c_attn.bias", [3 * C], false),
                (b + "attn_output.weight", h + "attn.c_proj.weight", [C, C], true),
                (b + "attn_output.bias", h + "attn.c_proj.bias", [C], false),
                (b + "ffn_norm.weight", h + "ln_2.weight", [C], false),
                (b + "ffn_norm.bias", h + "ln_2.bias", [C], false),
                (b + "ffn_up.weight", h + "mlp.c_fc.weight", [C, F], true),
                (b + "ffn_up.bias", h + "mlp.c_fc.bias", [F], false),
                (b + "ffn_down.weight", h + "mlp.c_proj.weight", [F, C], true),
                (b + "ffn_down.bias", h + "mlp.c_proj.bias", [C], false),
            ]
        }
        table += [
            ("output_norm.weight", "ln_f.weight", [C], false),
            ("output_norm.bias", "ln_f.bias", [C], false),
        ]
        if let head = byName["lm_head.weight"], !Self.sameData(head, wte) {
            table.append(("output.weight", "lm_head.weight", [V, C], false))
        }
        var entries: [String: Entry] = [:]
        for row in table {
            guard let (f, info) = byName[row.hf] else {
                throw HFCheckpointError.missingTensor(folder: path, tensor: row.hf)
            }
            guard info.shape == row.shape else {
                throw HFCheckpointError.badTensor(
                    file: f.path, tensor: info.name,
                    detail: "shape \(info.shape), expected \(row.shape) from config.json")
            }
            guard info.dtype.isFloat else {
                throw HFCheckpointError.badTensor(
                    file: f.path, tensor: info.name,
                    detail: "dtype \(info.dtype.rawValue); expected F32, F16 or BF16")
            }
            entries[row.gguf] = Entry(file: f, info: info, transpose: row.transpose)
        }
        self.entries = entries
        tensorNames = table.map(\.gguf)
        vocabulary = try HFVocabulary(folder: path, nVocab: nVocab, bos: hp.bos, eos: hp.eos)
    }

    /// True when two tensors hold the same bytes (a tied lm_head saved alongside wte).
    private static func sameData(
        _ a: (SafeTensorsFile, SafeTensorsTensorInfo),
        _ b: (SafeTensorsFile, SafeTensorsTensorInfo)
    ) -> Bool {
        guard a.1.dtype == b.1.dtype, a.1.shape == b.1.shape else { return false }
        let (x, y) = (a.0.bytes(of: a.1), b.0.bytes(of: b.1))
        return x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
    }

    // MARK: - WeightSource

    public func tensorLayout(_ name: String) -> (shape: [Int], format: WeightFormat)? {
        guard let e = entries[name] else { return nil }
        let shape = e.transpose ? e.info.shape : Array(e.info.shape.reversed())
        return (shape, Self.servedFormat(e.info))
    }

    /// F16 matrices stay F16 (the backends compute on F16 weights); everything else is served as F32.
    private static func servedFormat(_ info: SafeTensorsTensorInfo) -> WeightFormat {
        info.dtype == .f16 && info.shape.count == 2 ? .f16 : .f32
    }

    public func withTensorBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let e = entries[name] else { throw EngineError.missingTensor(name, path: path) }
        let info = e.info
        let stored = e.file.bytes(of: info)
        let format = Self.servedFormat(info)
        if !e.transpose && info.dtype.weightFormat == format {
            return try body(stored)  // zero copy: the mapping itself
        }
        let (rows, cols) = info.shape.count == 2 ? (info.shape[0], info.shape[1]) : (1, info.elementCount)
        if format == .f16 {  // an F16 Conv1D matrix: transpose the half words
            let halves = [UInt16](unsafeUninitializedCapacity: info.elementCount) { out, count in
                for i in 0..<info.elementCount { out[i] = stored.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) }
                count = info.elementCount
            }
            let t = transposed(halves, rows: rows, cols: cols)
            return try t.withUnsafeBytes { try body($0) }
        }
        var floats = try e.file.floats(info.name)
        if e.transpose { floats = transposed(floats, rows: rows, cols: cols) }
        return try floats.withUnsafeBytes { try body($0) }
    }

    /// The tensor `name` (GGUF naming) as floats in GGUF layout: for `gpt convert`.
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw EngineError.missingTensor(name, path: path) }
        let floats = try e.file.floats(e.info.name)
        guard e.transpose else { return floats }
        return transposed(floats, rows: e.info.shape[0], cols: e.info.shape[1])
    }

    /// The tokenizer the folder's vocabulary describes.
    public func makeTokenizer() throws -> BPETokenizer { try vocabulary.makeTokenizer() }
}

/// (rows, cols) row-major -> (cols, rows), in 32 x 32 tiles so both sides stay in cache.
func transposed<T>(_ src: [T], rows: Int, cols: Int) -> [T] {
    precondition(src.count == rows * cols)
    guard let first = src.first else { return [] }
    var out = [T](repeating: first, count: src.count)
    let tile = 32
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { o in
            for r0 in stride(from: 0, to: rows, by: tile) {
                for c0 in stride(from: 0, to: cols, by: tile) {
                    for r in r0..<min(r0 + tile, rows) {
                        for c in c0..<min(c0 + tile, cols) { o[c * rows + r] = s[r * cols + c] }
                    }
                }
            }
        }
    }
    return out
}

// MARK: - config.json

/// The GPT-2 hyper-parameters of config.json (transformers' GPT2Config names and defaults).
struct GPT2Config {
    var nLayers: Int, nEmbd: Int, nHeads: Int, nPositions: Int, nFF: Int
    var vocabSize: Int?
    var eps: Float
    var bos: Int?, eos: Int?

    /// config.json's key for each validated field (transformers' GPT2Config names).
    static func key(_ field: ModelConfig.Field) -> String {
        switch field {
        case .nLayers: "n_layer"
        case .nEmbd: "n_embd"
        case .nFF: "n_inner"
        case .nHeads, .nKVHeads: "n_head"
        case .headDim: "n_embd / n_head"
        case .nCtxTrain: "n_positions"
        case .nVocab: "vocab_size (rows of wte.weight)"
        case .ropeFreqBase: "rope_theta"
        case .normEps: "layer_norm_epsilon"
        }
    }

    init(_ json: JSONFile) throws {
        let modelType = try json.string("model_type")
        let architectures = try json.array("architectures") as? [String] ?? []
        guard modelType == "gpt2" || (modelType == nil && architectures.contains("GPT2LMHeadModel")) else {
            throw HFCheckpointError.unsupportedModel(
                file: json.path,
                detail: "model_type '\(modelType ?? "?")' is not supported (SwiftGPT reads gpt2 folders; "
                    + "for other models use a GGUF file)")
        }
        func positive(_ key: String, _ fallback: String? = nil) throws -> Int {
            var value = try json.int(key)
            if value == nil, let fallback { value = try json.int(fallback) }
            guard let v = value else { throw json.bad(key, "is missing") }
            guard v > 0 else { throw json.bad(key, "\(v) is not positive") }
            return v
        }
        nLayers = try positive("n_layer", "num_hidden_layers")
        nEmbd = try positive("n_embd", "hidden_size")
        nHeads = try positive("n_head", "num_attention_heads")
        nPositions = try positive("n_positions", "n_ctx")
        guard nEmbd % nHeads == 0 else { throw json.bad("n_head", "\(nHeads) heads do not divide n_embd \(nEmbd)") }
        nFF = try json.int("n_inner") ?? 4 * nEmbd  // GPT2Config: n_inner None means 4 * n_embd
        guard nFF > 0 else { throw json.bad("n_inner", "\(nFF) is not positive") }
        vocabSize = try json.int("vocab_size")
        eps = Float(try json.double("layer_norm_epsilon") ?? 1e-5)
        bos = try json.int("bos_token_id")
        eos = try json.int("eos_token_id")

        // Variants that change the math: refuse rather than run a different model.
        let activation = try json.string("activation_function") ?? "gelu_new"
        guard ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"].contains(activation) else {
            throw HFCheckpointError.unsupportedModel(
                file: json.path,
                detail: "activation_function '\(activation)': SwiftGPT's GPT-2 MLP uses the tanh "
                    + "GELU (gelu_new)")
        }
        if try json.bool("scale_attn_weights") == false {
            throw HFCheckpointError.unsupportedModel(
                file: json.path, detail: "scale_attn_weights = false is not supported")
        }
        if try json.bool("scale_attn_by_inverse_layer_idx") == true {
            throw HFCheckpointError.unsupportedModel(
                file: json.path, detail: "scale_attn_by_inverse_layer_idx = true is not supported")
        }
    }
}
