// gpt attention: the attention pattern of a prompt (after the causal mask and softmax), from the same naive
// attention kernel that can generate text, as an SVG or PNG heat map labelled with the tokens, or coloured text.
import ArgumentParser
import Foundation
import SwiftGPT

struct Attention: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw attention patterns (which earlier tokens each token attends to).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.short, .long], help: "The text whose attention is drawn.")
    var prompt: String = "a fluffy blue creature roamed the verdant forest"
    @Option(help: "Layer index, or 'all'.")
    var layer: String = "0"
    @Option(help: "Head index, or 'all'.")
    var head: String = "all"
    @Option(name: .shortAndLong, help: "Write a heat map: FILE.svg (labelled) or FILE.png.")
    var out: String?
    @Option(name: [.short, .long], help: "CPU threads.")
    var threads: Int = 0

    func validate() throws {
        if layer != "all" && Int(layer) == nil { throw ValidationError("--layer takes an index or 'all'") }
        if head != "all" && Int(head) == nil { throw ValidationError("--head takes an index or 'all'") }
        if let out, !(out.hasSuffix(".svg") || out.hasSuffix(".png")) {
            throw ValidationError("--out must end in .svg or .png")
        }
    }

    func run() throws {
        let backend = OpenMPBackend(options: BackendOptions(threads: threads))
        let model = try LanguageModel(path: modelOptions.path, backend: backend, nCtx: 512, maxBatch: 512,
                                      attention: .naive)
        let c = model.config
        let tokens = model.tokenizer.encode(prompt)
        guard !tokens.isEmpty else { throw ValidationError("the prompt encodes to no tokens") }
        guard tokens.count <= 512 else { throw ValidationError("the prompt is \(tokens.count) tokens; 512 at most") }
        let layers = layer == "all" ? Array(0..<c.nLayers) : [Int(layer)!]
        let heads = head == "all" ? Array(0..<c.nHeads) : [Int(head)!]
        guard layers.allSatisfy({ (0..<c.nLayers).contains($0) }) else {
            throw ValidationError("the model has layers 0...\(c.nLayers - 1)")
        }
        guard heads.allSatisfy({ (0..<c.nHeads).contains($0) }) else {
            throw ValidationError("the model has heads 0...\(c.nHeads - 1)")
        }
        // The executor calls attention once per layer, in order: the n-th call is layer n.
        var captured: [[Float]] = []
        backend.attentionObserver = { probabilities, _, _, _ in captured.append(Array(probabilities)) }
        _ = try model.executor.forward(tokens)
        backend.attentionObserver = nil
        let n = tokens.count
        let labels = tokens.map { model.tokenizer.decode([$0]) }
        var patterns: [AttentionPattern] = []
        for l in layers {
            for h in heads {
                let start = h * n * n
                patterns.append(AttentionPattern(layer: l, head: h, tokens: labels,
                                                 weights: Array(captured[l][start..<(start + n * n)])))
            }
        }
        if let out {
            let columns = heads.count > 1 ? min(heads.count, 9) : 1
            if out.hasSuffix(".svg") {
                try AttentionRenderer.svg(patterns, columns: columns).write(toFile: out, atomically: true, encoding: .utf8)
            } else {
                try Data(AttentionRenderer.png(patterns, columns: columns)).write(to: URL(fileURLWithPath: out))
            }
            Console.err("attention: wrote \(patterns.count) heat map(s) of \(n)×\(n) to \(out)\n")
        } else {
            for p in patterns { Console.out(AttentionRenderer.terminal(p) + "\n") }
        }
    }
}
