// Kernels: micro-benchmarks (ordo-one/benchmark) of SwiftGPT's ops on SmolLM2-135M's shapes, run through the
// `Backend` protocol exactly as the transformer executor calls them, so dispatch and shape checks are included.
// Not here: whole-model tokens/s (`gpt bench`), comparison with llama.cpp (`compare-llama.sh`), long contexts
// (`scripts/bench-long-context.sh`), correctness (`gpt check`). Every op's result goes through `blackHole`.
//
// SmolLM2-135M: nEmbd 576, FFN 1536, 9 query heads sharing 3 KV heads of headDim 64, nVocab 49152, rope base 1e5.
// Shapes are written K=inputs N=outputs: out (T, N) = x (T, K) · w (N, K)ᵀ.
//
// Besides wall clock and throughput (ops/s) each benchmark records one custom metric:
//   weights MB/s  decode matmuls: weight bytes streamed per second, as the backend stores them (quantized blocks
//                 for openmp; F32, 4 bytes a weight, for blas). The weights rotate over copies that add up to at
//                 least 256 MiB, so each step reads them from DRAM as a real decode step does (the model is ~100 MB,
//                 more than the caches). Compare backends by throughput (ops/s), which does not depend on storage.
//   MFLOP/s       prefill matmul (2·T·K·N per op) and attention (2·2·hd per query head and visible key).
//
// Settings come from the environment (the plugin passes no arguments to benchmark targets):
//   GPT_BENCH_BACKENDS  comma-separated backend names (default "openmp"; e.g. "openmp,blas")
//   GPT_THREADS         threads (default 0 = one per physical core, as `gpt`)
//   GPT_BENCH_MAX_MS    longest run of one benchmark in milliseconds (default 300; raise for quotable numbers)
//   GPT_BENCH_MAX_ITER  most iterations of one benchmark (default 1000)
import Benchmark
import Foundation
import SwiftGPT

// MARK: - Settings

/// What to run, read once from the environment.
struct Settings {
    var backends: [String]
    var threads: Int
    var maxDuration: Duration
    var maxIterations: Int

    init(_ env: [String: String] = ProcessInfo.processInfo.environment) {
        backends = (env["GPT_BENCH_BACKENDS"] ?? "openmp").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        threads = Int(env["GPT_THREADS"] ?? "") ?? 0
        maxDuration = .milliseconds(Int(env["GPT_BENCH_MAX_MS"] ?? "") ?? 300)
        maxIterations = Int(env["GPT_BENCH_MAX_ITER"] ?? "") ?? 1000
    }
}

/// SmolLM2-135M's dimensions.
enum Smol {
    static let nEmbd = 576, nFF = 1536, nVocab = 49152
    static let nHeads = 9, nKVHeads = 3, headDim = 64
    static let ropeFreqBase: Float = 100_000
    static let normEps: Float = 1e-5
}

/// Custom metrics (integers: ordo-one/benchmark stores Int samples).
enum KernelMetric {
    static let weightsMBps = BenchmarkMetric.custom("weights MB/s", polarity: .prefersLarger, useScalingFactor: false)
    static let mflops = BenchmarkMetric.custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)
}

// MARK: - Inputs

/// splitmix64: seeded, so every run benchmarks the same numbers.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

/// Valid quantized blocks with random contents, written by hand (the quantizer is not public API). Scales are
/// small normal f16 values, so no denormals or NaNs reach the kernels.
func randomWeights(_ format: WeightFormat, rows: Int, cols: Int, rng: inout SplitMix) -> [UInt8] {
    precondition(cols % format.blockSize == 0, "\(cols) columns is not a whole number of \(format) blocks")
    var bytes = [UInt8](repeating: 0, count: format.byteCount(rows * cols))
    func putF16(_ v: Float, at i: Int) {
        let bits = Float16(v).bitPattern
        bytes[i] = UInt8(bits & 0xFF)
        bytes[i + 1] = UInt8(bits >> 8)
    }
    switch format {
    case .f32:
        bytes.withUnsafeMutableBytes { raw in
            for i in 0..<(rows * cols) { raw.storeBytes(of: rng.float(), toByteOffset: 4 * i, as: Float.self) }
        }
    case .f16:
        for i in 0..<(rows * cols) { putF16(rng.float(), at: 2 * i) }
    case .q4_0, .q4_1, .q8_0:
        let header = format == .q4_1 ? 4 : 2  // f16 d (and f16 m for q4_1), then the quants
        for b in 0..<(rows * cols / format.blockSize) {
            let base = b * format.blockBytes
            let d = 0.001 + 0.01 * abs(rng.float())
            putF16(d, at: base)
            if format == .q4_1 { putF16(-8 * d, at: base + 2) }
            for j in (base + header)..<(base + format.blockBytes) { bytes[j] = UInt8(truncatingIfNeeded: rng.next()) }
        }
    }
    return bytes
}

