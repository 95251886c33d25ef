// Options shared by the subcommands: the model, the compute backend, sampling, and the range checks every
// numeric flag goes through before it is used (so that no value can trap a conversion later).
import ArgumentParser
import Foundation
import SwiftGPT

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Range checks

/// Every numeric flag is checked against its range here, before any conversion (to Int32 for a thread count,
/// UInt64 for a seed, a sum with the prompt length) can trap. The message names the flag, the value and the range.
enum FlagCheck {
    /// Thread counts beyond this are a typo, not a machine (and must stay far below Int32.max).
    static let maxThreads = 1024
    /// Token counts (-n, --ctx, --batch, prompt lengths): 2^24, far above any model's context, far below overflow.
    static let maxTokens = 1 << 24

    static func int(_ value: Int, _ flag: String, _ range: ClosedRange<Int>, _ meaning: String = "") throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) \(value) is out of range: give \(range.lowerBound)\(meaning) to "
                + "\(range.upperBound)")
        }
    }

    /// A finite number within `range`; NaN and infinities are rejected by name.
    static func float(_ value: Float, _ flag: String, _ range: ClosedRange<Float>, _ note: String = "") throws {
        guard value.isFinite else { throw ValidationError("\(flag) must be a finite number, not \(value)") }
        guard range.contains(value) else {
            throw ValidationError("\(flag) \(value) is out of range: give a number from \(format(range.lowerBound)) "
                + "to \(format(range.upperBound))\(note)")
        }
    }

    static func threads(_ value: Int, _ flag: String = "--threads") throws {
        try int(value, flag, 0...maxThreads, " (one per physical core)")
    }

    static func format(_ x: Float) -> String {
        x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(x)
    }
}

// MARK: - Model

struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp(
        "GGUF model file, Hugging Face GPT-2 folder, or catalogue name (`gpt models`).",
        discussion: "Without --model: $GPT_MODEL, else the cached SmolLM2-135M-Instruct Q4_1."))
    var model: String?

    /// The file to open: `--model` as a path or a catalogue name (`gpt models`), else the default model.
    var path: String { ModelOptions.path(model) }

    static func path(_ model: String?) -> String {
        model.map { (try? ModelLocator.resolve($0)) ?? $0 } ?? ModelLocator.defaultModelPath
    }

    func validate() throws { try ModelOptions.check(model) }

    /// The one place that explains a missing model: a --model path or catalogue name, $GPT_MODEL, or the default
    /// download.
    static func check(_ model: String?) throws {
        if let model { _ = try ModelLocator.resolve(model) }  // names a missing catalogue model or file
        let path = path(model)
        guard !FileManager.default.fileExists(atPath: path) else { return }
        if model != nil { throw ValidationError("no model file at \(path); check the --model path") }
        if let env = ProcessInfo.processInfo.environment["GPT_MODEL"], !env.isEmpty {
            throw ValidationError("GPT_MODEL is set to \(env), but no file is there; fix or unset GPT_MODEL, "
                + "or pass --model FILE.gguf")
        }
        throw ValidationError("the default model is not at \(path); run `make model` (or `make run`) to fetch "
            + "it, or pass --model FILE.gguf")
    }
}

// MARK: - Compute

extension AttentionKind: ExpressibleByArgument {}

struct ComputeOptions: ParsableArguments {
    @Flag(name: .customLong("check-tensors"),
          help: "Scan every weight for NaN and infinite values at load and warn, naming the tensor (slower load).")
    var checkTensors = false
    @Option(name: [.short, .long], help: "Compute backend: \(BackendRegistry.standard.names.joined(separator: ", ")) or auto (default: $GPT_BACKEND or auto).")
    var backend: String?

    @Option(name: [.short, .long], parsing: .unconditional, help: "CPU threads; 0 = one per physical core.")
    var threads: Int = 0

    @Option(parsing: .unconditional, help: "OpenCL device index, as `gpt backends` lists them.")
    var device: Int = 0

    @Option(help: "Attention kernel: fused (flash-style, linear memory) or naive (full score matrix).")
    var attention: AttentionKind = .fused

    @Option(name: .customLong("kv-type"), help: "KV cache storage: f16 (half the memory; the default where the backend supports it) or f32.")
    var kvType: String?

    @Option(parsing: .unconditional, help: "Context size in tokens (default: the model's, capped at 4096).")
    var ctx: Int?

