// gpt generate: continue a prompt. stdout carries only the continuation (and the prompt with --echo).
import ArgumentParser
import Foundation
import SwiftGPT

#if canImport(Glibc)
    import Glibc
#endif

/// `--parse-special` / `--no-parse-special` for raw prompts: special tokens such as <|im_start|> are recognised by
/// default, as llama.cpp does for raw prompts (chat message text is never parsed).
struct SpecialTokenFlags: ParsableArguments {
    @Flag(inversion: .prefixedNo,
          help: "Recognise special tokens such as <|im_start|> in the prompt (--no-parse-special: plain text).")
    var parseSpecial = true
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue a prompt with the model.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var sampling: SamplingFlags
    @OptionGroup var special: SpecialTokenFlags

    @Argument(help: "The prompt text (or --prompt, --prompt-file, or a prompt piped on stdin).")
    var text: String?
    @Option(name: [.short, .long], help: "The prompt text.")
    var prompt: String?
    @Option(name: [.customShort("f"), .customLong("prompt-file")], help: "Read the prompt from a file.")
    var promptFile: String?
    @Option(name: [.short, .customLong("n-predict")], parsing: .unconditional,
            help: "Most tokens to generate; -1 = until the context is full.")
    var n: Int = 64
    @Flag(help: "Print the prompt before the continuation.")
    var echo = false
    @Flag(help: "No timings or notices on stderr.")
    var quiet = false

    func validate() throws {
        let given = [text, prompt, promptFile].compactMap { $0 }.count
        if given == 0 && isatty(0) != 0 {
            throw ValidationError("give a prompt: gpt generate \"TEXT\", --prompt TEXT, --prompt-file FILE, or pipe it on stdin")
        }
        if given > 1 { throw ValidationError("give only one of a prompt argument, --prompt and --prompt-file") }
        try TokenLimit.check(n, allowZero: true)
    }

    func run() throws {
        let text: String
        if let promptFile {
            guard let data = FileManager.default.contents(atPath: promptFile) else {
                throw ValidationError("cannot read the prompt file \(promptFile); check the path")
            }
            text = String(decoding: data, as: UTF8.self)
        } else if let given = prompt ?? self.text {
            text = given
        } else {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            guard !text.isEmpty else {
                throw ValidationError("no prompt on stdin; give one: gpt generate \"TEXT\", --prompt TEXT or --prompt-file FILE")
            }
        }
        let model = try compute.loadModel(modelOptions.path)
        let tokens = model.tokenizer.encode(text, parseSpecial: special.parseSpecial)
        guard !tokens.isEmpty else { throw ValidationError("the prompt encodes to no tokens; give some text") }
        let nCtx = model.executor.nCtx
        let limit = n < 0 ? max(0, nCtx - tokens.count) : n
        if tokens.count + limit > nCtx {
            let trained = model.config.nCtxTrain
            let advice = nCtx < trained
                ? "raise --ctx (the model was trained for \(trained)), lower -n, or shorten the prompt"
                : "lower -n or shorten the prompt (\(nCtx) is the model's training context)"
            throw ValidationError(
                "the prompt (\(tokens.count) tokens) plus -n \(limit) needs \(tokens.count + limit) positions; the "
                    + "context holds \(nCtx): \(advice)")
        }
        if echo { Console.out(text) }
        let options = sampling.options
        var sampler = Sampler(options)
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        let stats = try model.generate(prompt: tokens, maxTokens: limit, sampler: &sampler) { id in
            Console.out(decoder.append(id))
            return true
        }
        Console.out(decoder.flush() + "\n")
        let report = GenerationReport(stats: stats, seed: options.seed, finish: FinishReason(stats, interrupted: false))
        if !quiet {
            Console.err(loadLine(model) + report.text)
            let contextFull = n < 0 || tokens.count + limit >= nCtx
            if limit > 0, let notice = report.cutOffNotice(limit: limit, contextFull: contextFull) {
                Console.err("[\(notice)]\n")
            }
        }
    }
}
