// gpt profile: where the time goes. Runs a prompt and a generation through a ProfiledBackend and prints, per
// op × format × shape, the calls, time, share, GFLOP/s, GB/s and share of this machine's measured roofline.
import ArgumentParser
import Foundation
import SwiftGPT

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Profile kernels: per-op time, GFLOP/s, GB/s and share of the measured roofline.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @Option(name: .short, help: "Prompt tokens (random ids, as gpt bench uses).")
    var p: Int = 128
    @Option(name: .short, help: "Generated tokens (one-token decode steps).")
    var n: Int = 32
    @Option(help: "Write a Chrome trace-event file (open it in Perfetto).")
    var trace: String?
    @Flag(help: "Measure this machine's peak FLOP/s and memory bandwidth again and cache them.")
    var calibrate = false
    @Option(help: "Rows of the table to print.")
    var top: Int = 25

    func validate() throws {
        try FlagCheck.int(p, "-p", 1...FlagCheck.maxTokens)
        try FlagCheck.int(n, "-n", 0...FlagCheck.maxTokens)
        try FlagCheck.int(top, "--top", 1...100_000)
        if let trace { try checkOutputPath(trace, "--trace") }
    }

    func run() throws {
        let threads = CPUInfo.threads(compute.threads)
        var roofline = Roofline.cached(threads: threads)
        if calibrate || roofline == nil {
            Console.err("profile: measuring the roofline on \(threads) threads ...\n")
            roofline = Roofline.measure(threads: threads)
            try roofline!.save()
        }
        let roof = roofline!
        Console.out(String(format: "roofline (%d threads, %@): peak %.1f GFLOP/s (FP32 FMA), read bandwidth %.1f GB/s\n",
                           threads, roof.simd, roof.peakGFLOPS, roof.bandwidthGBps))
        if calibrate && modelOptions.model == nil { return }

        let profiled = ProfiledBackend(try compute.makeBackend())
        profiled.recording = false
        let model = try LanguageModel.open(path: modelOptions.path, backend: profiled, nCtx: compute.ctx ?? max(p + n, 16),
                                      maxBatch: compute.batch, attention: compute.attention,
                                      kvFormat: compute.kvFormat)
        // one warm-up pass, not recorded
        _ = try model.executor.benchmarkPrompt(tokens: min(p, 16), repetitions: 0)
        profiled.recording = true
        var rng = SeededGenerator(seed: 7)
        let prompt = (0..<p).map { _ in Int32(rng.next() % UInt64(model.config.nVocab)) }
        model.executor.reset()
        let t0 = Date()
        _ = try model.executor.forward(prompt)
        let prefillSeconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        for _ in 0..<n { _ = try model.executor.forward([Int32(rng.next() % UInt64(model.config.nVocab))]) }
        let decodeSeconds = Date().timeIntervalSince(t1)
        let stats = profiled.stats
        let total = Double(stats.reduce(0) { $0 + $1.nanoseconds }) / 1e9
        Console.out(String(format: "backend %@: prompt %d tokens in %.1f ms (%.1f t/s), %d decode steps in %.1f ms (%.1f t/s); "
                           + "ops add up to %.1f ms (profiling synchronises after every op)\n",
                           profiled.name, p, prefillSeconds * 1000, Double(p) / prefillSeconds, n, decodeSeconds * 1000,
                           n > 0 ? Double(n) / decodeSeconds : 0, total * 1000))
        Console.out("| op | calls | total ms | mean µs | share | GFLOP/s | GB/s | roofline |\n")
        Console.out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
        for s in stats.prefix(top) {
            let secs = Double(s.nanoseconds) / 1e9
            Console.out(String(format: "| %@ | %d | %.2f | %.1f | %.1f%% | %.1f | %.1f | %.0f%% |\n",
                               s.key, s.calls, secs * 1000, secs * 1e6 / Double(s.calls), 100 * secs / total,
                               s.flops / secs / 1e9, s.bytes / secs / 1e9,
                               100 * roof.share(flops: s.flops, bytes: s.bytes, seconds: secs)))
        }
        if let trace {
            try ChromeTrace.write(profiled.events, backend: profiled.name, to: trace)
            Console.err("profile: wrote \(profiled.events.count) events to \(trace)\n")
        }
    }
}