/// Device tensors for one benchmark, made and filled through the Backend protocol.
struct Uploader {
    let backend: any Backend
    var rng = SplitMix(state: 42)

    mutating func floats(_ shape: [Int], label: String) throws -> any DeviceTensor {
        let values = (0..<shape.reduce(1, *)).map { _ in rng.float() }
        let t = try backend.allocate(shape, .f32, label: label)
        try values.withUnsafeBytes { try backend.write(t, from: $0) }
        return t
    }

    mutating func weights(_ format: WeightFormat, n: Int, k: Int, label: String) throws -> any DeviceTensor {
        let bytes = randomWeights(format, rows: n, cols: k, rng: &rng)
        let t = try backend.allocate([n, k], format, label: label)
        try bytes.withUnsafeBytes { try backend.write(t, from: $0) }
        return t
    }
}

/// The state a benchmark's setup hands to its iterations. Built and used on the benchmark's one thread; the
/// framework's setup signature is async, hence the unchecked conformance.
final class OpState: @unchecked Sendable {
    let backend: any Backend
    /// Weight copies the decode matmuls rotate through (one copy for the others).
    var weights: [any DeviceTensor] = []
    var inputs: [String: any DeviceTensor] = [:]
    var next = 0
    /// Bytes or FLOPs one op moves or does, for the custom metric (set by the setup when it depends on storage).
    var workPerOp: Double = 0

    init(_ backend: any Backend) { self.backend = backend }

    subscript(_ key: String) -> any DeviceTensor { inputs[key]! }

    /// The next weight copy in the ring.
    func nextWeights() -> any DeviceTensor {
        defer { next = (next + 1) % weights.count }
        return weights[next]
    }

    /// First `count` floats of `t`, so that the result is observed (`blackHole`) and the work cannot be dropped.
    func observe(_ t: any DeviceTensor, count: Int = 8) throws {
        var head = [Float](repeating: 0, count: count)
        try head.withUnsafeMutableBufferPointer { try backend.read(t, into: $0) }
        blackHole(head)
    }
}

// MARK: - Benchmarks

/// Registers one benchmark whose iterations run `body` once (or `scale` times) and report `metric` as the
/// setup's `workPerOp` (bytes or FLOPs) per run of `body`, in millions per second.
func register(
    _ name: String, settings: Settings, scale: BenchmarkScalingFactor = .one, metric: BenchmarkMetric? = nil,
    setup: @escaping () throws -> OpState, body: @escaping (OpState) throws -> Void
) {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput] + (metric.map { [$0] } ?? []),
        warmupIterations: 2, scalingFactor: scale, maxDuration: settings.maxDuration,
        maxIterations: settings.maxIterations)
    Benchmark(
        name, configuration: configuration,
        closure: { (benchmark: Benchmark, state: OpState) throws in
            let clock = ContinuousClock()
            let start = clock.now
            for _ in benchmark.scaledIterations { try body(state) }
            try state.backend.synchronize()
            let elapsed = clock.now - start
            if let metric {
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                let ops = Double(benchmark.scaledIterations.count)
                benchmark.measurement(metric, Int((ops * state.workPerOp / 1e6 / max(seconds, 1e-12)).rounded()))
            }
        },
        setup: { try setup() })
}

