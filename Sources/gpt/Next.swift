// gpt next: the next-token distribution of a prompt, as a table and a bar chart, at one or more temperatures,
// so that a user sees temperature flatten or sharpen the softmax.
import ArgumentParser
import Foundation
import SwiftGPT

struct Next: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the next-token distribution of a prompt.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @Option(name: [.short, .long], help: "The prompt.")
    var prompt: String
    @Option(help: "How many of the most likely tokens to show.")
    var top: Int = 10
    @Option(name: [.customLong("temperature"), .customLong("temp")],
            help: "Softmax temperatures, comma-separated (e.g. 0.5,1,2).")
    var temperature: String = "1"
    @OptionGroup var special: SpecialTokenFlags

    var temperatures: [Float] { temperature.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        try FlagCheck.int(top, "--top", 1...1_000_000)
        if temperatures.isEmpty || temperatures.count != temperature.split(separator: ",").count {
            throw ValidationError("--temperature takes numbers, comma-separated (e.g. 0.5,1,2), not '\(temperature)'")
        }
        for t in temperatures {
            try FlagCheck.float(t, "--temperature", 0.001...100, " (a softmax temperature must be above 0)")
        }
    }

    func run() throws {
        let model = try compute.loadModel(modelOptions.path)
        let tokens = model.tokenizer.encode(prompt, parseSpecial: special.parseSpecial)
        guard !tokens.isEmpty else { throw ValidationError("the prompt encodes to no tokens; give some text") }
        guard tokens.count <= model.executor.nCtx else {
            throw ValidationError("the prompt is \(tokens.count) tokens but the context holds \(model.executor.nCtx); "
                + "shorten the prompt or raise --ctx")
        }
        let logits = try model.executor.forward(tokens)
        let distributions = try temperatures.map { try NextTokenDistribution(logits: logits, temperature: $0) }
        let ranked = Array(distributions[0].ranked.prefix(top))
        var out = "prompt: \(prompt)\n\n| rank | token | id | logit |"
        for t in temperatures { out += " p (T=\(t)) |" }
        out += "\n| ---: | --- | ---: | ---: |" + String(repeating: " ---: |", count: temperatures.count) + "\n"
        for (rank, id) in ranked.enumerated() {
            let piece = AttentionRenderer.visible(model.tokenizer.decode([Int32(id)]))
            out += "| \(rank + 1) | `\(piece)` | \(id) | \(String(format: "%.3f", logits[id])) |"
            for d in distributions { out += String(format: " %.4f |", d.probabilities[id]) }
            out += "\n"
        }
        for (t, d) in zip(temperatures, distributions) {
            out += "\nT = \(t) (entropy \(String(format: "%.2f", d.entropy)) nats)\n"
            for id in ranked {
                let piece = AttentionRenderer.visible(model.tokenizer.decode([Int32(id)]))
                let name = String(piece.prefix(14))
                let p = d.probabilities[id]
                out += name.padding(toLength: 15, withPad: " ", startingAt: 0)
                    + String(repeating: "█", count: Int((p * 50).rounded())) + String(format: " %.1f%%\n", 100 * p)
            }
        }
        Console.out(out)
    }
}
