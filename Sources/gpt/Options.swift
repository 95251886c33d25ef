// Options shared by the subcommands: the model, the compute backend, and sampling.
import ArgumentParser
import Foundation
import SwiftGPT

struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "GGUF model file, Hugging Face GPT-2 folder, or catalogue name (`gpt models`) (default: $GPT_MODEL or the cached SmolLM2-135M-Instruct Q4_1).")
    var model: String?

    /// The file to open: `--model` as a path or a catalogue name (`gpt models`), else the default model.
    var path: String { model.map { (try? ModelLocator.resolve($0)) ?? $0 } ?? ModelLocator.defaultModelPath }

    func validate() throws {
        if let model { _ = try ModelLocator.resolve(model) }  // names a missing catalogue model or file
        if !FileManager.default.fileExists(atPath: path) {
            if model == nil {
                throw ValidationError(
                    "the default model is not at \(path); run `make model` (or `make run`) to fetch it, "
                        + "or pass --model FILE.gguf")
            }
            throw ValidationError("no model file at \(path)")
        }
    }
}

extension AttentionKind: ExpressibleByArgument {}

struct ComputeOptions: ParsableArguments {
    @Flag(name: .customLong("check-tensors"),
          help: "Scan every weight for NaN and infinite values at load and warn, naming the tensor (slower load).")
    var checkTensors = false
    @Option(name: [.short, .long], help: "Compute backend: \(BackendRegistry.standard.names.joined(separator: ", ")) or auto (default: $GPT_BACKEND or auto).")
    var backend: String?

    @Option(name: [.short, .long], help: "CPU threads (default: one per physical core).")
    var threads: Int = 0

    @Option(help: "OpenCL device index, as `gpt backends` lists them.")
    var device: Int = 0

    @Option(help: "Attention kernel: fused (flash-style, linear memory) or naive (full score matrix).")
    var attention: AttentionKind = .fused

    @Option(name: .customLong("kv-type"), help: "KV cache storage: f16 (half the memory; the default where the backend supports it) or f32.")
    var kvType: String?

    @Option(help: "Context size in tokens (default: the model's, capped at 4096).")
    var ctx: Int?

    @Option(help: "Most prompt tokens processed in one batch.")
    var batch: Int = 512

    var backendName: String {
        backend ?? ProcessInfo.processInfo.environment["GPT_BACKEND"].flatMap { $0.isEmpty ? nil : $0 } ?? "auto"
    }

    var kvFormat: WeightFormat? { kvType.flatMap(WeightFormat.init(rawValue:)) }

    var backendOptions: BackendOptions { BackendOptions(threads: threads, deviceIndex: device) }

    func validate() throws {
        if threads < 0 { throw ValidationError("--threads must be 0 (automatic) or positive") }
        if let ctx, ctx < 1 { throw ValidationError("--ctx must be positive") }
        if batch < 1 { throw ValidationError("--batch must be positive") }
        if let kvType, kvType != "f16" && kvType != "f32" { throw ValidationError("--kv-type must be f16 or f32") }
        let known = BackendRegistry.standard.names + ["auto"]
        if !known.contains(where: { $0.lowercased() == backendName.lowercased() }) {
            throw ValidationError("unknown backend '\(backendName)'; choose one of \(known.joined(separator: ", "))")
        }
    }

    func makeBackend() throws -> any Backend {
        try BackendRegistry.standard.make(backendName, options: backendOptions)
    }

    func loadModel(_ path: String) throws -> LanguageModel {
        let backend = try makeBackend()
        let model = try LanguageModel.open(path: path, backend: backend, nCtx: ctx, maxBatch: batch,
                                           attention: attention, kvFormat: kvFormat)
        if checkTensors {
            for t in try model.source.nonFiniteTensors() { Console.err("warning: \(path): \(t)\n") }
        }
        return model
    }
}

struct SamplingFlags: ParsableArguments {
    @Option(name: [.customLong("temperature"), .customLong("temp")], help: "Softmax temperature; 0 = greedy.")
    var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0 = off).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold (1 = off).")
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p times the top probability (0 = off).")
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), help: "Repetition penalty over the last 64 tokens (1 = off).")
    var repeatPenalty: Float = 1.0
    @Option(name: .customLong("presence-penalty"), help: "Presence penalty (0 = off).")
    var presencePenalty: Float = 0.0
    @Option(help: "Random seed (same seed, same text).")
    var seed: UInt64 = 42

    var options: SamplingOptions {
        var o = SamplingOptions()
        o.temperature = temperature
        o.topK = topK
        o.topP = topP
        o.minP = minP
        o.repetitionPenalty = repeatPenalty
        o.presencePenalty = presencePenalty
        o.seed = seed
        return o
    }

    func validate() throws {
        if temperature < 0 { throw ValidationError("--temperature must be >= 0") }
        if topK < 0 { throw ValidationError("--top-k must be >= 0") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if !(minP >= 0 && minP < 1) { throw ValidationError("--min-p must be in [0, 1)") }
        if repeatPenalty <= 0 { throw ValidationError("--repeat-penalty must be positive") }
    }
}

/// Unbuffered writes: tokens must appear as they are made.
enum Console {
    static func out(_ s: String) {
        guard !s.isEmpty else { return }
        FileHandle.standardOutput.write(Data(s.utf8))
    }

    static func err(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }
}

func formatStats(_ model: LanguageModel, _ s: GenerationStats) -> String {
    func f(_ x: Double) -> String { String(format: "%.2f", x) }
    return """
        load: \(f(model.loadSeconds * 1000)) ms (\(model.backend.name), \(model.config.architecture.rawValue), \
        \(model.config.nLayers) layers)
        prompt: \(s.promptTokens) tokens in \(f(s.promptSeconds * 1000)) ms, \(f(s.promptTokensPerSecond)) tokens/s
        generation: \(s.generatedTokens) tokens, \(s.decodeSteps) decode steps in \(f(s.generateSeconds * 1000)) ms, \
        \(f(s.generateTokensPerSecond)) tokens/s

        """
}
