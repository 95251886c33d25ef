// gpt perplexity: llama-perplexity's measurement (same chunking and formula, so the numbers compare), and its
// KL-divergence comparison of two runs (another format or backend). Results go to stdout, progress to stderr.
import ArgumentParser
import Foundation
import SwiftGPT

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Measure perplexity on a text as llama-perplexity does, or compare two runs by KL divergence.",
        discussion: """
            The text is cut into chunks of --ctx tokens (the first token of each replaced by BOS when the model \
            adds BOS); the second half of each chunk is scored. Prints the running perplexity as chunks finish and \
            `Final estimate: PPL = … +/- …`. With --kl-divergence-base FILE (and -f) the run also saves its top-\
            \(KLDivergenceBase.topK) next-token distributions; a later run with --kl-divergence \
            --kl-divergence-base FILE (no -f: the tokens come from FILE) reports KL divergence, top-1 agreement \
            and Δp against it.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions

    @Option(name: [.customShort("f"), .customLong("file")], help: "The text file to score.")
    var file: String?
    @Option(help: "Score at most this many chunks (default: all).")
    var chunks: Int?
    @Option(name: .customLong("kl-divergence-base"), help: "Base file: written by a run with -f, read with --kl-divergence.")
    var klBase: String?
    @Flag(name: .customLong("kl-divergence"), help: "Compare with the run saved in --kl-divergence-base.")
    var klDivergence = false

    /// Chunk size: --ctx, 512 by default as in llama-perplexity.
    var nCtx: Int { compute.ctx ?? 512 }

    func validate() throws {
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be positive") }
        if klDivergence {
            if klBase == nil { throw ValidationError("--kl-divergence needs --kl-divergence-base FILE (the base run)") }
            if file != nil { throw ValidationError("--kl-divergence takes its tokens from the base file; drop -f") }
        } else if file == nil {
            throw ValidationError("give the text with -f FILE")
        }
        if nCtx < 4 || nCtx % 2 != 0 || nCtx > 1 << 20 { throw ValidationError("--ctx must be even, 4 or more") }
    }

    func run() throws {
        let base = try klDivergence ? KLDivergenceBase(path: klBase!) : nil
        let ctx = base?.nCtx ?? nCtx
        let backend = try compute.makeBackend()
        let model = try LanguageModel.open(path: modelOptions.path, backend: backend, nCtx: ctx,
                                           maxBatch: compute.batch, attention: compute.attention,
                                           kvFormat: compute.kvFormat)
        let tokens: [Int32]
        if let base {
            guard base.nVocab == model.config.nVocab else {
                throw ValidationError(
                    "\(klBase!) was made with a vocabulary of \(base.nVocab) tokens, this model has \(model.config.nVocab)")
            }
            tokens = base.tokens
        } else {
            guard let data = FileManager.default.contents(atPath: file!) else {
                throw ValidationError("cannot read \(file!)")
            }
            tokens = Perplexity.tokenize(String(decoding: data, as: UTF8.self), model)
        }
        let writer = try klBase.flatMap { klDivergence ? nil : try KLDivergenceBase.Writer(path: $0) }
        let available = tokens.count / ctx
        Console.err(
            "perplexity: \(tokens.count) tokens, \(min(chunks ?? available, available)) chunks of \(ctx), "
                + "backend \(model.backend.name)\(writer.map { ", saving the base to \($0.path)" } ?? "")\n")
        if base != nil {
            Console.out("chunk        PPL             ln(PPL(Q)/PPL(base))      KL divergence           Same top\n")
        }
        let (stats, kl) = try Perplexity.run(
            model, tokens: tokens, nCtx: ctx, chunks: chunks, saveBase: writer, compare: base
        ) { p in
            if p.chunk == 1 { Console.err(String(format: "%.2f seconds per pass\n", p.seconds)) }
            if let kl = p.kl {
                let r = kl.logPerplexityRatio
                Console.out(
                    String(format: "%4d  %9.4f ± %8.4f  %10.5f ± %8.5f  %10.5f ± %8.5f  %6.3f ± %5.3f %%\n",
                           p.chunk, kl.nll.perplexity, kl.nll.perplexityUncertainty, r.value, r.uncertainty,
                           kl.kld.mean, kl.kld.meanUncertainty, 100 * kl.sameTopFraction, 100 * kl.sameTopUncertainty))
            } else {
                Console.out(String(format: "[%d]%.4f,", p.chunk, p.stats.perplexity))
            }
        }
        if let kl {
            Console.out(Self.report(kl))
        } else {
            Console.out(String(format: "\nFinal estimate: PPL = %.4f +/- %.5f\n", stats.perplexity,
                               stats.perplexityUncertainty))
        }
    }

    /// llama-perplexity's closing statistics of a KL-divergence run (the lines that compare quantizations).
    static func report(_ kl: KLDivergenceStats) -> String {
        let r = kl.logPerplexityRatio, rms = kl.rmsDeltaP
        return "\n====== Perplexity statistics ======\n"
            + String(format: "Mean PPL(Q)                   : %10.6f ± %10.6f\n", kl.nll.perplexity,
                     kl.nll.perplexityUncertainty)
            + String(format: "Mean PPL(base)                : %10.6f ± %10.6f\n", kl.nllBase.perplexity,
                     kl.nllBase.perplexityUncertainty)
            + String(format: "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r.value, r.uncertainty)
            + "\n====== KL divergence statistics ======\n"
            + String(format: "Mean    KLD: %10.6f ± %10.6f\n", kl.kld.mean, kl.kld.meanUncertainty)
            + String(format: "Maximum KLD: %10.6f\n", kl.maxKLD)
            + String(format: "Median  KLD: %10.6f\n", kl.medianKLD)
            + "\n====== Token probability statistics ======\n"
            + String(format: "Max |Δp|  : %6.3f %%\n", 100 * kl.maxAbsDeltaP)
            + String(format: "RMS Δp    : %6.3f ± %5.3f %%\n", 100 * rms.value, 100 * rms.uncertainty)
            + String(format: "Same top p: %6.3f ± %5.3f %%\n", 100 * kl.sameTopFraction, 100 * kl.sameTopUncertainty)
    }
}