    @Option(parsing: .unconditional, help: "Most prompt tokens processed in one batch.")
    var batch: Int = 512

    @Flag(help: "After loading, print the memory budget (weights, KV cache, activations, logits, scratch) to stderr.")
    var verbose = false

    var backendName: String {
        backend ?? ProcessInfo.processInfo.environment["GPT_BACKEND"].flatMap { $0.isEmpty ? nil : $0 } ?? "auto"
    }

    var kvFormat: WeightFormat? { kvType.flatMap(WeightFormat.init(rawValue:)) }

    var backendOptions: BackendOptions { BackendOptions(threads: threads, deviceIndex: device) }

    func validate() throws {
        try FlagCheck.threads(threads)
        try FlagCheck.int(device, "--device", 0...1024)
        if let ctx { try FlagCheck.int(ctx, "--ctx", 1...FlagCheck.maxTokens) }
        try FlagCheck.int(batch, "--batch", 1...FlagCheck.maxTokens)
        if let kvType, kvType != "f16" && kvType != "f32" { throw ValidationError("--kv-type must be f16 or f32") }
        let known = BackendRegistry.standard.names + ["auto"]
        if !known.contains(where: { $0.lowercased() == backendName.lowercased() }) {
            let source = backend == nil ? "GPT_BACKEND names an unknown backend" : "unknown backend"
            throw ValidationError("\(source) '\(backendName)'; choose one of \(known.joined(separator: ", "))")
        }
    }

    func makeBackend() throws -> any Backend {
        try BackendRegistry.standard.make(backendName, options: backendOptions)
    }

    func loadModel(_ path: String) throws -> LanguageModel {
        let backend = try makeBackend()
        let model: LanguageModel
        do {
            model = try LanguageModel.open(path: path, backend: backend, nCtx: ctx, maxBatch: batch,
                                           attention: attention, kvFormat: kvFormat)
        } catch EngineError.contextOverflow(let needed, let limit) where needed == ctx {
            // The executor refuses a cache longer than the model was trained for: the fix is a smaller --ctx.
            throw ValidationError("--ctx \(needed) is longer than the context this model was trained for "
                + "(\(limit) tokens); lower --ctx to \(limit) or less")
        }
        if checkTensors {
            for t in try model.source.nonFiniteTensors() { Console.err("warning: \(path): \(t)\n") }
        }
        if verbose { Console.err(try memoryBudgetText(model)) }
        return model
    }
}

// MARK: - Sampling

/// `--seed N` for a reproducible run, or -1 (the default) for a fresh random seed that the timings print.
enum SeedArgument: ExpressibleByArgument, Equatable {
    case random
    case fixed(UInt64)

    /// The random seed of this process: drawn once, so that every use (and the printed value) agrees.
    static let processSeed = UInt64.random(in: 0..<(1 << 32))

    init?(argument: String) {
        if argument == "-1" || argument.lowercased() == "random" {
            self = .random
        } else if let value = UInt64(argument) {
            self = .fixed(value)
        } else {
            return nil
        }
    }

    var defaultValueDescription: String { "-1" }
    var value: UInt64 {
        switch self {
        case .random: SeedArgument.processSeed
        case .fixed(let v): v
        }
    }
}

struct SamplingFlags: ParsableArguments {
    @Option(name: [.customLong("temperature"), .customLong("temp")], parsing: .unconditional, help: "Softmax temperature; 0 = greedy.")
    var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Keep the k most likely tokens (0 = off).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Nucleus sampling threshold (1 = off).")
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop tokens below min-p times the top probability (0 = off).")
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), parsing: .unconditional, help: "Repetition penalty over the last 64 tokens (1 = off).")
    var repeatPenalty: Float = 1.0
    @Option(name: .customLong("presence-penalty"), parsing: .unconditional, help: "Presence penalty (0 = off).")
    var presencePenalty: Float = 0.0
    @Option(parsing: .unconditional, help: "Random seed: the same seed gives the same text; -1 = random (the timings print it).")
    var seed: SeedArgument = .random

    var options: SamplingOptions {
        var o = SamplingOptions()
        o.temperature = temperature
        o.topK = topK
        o.topP = topP
        o.minP = minP
        o.repetitionPenalty = repeatPenalty
        o.presencePenalty = presencePenalty
        o.seed = seed.value
        return o
    }

    func validate() throws {
        for (name, value) in SamplingSetting.allCases.compactMap({ s in floatValue(s).map { (s, $0) } }) {
            try name.check(value)
        }
    }

    private func floatValue(_ s: SamplingSetting) -> Double? {
        switch s {
        case .temperature: Double(temperature)
        case .topK: Double(topK)
        case .topP: Double(topP)
        case .minP: Double(minP)
        case .repeatPenalty: Double(repeatPenalty)
        case .presencePenalty: Double(presencePenalty)
        case .seed, .n: nil
        }
    }
}

