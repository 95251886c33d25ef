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
    @Flag(name: .customLong("parse-special"), help: "Recognise special tokens in the prompt.")
    var parseSpecial = false

    var temperatures: [Float] { temperature.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be positive") }
        if temperatures.isEmpty || temperatures.contains(where: { $0 <= 0 })
            || temperatures.count != temperature.split(separator: ",").count {
            throw ValidationError("--temperature takes positive numbers, comma-separated")
        }
    }

    func run() throws {
        let model = try compute.loadModel(modelOptions.path)
        let tokens = model.tokenizer.encode(prompt, parseSpecial: parseSpecial)
        guard !tokens.isEmpty else { throw ValidationError("the prompt encodes to no tokens") }
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
