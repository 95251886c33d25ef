// gpt params: the weights of a model by group, as the lessons count them (GPT-3: 175,181,291,520 in 27,938 matrices).
import ArgumentParser
import Foundation
import SwiftGPT

struct Params: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count a model's weights by group (embedding, query, key, value, output, up, down, unembedding).",
        discussion: """
            A shape given by flags is a GPT-2/GPT-3 block: biases, LayerNorm, learned position embeddings (--ctx \
            rows) and a plain MLP of --ff (default 4 × --dim); the unembedding is a separate matrix unless --tied. \
            GPT-2 small: --layers 12 --dim 768 --heads 12 --vocab 50257 --ctx 1024 --tied (124,439,808 weights).
            """)

    @Option(help: "A named shape: \(ParameterCount.presets.joined(separator: ", ")).")
    var preset: String?
    @Option(name: [.short, .long], help: "Count the weights of a GGUF file's configuration.")
    var model: String?
    @Option(help: "Layers (transformer blocks).") var layers: Int?
    @Option(help: "Embedding width (d_model).") var dim: Int?
    @Option(help: "Attention heads.") var heads: Int?
    @Option(name: .customLong("kv-heads"), help: "Key/value heads (default: --heads).") var kvHeads: Int?
    @Option(help: "Vocabulary size.") var vocab: Int?
    @Option(name: .customLong("ff"), help: "MLP width (default: 4 × --dim).") var ff: Int?
    @Option(help: "Context length: rows of the learned position embedding.") var ctx: Int = 2048
    @Flag(help: "The unembedding is the token embedding itself (GPT-2), counted once.") var tied = false

    func validate() throws {
        // Limits far beyond any real model that keep every product in the count inside Int.
        try layers.map { try FlagCheck.int($0, "--layers", 1...10_000) }
        try dim.map { try FlagCheck.int($0, "--dim", 1...1 << 20) }
        try heads.map { try FlagCheck.int($0, "--heads", 1...1 << 20) }
        try kvHeads.map { try FlagCheck.int($0, "--kv-heads", 1...1 << 20) }
        try vocab.map { try FlagCheck.int($0, "--vocab", 1...10_000_000) }
        try ff.map { try FlagCheck.int($0, "--ff", 1...1 << 22) }
        try FlagCheck.int(ctx, "--ctx", 1...FlagCheck.maxTokens)
        if let heads, let kvHeads, kvHeads > heads || heads % kvHeads != 0 {
            throw ValidationError("--heads must be a multiple of --kv-heads")
        }
        let custom = [layers, dim, heads, vocab].compactMap { $0 }
        if preset == nil && model == nil && custom.count < 4 {
            throw ValidationError("give --preset NAME, --model FILE, or --layers, --dim, --heads and --vocab")
        }
        if let preset, ParameterCount.preset(preset) == nil {
            throw ValidationError("unknown preset '\(preset)'; presets: \(ParameterCount.presets.joined(separator: ", "))")
        }
        if let dim, let heads, dim % heads != 0 {
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
            try ModelOptions.check(model)
            let file = try GGUFFile(path: model)
            count = try Architectures.make(file).parameterCount(file)
            title = model
        } else {
            let d = dim!
            count = try ParameterCount(nLayers: layers!, nEmbd: d, nFF: ff ?? 4 * d, nHeads: heads!,
                                       nKVHeads: kvHeads ?? heads!, nVocab: vocab!, nCtx: ctx, gated: false, tied: tied,
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
        out += "\nThe table counts the weight matrices (as the 3Blue1Brown lessons do). Vectors and position "
            + "embeddings come on top: "
        out += count.leftOut.map { "\($0.name) \(n($0.count))" }.joined(separator: ", ")
        out += "; all weights: \(n(count.total + count.leftOutTotal)).\n"
        return out
    }
}
