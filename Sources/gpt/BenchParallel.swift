// gpt bench --parallel 1,2,4,8,16: sequences decoded together through the batched engine, in the columns of
// llama-batched-bench (PP, TG, B, N_KV, T_PP s, S_PP t/s, T_TG s, S_TG t/s), plus the per-sequence rate.
import Foundation
import GPTServer
import SwiftGPT

extension Bench {
    func runBatched(sequenceCounts: [Int]) throws {
        let prompt = try ints(p, "-p").first ?? 128
        let gen = max(1, try ints(n, "-n").first ?? 128)
        let threadCount = try ints(threads, "--threads").first ?? 0
        let be = try BackendRegistry.standard.make(backend, options: BackendOptions(threads: threadCount))
        // nCtx: each sequence's context (the executor's own cache is made only on first use, never here).
        let model = try LanguageModel.open(path: modelOptions.path, backend: be, nCtx: prompt + gen + 1,
                                           maxBatch: batch, kvFormat: kvType.flatMap(WeightFormat.init(rawValue:)))
        var results: [BatchedBenchmarkResult] = []
        for count in sequenceCounts {
            Console.err("bench: \(be.name) B=\(count) pp\(prompt) tg\(gen) ...\n")
            let engine = try makeBatchEngine(model: model, slots: count, contextPerSlot: prompt + gen + 1)
            // best of -r runs (the warm-up is inside the benchmark)
            var best: BatchedBenchmarkResult?
            for _ in 0..<r {
                let result = try engine.benchmarkBatched(sequences: count, promptTokens: prompt, generatedTokens: gen)
                if best == nil || result.generateSeconds < best!.generateSeconds { best = result }
            }
            results.append(best!)
        }
        let name = URL(fileURLWithPath: modelOptions.path).lastPathComponent
        switch output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Console.out(String(decoding: try encoder.encode(results), as: UTF8.self) + "\n")
        case .csv:
            Console.out("model,backend,pp,tg,b,n_kv,t_pp,s_pp,t_tg,s_tg,s_tg_per_seq\n")
            for x in results {
                Console.out("\(name),\(be.name),\(x.promptTokens),\(x.generatedTokens),\(x.sequences),\(x.kvTokens),"
                    + String(format: "%.3f,%.2f,%.3f,%.2f,%.2f", x.promptSeconds, x.promptRate, x.generateSeconds,
                             x.aggregateRate, x.perSequenceRate) + "\n")
            }
        case .md:
            Console.out("\(name), \(be.name), best of \(r)\n\n")
            Console.out("| PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | t/s per sequence |\n")
            Console.out("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
            for x in results {
                Console.out("| \(x.promptTokens) | \(x.generatedTokens) | \(x.sequences) | \(x.kvTokens) | "
                    + String(format: "%.3f | %.2f | %.3f | %.2f | %.2f", x.promptSeconds, x.promptRate,
                             x.generateSeconds, x.aggregateRate, x.perSequenceRate) + " |\n")
            }
        }
    }
}
