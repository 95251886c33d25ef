// LanguageModel+Open: one entry point for every model SwiftGPT reads: a GGUF file, or a Hugging Face GPT-2
// checkpoint folder (config.json, model.safetensors, tokenizer files), told apart by whether the path is a folder.
import Dispatch
import Foundation
import GPTCore
import GPTEngine

extension LanguageModel {
    /// Opens a GGUF file or a Hugging Face GPT-2 folder and uploads its weights to `backend`.
    /// - Parameters:
    ///   - nCtx: positions of the KV cache (nil: min(model context, 4096)).
    ///   - maxBatch: most tokens per forward call (prompt batches).
    /// - Throws: `GGUFError`/`EngineError` for a file; `HFCheckpointError`/`SafeTensorsError` for a folder.
    public static func open(
        path: String, backend: any Backend, nCtx: Int? = nil, maxBatch: Int = 512,
        attention: AttentionKind = .fused, kvFormat: WeightFormat? = nil
    ) throws -> LanguageModel {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return try LanguageModel(path: path, backend: backend, nCtx: nCtx, maxBatch: maxBatch, attention: attention,
                                     kvFormat: kvFormat)
        }
        let started = DispatchTime.now()
        let folder = try HFModelFolder(path: path)
        return try LanguageModel(
            source: folder, architecture: GPT2(config: folder.config), tokenizer: try folder.makeTokenizer(), chatTemplate: nil,
            backend: backend, nCtx: nCtx, maxBatch: maxBatch, attention: attention, kvFormat: kvFormat,
            started: started)
    }
}
