// gpt: the SwiftGPT command-line tool. Tokens go to stdout, statistics and progress to stderr.
import ArgumentParser
import SwiftGPT

@main
struct GPT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt",
        abstract: "Run GPT-style decoder transformers (GGUF) locally with pluggable compute backends.",
        subcommands: [
            Generate.self, Chat.self, Tokenize.self, ListBackends.self, Check.self, Bench.self, Profile.self, Params.self, Inspect.self, Convert.self, Attention.self, Next.self, PerplexityCommand.self, Quantize.self, Pull.self, Models.self,
        ],
        defaultSubcommand: Generate.self)
}
