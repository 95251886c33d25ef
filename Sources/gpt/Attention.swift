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
    @Option(name: [.short, .long], help: "CPU threads; 0 = one per physical core.")
    var threads: Int = 0
    @OptionGroup var special: SpecialTokenFlags

    func validate() throws {
        try FlagCheck.threads(threads)
        if layer != "all" && Int(layer) == nil { throw ValidationError("--layer takes an index or 'all'") }
        if head != "all" && Int(head) == nil { throw ValidationError("--head takes an index or 'all'") }
        if let out {
            guard out.hasSuffix(".svg") || out.hasSuffix(".png") else {
                throw ValidationError("--out must end in .svg or .png")
            }
            try checkOutputPath(out, "--out")
        }
    }

    func run() throws {
        let backend = AttentionObserver(OpenMPBackend(options: BackendOptions(threads: threads)))
        let model = try LanguageModel(path: modelOptions.path, backend: backend, nCtx: 512, maxBatch: 512,
                                      attention: .naive)
        let c = model.config
        let tokens = model.tokenizer.encode(prompt, parseSpecial: special.parseSpecial)
        guard !tokens.isEmpty else { throw ValidationError("the prompt encodes to no tokens; give some text") }
        guard tokens.count <= 512 else {
            throw ValidationError("the prompt is \(tokens.count) tokens; give a shorter one (512 tokens at most)")
        }
        let layers = layer == "all" ? Array(0..<c.nLayers) : [Int(layer)!]
        let heads = head == "all" ? Array(0..<c.nHeads) : [Int(head)!]
        guard layers.allSatisfy({ (0..<c.nLayers).contains($0) }) else {
            throw ValidationError("the model has layers 0...\(c.nLayers - 1)")
        }
        guard heads.allSatisfy({ (0..<c.nHeads).contains($0) }) else {
            throw ValidationError("the model has heads 0...\(c.nHeads - 1)")
        }
        // The executor runs attention once per layer for one sequence, in order: the n-th call is layer n.
        _ = try model.executor.forward(tokens)
        let captured = backend.captured
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
            // a near-square grid: 9 heads make 3 × 3 panels
            let columns = Int(Double(patterns.count).squareRoot().rounded(.up))
            let bytes = out.hasSuffix(".svg")
                ? Data(AttentionRenderer.svg(patterns, columns: columns).utf8)
                : Data(AttentionRenderer.png(patterns, columns: columns, cell: 20))
            try writeFile(bytes, to: out)
            Console.err("attention: wrote \(patterns.count) heat map(s) of \(n)×\(n) to \(out)\n")
        } else {
            let colour = Console.colour
            for p in patterns { Console.out(AttentionRenderer.terminal(p, colour: colour) + "\n") }
        }
    }
}
