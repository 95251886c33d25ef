// LanguageModel: a model opened for generation (a GGUF file, or any WeightSource): tokenizer, weights on a backend,
// and an executor.
import Foundation
import GGUF
import GPTCore
import Tokenization

public final class LanguageModel {
    /// The GGUF file the model came from; nil when it came from another source (a checkpoint folder).
    public let file: GGUFFile?
    /// Where the weights were read from: the GGUF file itself, or a converted checkpoint.
    public let source: any WeightSource
    /// The model family, with its hyper-parameters.
    public let architecture: any ModelArchitecture
    public var config: ModelConfig { architecture.config }
    public let tokenizer: BPETokenizer
    public let executor: TransformerExecutor
    public let backend: any Backend
    /// The chat format named by the file's template (nil when it has none SwiftGPT recognises).
    public let chatTemplate: ChatTemplate?
    /// Seconds spent opening the file, building the tokenizer and uploading weights.
    public let loadSeconds: Double

    /// Opens the GGUF file at `path` and uploads its weights to `backend`. (`LanguageModel.open` in HFCheckpoint
    /// also takes a Hugging Face checkpoint folder.)
    /// - Parameters:
    ///   - nCtx: positions of the KV cache (nil: min(model context, 4096)).
    ///   - maxBatch: most tokens per forward call (prompt batches).
    ///   - kvFormat: KV cache storage, .f16 or .f32 (nil: F16 where the backend's attention reads it).
    public convenience init(path: String, backend: any Backend, nCtx: Int? = nil, maxBatch: Int = 512,
                            attention: AttentionKind = .fused, kvFormat: WeightFormat? = nil) throws {
        let started = DispatchTime.now()
        let file = try GGUFFile(path: path)
        try self.init(
            source: file, architecture: try Architectures.make(file),
            tokenizer: try BPETokenizer(gguf: file),
            chatTemplate: ChatTemplate.detect(file.value("tokenizer.chat_template")?.string),
            backend: backend, nCtx: nCtx, maxBatch: maxBatch, attention: attention, kvFormat: kvFormat,
            started: started)
    }

    /// Everything opening the GGUF file at `path` checks short of uploading weights: the metadata, the
    /// hyper-parameters against their limits and the tensors, the tokenizer. `gpt convert` runs it on the file it
    /// wrote, so that it never leaves a file that `generate` would refuse.
    public static func checkLoadable(gguf path: String) throws {
        let file = try GGUFFile(path: path)
        let config = try Architectures.make(file).config
        try config.validate(against: file, tokenizer: try BPETokenizer(gguf: file),
                            key: ModelConfig.ggufKey(config.architecture))
    }

    /// Uploads the weights of `source` (named and laid out as GGUF's) to `backend` and builds the executor.
    /// - Parameters:
    ///   - started: when opening began, so `loadSeconds` includes reading the source's metadata.
    public init(source: any WeightSource, architecture: any ModelArchitecture, tokenizer: BPETokenizer,
                chatTemplate: ChatTemplate?,
                backend: any Backend, nCtx: Int? = nil, maxBatch: Int = 512, attention: AttentionKind = .fused,
                kvFormat: WeightFormat? = nil, started: DispatchTime = .now()) throws {
        self.file = source as? GGUFFile
        self.source = source
        self.architecture = architecture
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        // Fail before allocating anything if the numbers are absurd or disagree with the tensors.
        let config = architecture.config
        let key = source is GGUFFile ? ModelConfig.ggufKey(config.architecture) : { $0.rawValue }
        try config.validate(path: source.path, key: key, rotary: architecture.rotary)
        try config.validate(against: source, tokenizer: tokenizer, key: key)
        let ctx = nCtx ?? min(architecture.config.nCtxTrain, 4096)
        executor = try TransformerExecutor(architecture: architecture, source: source, backend: backend, nCtx: ctx,
                                           maxBatch: maxBatch, attention: attention, kvFormat: kvFormat)
        self.backend = backend
        loadSeconds = seconds(since: started)
    }
}

/// Timings of one generation, as llama.cpp reports them.
public struct GenerationStats: Sendable {
    public var promptTokens = 0
    public var promptSeconds = 0.0
    public var generatedTokens = 0
    /// Seconds of the decode steps (forward calls after the prompt).
    public var generateSeconds = 0.0
    public var decodeSteps = 0
    /// The end-of-generation token that stopped the loop, if one did.
    public var endToken: Int32?

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generateTokensPerSecond: Double { generateSeconds > 0 ? Double(decodeSteps) / generateSeconds : 0 }
}

extension LanguageModel {
    /// Feeds `prompt` after what the KV cache already holds, then samples up to `maxTokens` tokens.
    /// `onToken` sees each sampled token and returns false to stop early. End-of-generation tokens stop the
    /// loop (and are not passed to `onToken`) when `stopAtEndOfGeneration`.
    @discardableResult
    public func generate(
        prompt: [Int32], maxTokens: Int, sampler: inout Sampler, stopAtEndOfGeneration: Bool = true,
        onToken: (Int32) throws -> Bool
    ) throws -> GenerationStats {
        var stats = GenerationStats()
        guard maxTokens >= 0 else { throw EngineError.invalidArgument("maxTokens \(maxTokens) is negative") }
        try sampler.options.validate()
        // Compared by subtraction: maxTokens may be Int.max ("until the context is full" is the caller's clamp).
        let free = executor.nCtx - executor.position - prompt.count
        if free < 0 || maxTokens - 1 > free {
            throw EngineError.contextOverflow(
                needed: executor.position + prompt.count + min(maxTokens - 1, executor.nCtx), limit: executor.nCtx)
        }
        var history = prompt
        var t0 = DispatchTime.now()
        var logits = try executor.forward(prompt)
        stats.promptTokens = prompt.count
        stats.promptSeconds = seconds(since: t0)
        t0 = DispatchTime.now()
        for step in 0..<maxTokens {
            try requireFiniteLogits(logits)
            let next = sampler.sample(logits, history: history)
            if stopAtEndOfGeneration && tokenizer.isEndOfGeneration(next) {
                stats.endToken = next
                // keep the end token in the cache so a chat can continue after it
                if executor.position < executor.nCtx {
                    _ = try executor.forward([next])
                    stats.decodeSteps += 1
                }
                break
            }
            stats.generatedTokens += 1
            history.append(next)
            guard try onToken(next) else { break }
            if step + 1 < maxTokens {
                logits = try executor.forward([next])
                stats.decodeSteps += 1
            }
        }
        stats.generateSeconds = seconds(since: t0)
        return stats
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
