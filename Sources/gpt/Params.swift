// gpt params: the weights of a model by group, as the lessons count them (GPT-3: 175,181,291,520 in 27,938 matrices).
import ArgumentParser
import Foundation
import SwiftGPT

struct Params: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count a model's weights by group (embedding, query, key, value, output, up, down, unembedding).")

    @Option(help: "A named shape: \(ParameterCount.presets.joined(separator: ", ")).")
    var preset: String?
    @Option(name: [.short, .long], help: "Count the weights of a GGUF file's configuration.")
    var model: String?
    @Option var layers: Int?
    @Option var dim: Int?
    @Option var heads: Int?
    @Option(name: .customLong("kv-heads")) var kvHeads: Int?
    @Option var vocab: Int?
    @Option(name: .customLong("ff"), help: "MLP width (default 4 × dim).") var ff: Int?
    @Option var ctx: Int = 2048

    func validate() throws {
        let custom = [layers, dim, heads, vocab].compactMap { $0 }
        if preset == nil && model == nil && custom.count < 4 {
            throw ValidationError("give --preset NAME, --model FILE, or --layers, --dim, --heads and --vocab")
        }
        if let preset, ParameterCount.preset(preset) == nil {
            throw ValidationError("unknown preset '\(preset)'; presets: \(ParameterCount.presets.joined(separator: ", "))")
        }
        if let dim, let heads, heads <= 0 || dim % heads != 0 {
            throw ValidationError("--dim must be a positive multiple of --heads")
        }
    }

    func run() throws {
        let count: ParameterCount
        var title: String
        if let preset {
            count = ParameterCount.preset(preset)!
            title = preset
        } else if let model {
            let file = try GGUFFile(path: model)
            let config = try ModelConfig(ModelHyperParameters(file), path: model)
            count = try config.parameterCount(tied: file.tensor("output.weight") == nil)
            title = model
        } else {
            let d = dim!
            count = try ParameterCount(nLayers: layers!, nEmbd: d, nFF: ff ?? 4 * d, nHeads: heads!,
                                   nKVHeads: kvHeads ?? heads!, nVocab: vocab!, nCtx: ctx, gated: false, tied: false,
                                   biases: true, learnedPositions: true)
            title = "custom"
        }
        Console.out(Params.render(count, title: title))
    }

    static func render(_ count: ParameterCount, title: String) -> String {
        func n(_ x: Int) -> String {
            let s = String(x)
            var out = ""
            for (i, ch) in s.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(ch)
            }
            return String(out.reversed())
        }
        var out = "\(title)\n"
        out += "| group | weights | matrices |\n| --- | ---: | ---: |\n"
        for g in count.groups { out += "| \(g.name) | \(n(g.count)) | \(n(g.matrices)) |\n" }
        out += "| **total** | **\(n(count.total))** | **\(n(count.matrices))** |\n"
        out += "\nNot in that count (the lessons leave them out): "
        out += count.leftOut.map { "\($0.name) \(n($0.count))" }.joined(separator: ", ")
        out += "; with them: \(n(count.total + count.leftOutTotal)) weights.\n"
        return out
    }
}