let benchmarks: @Sendable () -> Void = {
    let settings = Settings()
    let options = BackendOptions(threads: settings.threads)
    let (d, ff, nh, nkv, hd) = (Smol.nEmbd, Smol.nFF, Smol.nHeads, Smol.nKVHeads, Smol.headDim)

    for backendName in settings.backends {
        func makeBackend() throws -> any Backend { try BackendRegistry.standard.make(backendName, options: options) }

        // MARK: Decode matmuls (T = 1), weights from DRAM

        let decodeShapes: [(WeightFormat, k: Int, n: Int, what: String)] = [
            (.q4_1, d, ff, "ffn gate/up"), (.q4_1, ff, d, "ffn down"), (.q4_1, d, d, "attn q/o"),
            (.q8_0, d, Smol.nVocab, "unembedding"),
        ]
        for (format, k, n, what) in decodeShapes {
            register(
                "\(backendName) matmul tg \(format) K=\(k) N=\(n) (\(what))", settings: settings,
                metric: KernelMetric.weightsMBps,
                setup: {
                    let state = OpState(try makeBackend())
                    var up = Uploader(backend: state.backend)
                    // Identical copies: what matters is that the next one is not in a cache.
                    let raw = randomWeights(format, rows: n, cols: k, rng: &up.rng)
                    func upload(_ c: Int) throws -> any DeviceTensor {
                        let w = try state.backend.allocate([n, k], format, label: "w\(c)")
                        try raw.withUnsafeBytes { try state.backend.write(w, from: $0) }
                        return w
                    }
                    let first = try upload(0)
                    state.workPerOp = Double(first.byteCount)  // as stored: blas keeps F32
                    state.weights = [first]
                    for c in 1..<max(2, (256 << 20) / first.byteCount + 1) { state.weights.append(try upload(c)) }
                    state.inputs["x"] = try up.floats([1, k], label: "x")
                    state.inputs["out"] = try up.floats([1, n], label: "out")
                    return state
                },
                body: { s in
                    try s.backend.matmul(s["out"], s["x"], s.nextWeights(), rows: 1)
                    try s.observe(s["out"])
                })
        }

        // MARK: Prefill matmul (T = 512)

        let t = 512
        register(
            "\(backendName) matmul pp\(t) q4_1 K=\(d) N=\(ff) (ffn gate/up)", settings: settings,
            metric: KernelMetric.mflops,
            setup: {
                let state = OpState(try makeBackend())
                state.workPerOp = 2 * Double(t * d * ff)
                var up = Uploader(backend: state.backend)
                state.weights = [try up.weights(.q4_1, n: ff, k: d, label: "w")]
                state.inputs["x"] = try up.floats([t, d], label: "x")
                state.inputs["out"] = try up.floats([t, ff], label: "out")
                return state
            },
            body: { s in
                try s.backend.matmul(s["out"], s["x"], s.nextWeights(), rows: t)
                try s.observe(s["out"])
            })

        // MARK: Norm and rope (microseconds each: 1000 calls per iteration)

        for rows in [1, t] {
            let scale: BenchmarkScalingFactor = rows == 1 ? .kilo : .one
            register(
                "\(backendName) rmsNorm T=\(rows) n=\(d)", settings: settings, scale: scale,
                setup: {
                    let state = OpState(try makeBackend())
                    var up = Uploader(backend: state.backend)
                    state.inputs["x"] = try up.floats([rows, d], label: "x")
                    state.inputs["w"] = try up.floats([d], label: "w")
                    state.inputs["out"] = try up.floats([rows, d], label: "out")
                    return state
                },
                body: { s in
                    try s.backend.rmsNorm(s["out"], s["x"], weight: s["w"], rows: rows, eps: Smol.normEps)
                    try s.observe(s["out"], count: 1)
                })
            register(
                "\(backendName) rope T=\(rows) heads=\(nh)x\(hd)", settings: settings, scale: scale,
                setup: {
                    let state = OpState(try makeBackend())
                    var up = Uploader(backend: state.backend)
                    state.inputs["q"] = try up.floats([rows, nh * hd], label: "q")
                    return state
                },
                body: { s in
                    // A rotation keeps norms, so rotating the same rows again and again stays finite.
                    try s.backend.rope(s["q"], rows: rows, startPos: 100, nHeads: nh, headDim: hd,
                                       freqBase: Smol.ropeFreqBase, style: .adjacent)
                    try s.observe(s["q"], count: 1)
                })
        }

        // MARK: Attention: decode at a context, and a whole prompt

        let attentionCases: [(test: String, rows: Int, startPos: Int)] = [
            ("tg@512", 1, 511), ("tg@4096", 1, 4095), ("pp512", t, 0),
        ]
        for (test, rows, startPos) in attentionCases {
            let keys = startPos + rows
            // Visible (query, key) pairs: startPos + i + 1 keys for query row i.
            let pairs = Double(rows * startPos + rows * (rows + 1) / 2)
            for kind in AttentionKind.allCases {
                register(
                    "\(backendName) attention \(kind) \(test) heads=\(nh)/\(nkv)x\(hd)", settings: settings,
                    metric: KernelMetric.mflops,
                    setup: {
                        let state = OpState(try makeBackend())
                        state.workPerOp = 4 * Double(nh * hd) * pairs
                        var up = Uploader(backend: state.backend)
                        state.inputs["q"] = try up.floats([rows, nh * hd], label: "q")
                        state.inputs["k"] = try up.floats([keys, nkv * hd], label: "kCache")
                        state.inputs["v"] = try up.floats([keys, nkv * hd], label: "vCache")
                        state.inputs["out"] = try up.floats([rows, nh * hd], label: "out")
                        return state
                    },
                    body: { s in
                        try s.backend.attention(
                            s["out"], q: s["q"], kCache: s["k"], vCache: s["v"], rows: rows, startPos: startPos,
                            nHeads: nh, nKVHeads: nkv, headDim: hd, scale: 1 / Float(hd).squareRoot(), kind: kind)
                        try s.observe(s["out"])
                    })
            }
        }
    }
}
