// gpt bench: prompt (pp) and generation (tg) tokens/s in the manner of llama-bench: mean ± sd over -r runs after a
// warm-up, one row per configuration. Progress goes to stderr; the table to stdout. Each row also has the process's
// peak resident memory during that test (the kernel's high-water mark, reset before the test) and, for decode, the
// share of the calibrated read bandwidth the weights and KV cache streamed at (`gpt profile --calibrate`).
import ArgumentParser
import Foundation
import SwiftGPT

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark prompt processing and generation (llama-bench style).")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case md, json, csv }

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .short, help: "Prompt lengths, comma-separated (0 = skip).")
    var p: String = "512"
    @Option(name: .short, help: "Generation lengths, comma-separated (0 = skip).")
    var n: String = "128"
    @Option(name: [.short, .customLong("depth")],
            help: "Context depths, comma-separated: tokens already in the cache before each test (llama-bench -d).")
    var d: String = "0"
    @Option(name: .short, help: "Repetitions after the warm-up.")
    var r: Int = 5
    @Option(name: [.short, .long], help: "Backends, comma-separated.")
    var backend: String = "auto"
    @Option(name: [.short, .long], help: "Thread counts, comma-separated (0 = one per physical core).")
    var threads: String = "0"
    @Option(help: "Attention kernels, comma-separated: fused, naive.")
    var attention: String = "fused"
    @Option(name: .customLong("kv-type"), help: "KV cache storage: f16 or f32 (default: f16 where supported).")
    var kvType: String?
    @Option(help: "Most prompt tokens per batch.")
    var batch: Int = 512
    @Option(name: [.short, .long], help: "Output: md, json or csv.")
    var output: OutputFormat = .md
    @Option(help: "Sequence counts, comma-separated: decode them together (llama-batched-bench); aggregate and per-sequence t/s.")
    var parallel: String?

    func validate() throws {
        try FlagCheck.int(r, "-r", 1...10_000)
        try FlagCheck.int(batch, "--batch", 1...FlagCheck.maxTokens)
        if let kvType, kvType != "f16" && kvType != "f32" { throw ValidationError("--kv-type must be f16 or f32") }
        for v in try ints(p, "-p") { try FlagCheck.int(v, "-p", 0...FlagCheck.maxTokens) }
        for v in try ints(n, "-n") { try FlagCheck.int(v, "-n", 0...FlagCheck.maxTokens) }
        for v in try ints(d, "--depth") { try FlagCheck.int(v, "--depth", 0...FlagCheck.maxTokens) }
        for v in try ints(threads, "--threads") { try FlagCheck.threads(v) }
        if let parallel, try ints(parallel, "--parallel").contains(where: { $0 < 1 || $0 > 256 }) {
            throw ValidationError("--parallel takes sequence counts from 1 to 256")
        }
        for a in list(attention) where AttentionKind(rawValue: a) == nil {
            throw ValidationError("unknown attention kernel '\(a)' (fused, naive)")
        }
    }

    private func list(_ s: String) -> [String] {
        s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func ints(_ s: String, _ flag: String) throws -> [Int] {
        try list(s).map {
            guard let v = Int($0), v >= 0 else { throw ValidationError("\(flag) takes non-negative integers, got '\($0)'") }
            return v
        }
    }

    struct Row: Codable {
        var model: String, backend: String, threads: Int, attention: String, kv: String, test: String, depth: Int
        var tokensPerSecond: Double, standardDeviation: Double, samples: [Double]
        /// Peak resident set of the process during this test (model mapped and loaded, cache, buffers), MiB.
        var peakRSSMiB: Double?
        /// tg: bytes read per token (weights + the KV cache it attends over) × t/s ÷ the calibrated bandwidth.
        var bandwidthShare: Double?
    }

    func run() throws {
        if let parallel { return try runBatched(sequenceCounts: try ints(parallel, "--parallel")) }
        let prompts = try ints(p, "-p").filter { $0 > 0 }
        let gens = try ints(n, "-n").filter { $0 > 0 }
        let depths = try ints(d, "--depth").isEmpty ? [0] : try ints(d, "--depth")
        var rows: [Row] = []
        for backendName in list(backend) {
            for threadCount in try ints(threads, "--threads") {
                for attentionName in list(attention) {
                    let kind = AttentionKind(rawValue: attentionName)!
                    let be = try BackendRegistry.standard.make(backendName, options: BackendOptions(threads: threadCount))
                    let needed = max(prompts.max() ?? 1, gens.max() ?? 1) + (depths.max() ?? 0)
                    let model = try LanguageModel.open(path: modelOptions.path, backend: be, nCtx: max(needed, 16),
                                                  maxBatch: batch, attention: kind,
                                                  kvFormat: kvType.flatMap(WeightFormat.init(rawValue:)))
                    let usedThreads = threadCount > 0 ? threadCount : CPUInfo.physicalCores
                    var results: [(depth: Int, result: BenchmarkResult, peak: Double?, share: Double?)] = []
                    let e = model.executor
                    let roof = Roofline.cached(threads: usedThreads)
                    for depth in depths {
                        let at = depth > 0 ? " @ d\(depth)" : ""
                        for tokens in prompts {
                            Console.err("bench: \(be.name) t=\(usedThreads) \(attentionName) pp\(tokens)\(at) ...\n")
                            ResidentMemory.resetPeak()
                            let result = try e.benchmarkPrompt(tokens: tokens, repetitions: r, depth: depth)
                            results.append((depth, result, ResidentMemory.peakMiB(), nil))
                        }
                        for tokens in gens {
                            Console.err("bench: \(be.name) t=\(usedThreads) \(attentionName) tg\(tokens)\(at) ...\n")
                            ResidentMemory.resetPeak()
                            let result = try e.benchmarkGeneration(tokens: tokens, repetitions: r, depth: depth)
                            // each step reads every weight once and the keys and values of the positions so far
                            let keys = Double(depth) + Double(tokens + 1) / 2
                            let kvBytes = keys * Double(2 * e.config.nLayers * e.kvFormat.byteCount(e.config.kvDim))
                            let share = roof.map { (Double(e.weightBytes) + kvBytes) * result.mean / ($0.bandwidthGBps * 1e9) }
                            results.append((depth, result, ResidentMemory.peakMiB(), share))
                        }
                    }
                    let name = URL(fileURLWithPath: modelOptions.path).lastPathComponent
                    rows += results.map { depth, result, peak, share in
                        Row(model: name, backend: be.name, threads: usedThreads, attention: attentionName,
                            kv: e.kvFormat.rawValue, test: result.test, depth: depth, tokensPerSecond: result.mean,
                            standardDeviation: result.standardDeviation, samples: result.samples, peakRSSMiB: peak,
                            bandwidthShare: share)
                    }
                    if gens.isEmpty == false && roof == nil {
                        Console.err("bench: no calibrated bandwidth for \(usedThreads) threads: run `gpt profile "
                            + "--calibrate -t \(usedThreads)` once for the bandwidth column\n")
                    }
                }
            }
        }
        switch output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Console.out(String(decoding: try encoder.encode(rows), as: UTF8.self) + "\n")
        case .csv:
            Console.out("model,backend,threads,attention,kv,test,t/s,sd,peak_rss_mib,bandwidth_share\n")
            for row in rows {
                Console.out("\(row.model),\(row.backend),\(row.threads),\(row.attention),\(row.kv),\(row.test),"
                    + String(format: "%.2f,%.2f,", row.tokensPerSecond, row.standardDeviation)
                    + (row.peakRSSMiB.map { String(format: "%.1f", $0) } ?? "") + ","
                    + (row.bandwidthShare.map { String(format: "%.3f", $0) } ?? "") + "\n")
            }
        case .md:
            Console.out("| model | backend | threads | attention | kv | test | t/s | peak RSS MiB | of bandwidth |\n")
            Console.out("| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: |\n")
            for row in rows {
                Console.out("| \(row.model) | \(row.backend) | \(row.threads) | \(row.attention) | \(row.kv) | \(row.test) | "
                    + String(format: "%.2f ± %.2f", row.tokensPerSecond, row.standardDeviation) + " | "
                    + (row.peakRSSMiB.map { String(format: "%.0f", $0) } ?? "—") + " | "
                    + (row.bandwidthShare.map { String(format: "%.0f%%", 100 * $0) } ?? "—") + " |\n")
            }
        }
    }
}

/// The process's peak resident memory (Linux: VmHWM in /proc/self/status), resettable so that a figure covers one
/// test: writing 5 to /proc/self/clear_refs sets the high-water mark back to the current resident set.
enum ResidentMemory {
    static func resetPeak() {
        guard let f = fopen("/proc/self/clear_refs", "w") else { return }
        fputs("5", f)
        fclose(f)
    }

    /// VmHWM in MiB; nil where /proc does not report it.
    static func peakMiB() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kB = line.split(separator: " ").compactMap { Int($0) }.first
            return kB.map { Double($0) / 1024 }
        }
        return nil
    }
}