/// The sampling settings by name, with their ranges: shared by the flags and chat's `/set NAME VALUE`, so a value
/// is judged the same way wherever it comes from. Values arrive as Double (what a user typed) and are checked
/// before any conversion to Int, Float or UInt64.
enum SamplingSetting: String, CaseIterable {
    case temperature, topK = "top-k", topP = "top-p", minP = "min-p", repeatPenalty = "repeat-penalty"
    case presencePenalty = "presence-penalty", seed, n

    init?(name: String) {
        if name == "temp" { self = .temperature } else { self.init(rawValue: name) }
    }

    var flag: String { self == .n ? "-n" : "--\(rawValue)" }

    /// Allowed values and what they mean, for the error message.
    var range: (ClosedRange<Double>, String) {
        switch self {
        case .temperature: (0...100, "0 (greedy) to 100")
        case .topK: (0...1_000_000, "a whole number from 0 (off) to 1000000")
        case .topP: (0.000_001...1, "a number above 0 and at most 1 (1 = off)")
        case .minP: (0...0.999_999, "a number from 0 (off) to below 1")
        case .repeatPenalty: (0.000_001...100, "a number above 0 and at most 100 (1 = off)")
        case .presencePenalty: (-100...100, "a number from -100 to 100 (0 = off)")
        case .seed: (-1...4_294_967_295, "a whole number from 0 to 4294967295, or -1 for random")
        case .n: (1...Double(FlagCheck.maxTokens), "a whole number from 1 to \(FlagCheck.maxTokens)")
        }
    }

    var isInteger: Bool { self == .topK || self == .seed || self == .n }

    /// - Parameters:
    ///   - label: how the message names the setting (the flag, or the `/set` name).
    func check(_ value: Double, label: String? = nil) throws {
        let (range, meaning) = self.range
        let name = label ?? flag
        guard value.isFinite else { throw ValidationError("\(name) must be a finite number, not \(value)") }
        guard range.contains(value), !isInteger || value == value.rounded() else {
            throw ValidationError("\(name) \(SamplingSetting.show(value)) is out of range: give \(meaning)")
        }
    }

    /// Applies a checked value to the options (or the answer length); throws the range message otherwise.
    func apply(_ value: Double, to o: inout SamplingOptions, maxTokens: inout Int, label: String? = nil) throws {
        try check(value, label: label)
        switch self {
        case .temperature: o.temperature = Float(value)
        case .topK: o.topK = Int(value)
        case .topP: o.topP = Float(value)
        case .minP: o.minP = Float(value)
        case .repeatPenalty: o.repetitionPenalty = Float(value)
        case .presencePenalty: o.presencePenalty = Float(value)
        case .seed: o.seed = value < 0 ? UInt64.random(in: 0..<(1 << 32)) : UInt64(value)
        case .n: maxTokens = Int(value)
        }
    }

    /// The current value as `/set` shows it.
    func current(_ o: SamplingOptions, maxTokens: Int) -> String {
        switch self {
        case .temperature: show(o.temperature)
        case .topK: String(o.topK)
        case .topP: show(o.topP)
        case .minP: show(o.minP)
        case .repeatPenalty: show(o.repetitionPenalty)
        case .presencePenalty: show(o.presencePenalty)
        case .seed: String(o.seed)
        case .n: String(maxTokens)
        }
    }

    private func show(_ x: Float) -> String { SamplingSetting.show(Double(x)) }

    static func show(_ x: Double) -> String {
        x.isFinite && x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%g", x)
    }
}

/// `-n`: the most tokens to generate; -1 = until the context is full (llama.cpp's -n -1).
enum TokenLimit {
    static func check(_ n: Int, allowZero: Bool) throws {
        guard n == -1 || (allowZero ? 0 : 1)...FlagCheck.maxTokens ~= n else {
            throw ValidationError("-n \(n) is out of range: give \(allowZero ? 0 : 1) to \(FlagCheck.maxTokens) "
                + "tokens, or -1 for as many as the context holds")
        }
    }
}

// MARK: - Output

