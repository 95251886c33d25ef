// gpt perplexity as a user runs it: the output format, KL divergence between two runs, and bad input. (Its value
// against llama-perplexity is checked in EndToEndTests/QuantGoldenTests.)
import Foundation
import Testing

@Suite("gpt perplexity", .enabled(if: GPTBinary.path != nil && GPTBinary.model != nil,
                                  "needs gpt built and the default model (`make model`)"))
struct PerplexityCLITests {
    static let text = GPTBinary.root.appendingPathComponent("Tests/EndToEndTests/Golden/declaration.txt").path

    func tempFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gpt-ppl-\(getpid())-\(name)").path
    }

    /// The number after `label` in `text` (e.g. "Final estimate: PPL = ").
    func number(after label: String, in text: String) -> Double? {
        guard let r = text.range(of: label) else { return nil }
        return Double(text[r.upperBound...].drop { $0 == " " }.prefix { "0123456789.-".contains($0) })
    }

    @Test("prints each chunk and llama.cpp's final line")
    func output() throws {
        let r = try GPTBinary.run(["perplexity", "-f", Self.text, "--ctx", "128", "--chunks", "2", "-t", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("[1]") && r.stdout.contains(",[2]"), "\(r.stdout)")
        let ppl = number(after: "Final estimate: PPL = ", in: r.stdout)
        #expect(ppl != nil && ppl! > 1 && ppl! < 1000, "\(r.stdout)")
        #expect(r.stdout.contains(" +/- "))
    }

    @Test("KL divergence: zero against itself, small and positive against another backend")
    func klDivergence() throws {
        let base = tempFile("base.kld")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let common = ["--ctx", "64", "--chunks", "2", "-t", "2"]
        let r0 = try GPTBinary.run(["perplexity", "-f", Self.text, "--kl-divergence-base", base, "-b", "openmp"] + common)
        #expect(r0.status == 0, "\(r0.stderr)")
        let same = try GPTBinary.run(["perplexity", "--kl-divergence", "--kl-divergence-base", base, "-b", "openmp"]
                                     + common)
        #expect(same.status == 0, "\(same.stderr)")
        let kldSame = number(after: "Mean    KLD: ", in: same.stdout)
        #expect(kldSame != nil && abs(kldSame!) < 1e-4, "\(same.stdout)")
        #expect(number(after: "Same top p: ", in: same.stdout) == 100, "\(same.stdout)")
        // the same run's PPL is read back from the base file
        let ppl0 = number(after: "Final estimate: PPL = ", in: r0.stdout)
        let pplBase = number(after: "Mean PPL(base)                : ", in: same.stdout)
        #expect(ppl0 != nil && pplBase != nil && abs(ppl0! - pplBase!) / ppl0! < 1e-4)
        // blas computes with F32 activations: a different, close distribution
        let other = try GPTBinary.run(["perplexity", "--kl-divergence", "--kl-divergence-base", base, "-b", "blas"]
                                      + common)
        #expect(other.status == 0, "\(other.stderr)")
        let kld = number(after: "Mean    KLD: ", in: other.stdout)
        #expect(kld != nil && kld! > 1e-6 && kld! < 0.05, "\(other.stdout)")
        let top = number(after: "Same top p: ", in: other.stdout)
        #expect(top != nil && top! > 80, "\(other.stdout)")
    }

    @Test("bad input: clear message, non-zero exit")
    func badInput() throws {
        let short = tempFile("short.txt")
        try "Too short to score.".write(toFile: short, atomically: true, encoding: .utf8)
        let junk = tempFile("junk.kld")
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: junk))
        defer {
            try? FileManager.default.removeItem(atPath: short)
            try? FileManager.default.removeItem(atPath: junk)
        }
        for (args, message) in [
            (["perplexity", "-f", short], "needs at least"),
            (["perplexity"], "-f FILE"),
            (["perplexity", "-f", Self.text, "--ctx", "7"], "--ctx"),
            (["perplexity", "-f", Self.text, "--chunks", "0"], "--chunks"),
            (["perplexity", "--kl-divergence"], "--kl-divergence-base"),
            (["perplexity", "--kl-divergence", "--kl-divergence-base", junk], "not a KL-divergence base file"),
            (["perplexity", "-f", "/nonexistent.txt"], "cannot read"),
        ] {
            let r = try GPTBinary.run(args)
            #expect(r.status != 0, "\(args) exited 0")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
