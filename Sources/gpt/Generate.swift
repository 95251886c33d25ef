// gpt generate: continue a prompt. stdout carries only the continuation (and the prompt with --echo).
import ArgumentParser
import Foundation
import SwiftGPT

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue a prompt with the model.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var sampling: SamplingFlags

    @Option(name: [.short, .long], help: "The prompt text.")
    var prompt: String?
    @Option(name: [.customShort("f"), .customLong("prompt-file")], help: "Read the prompt from a file.")
    var promptFile: String?
    @Option(name: [.short, .customLong("n-predict")], help: "Most tokens to generate.")
    var n: Int = 64
    @Flag(help: "Print the prompt before the continuation.")
    var echo = false
    @Flag(name: .customLong("parse-special"), help: "Recognise special tokens such as <|im_start|> in the prompt.")
    var parseSpecial = false
    @Flag(help: "Do not print timings to stderr.")
    var quiet = false

    func validate() throws {
        if prompt == nil && promptFile == nil { throw ValidationError("give --prompt TEXT or --prompt-file FILE") }
        if prompt != nil && promptFile != nil { throw ValidationError("give only one of --prompt and --prompt-file") }
        if n < 0 { throw ValidationError("-n must be >= 0") }
    }

    func run() throws {
        let text: String
        if let promptFile {
            guard let data = FileManager.default.contents(atPath: promptFile) else {
                throw ValidationError("cannot read prompt file \(promptFile)")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = prompt ?? ""
        }
        let model = try compute.loadModel(modelOptions.path)
        let tokens = model.tokenizer.encode(text, parseSpecial: parseSpecial)
        guard !tokens.isEmpty else { throw ValidationError("the prompt encodes to no tokens") }
        if tokens.count + n > model.executor.nCtx {
            throw ValidationError(
                "the prompt (\(tokens.count) tokens) plus -n \(n) exceeds the context of \(model.executor.nCtx) "
                    + "tokens; use --ctx (up to \(model.config.nCtxTrain)) or shorten the prompt")
        }
        if echo { Console.out(text) }
        var sampler = Sampler(sampling.options)
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        let stats = try model.generate(prompt: tokens, maxTokens: n, sampler: &sampler) { id in
            Console.out(decoder.append(id))
            return true
        }
        Console.out(decoder.flush() + "\n")
        if !quiet { Console.err(formatStats(model, stats)) }
    }
}