/// Unbuffered writes: tokens must appear as they are made.
enum Console {
    static func out(_ s: String) {
        guard !s.isEmpty else { return }
        FileHandle.standardOutput.write(Data(s.utf8))
    }

    static func err(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }

    /// Whether ANSI colours may go to stdout: a terminal, and NO_COLOR (no-color.org) unset or empty.
    static var colour: Bool {
        let env = ProcessInfo.processInfo.environment
        if let noColor = env["NO_COLOR"], !noColor.isEmpty { return false }
        if env["TERM"] == "dumb" { return false }
        return isatty(1) != 0
    }
}

/// Checks, before any work, that an output file can be created: its folder exists and it is not a folder.
func checkOutputPath(_ path: String, _ flag: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    if !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) || !isFolder.boolValue {
        throw ValidationError("\(flag) \(path): the folder \(folder) does not exist; create it or pick another path")
    }
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
        throw ValidationError("\(flag) \(path) is a folder; give a file name")
    }
}

/// Writes a file, with a plain sentence when that fails (no Foundation error domains or user-info dumps).
func writeFile(_ bytes: Data, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else {
        throw ValidationError("cannot write \(path): \(String(cString: strerror(errno))); pick another path")
    }
    defer { close(fd) }
    try bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}

// MARK: - Generation reports

/// Why an answer ended, as OpenAI's API names it: an end-of-generation token, the -n limit (or the context), or
/// Ctrl-C.
enum FinishReason: String {
    case stop, length, interrupted

    init(_ stats: GenerationStats, interrupted: Bool) {
        self = stats.endToken != nil ? .stop : interrupted ? .interrupted : .length
    }
}

/// The generation statistics that generate and chat both print (text) or write (JSON), from one definition:
/// generated tokens, decode steps (forward calls after the prompt), and decode throughput = steps / time.
struct GenerationReport {
    var stats: GenerationStats
    var seed: UInt64
    var finish: FinishReason

    var fields: [(String, Any)] {
        func r(_ x: Double) -> Double { (x * 100).rounded() / 100 }
        return [
            ("prompt_tokens", stats.promptTokens), ("prompt_ms", r(stats.promptSeconds * 1000)),
            ("prompt_tokens_per_second", r(stats.promptTokensPerSecond)),
            ("generated_tokens", stats.generatedTokens), ("decode_steps", stats.decodeSteps),
            ("generation_ms", r(stats.generateSeconds * 1000)),
            ("generation_tokens_per_second", r(stats.generateTokensPerSecond)),
            ("seed", seed), ("finish_reason", finish.rawValue),
        ]
    }

    var text: String {
        func f(_ x: Double) -> String { String(format: "%.2f", x) }
        let s = stats
        return """
            prompt: \(s.promptTokens) tokens in \(f(s.promptSeconds * 1000)) ms, \(f(s.promptTokensPerSecond)) tokens/s
            generation: \(s.generatedTokens) tokens, \(s.decodeSteps) decode steps in \(f(s.generateSeconds * 1000)) ms, \
            \(f(s.generateTokensPerSecond)) tokens/s (seed \(seed), finish: \(finish.rawValue))

            """
    }

    /// The notice for an answer cut off by -n (nil when it ended for another reason).
    func cutOffNotice(limit: Int, contextFull: Bool) -> String? {
        guard finish == .length else { return nil }
        if contextFull { return "the context is full: the answer is cut off (raise --ctx for more room)" }
        return "cut off at -n \(limit) tokens; raise -n for a longer answer"
    }
}

/// The memory budget of a loaded model, headed by what it was computed for.
func memoryBudgetText(_ model: LanguageModel) throws -> String {
    let e = model.executor
    return "memory budget (\(model.backend.name), context \(e.nCtx), \(e.kvFormat.rawValue) KV cache, batch \(e.maxBatch), "
        + "\(e.attention.rawValue) attention):\n" + (try e.memoryBudget()).render()
}

func loadLine(_ model: LanguageModel) -> String {
    String(format: "load: %.2f ms (%@, %@, %d layers, context %d)\n", model.loadSeconds * 1000, model.backend.name,
           model.config.architecture, model.config.nLayers, model.executor.nCtx)
}

/// One JSON object per line, for scripts (`--json`): numbers stay numbers.
enum JSONLine {
    static func encode(_ fields: [(String, Any)]) -> String {
        let object = Dictionary(fields, uniquingKeysWith: { a, _ in a })
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
