// gpt: the SwiftGPT command-line tool. Tokens go to stdout, statistics and progress to stderr.
import ArgumentParser
import SwiftGPT

@main
struct GPT: AsyncParsableCommand {
    /// The tool's version, printed by `gpt --version`.
    static let version = "0.3.0"

    static let configuration = CommandConfiguration(
        commandName: "gpt",
        abstract: "Run GPT-style decoder transformers (GGUF) locally with pluggable compute backends.",
        discussion: """
            `gpt "MESSAGE"` answers one chat message (the default subcommand is chat); `gpt chat` alone opens an \
            interactive chat. Shell completion: `gpt --generate-completion-script bash > /etc/bash_completion.d/gpt` \
            (also zsh, fish).
            """,
        version: version,
        subcommands: [
            Chat.self, Generate.self, Tokenize.self, ListBackends.self, Check.self, Bench.self, Profile.self,
            Params.self, Inspect.self, Convert.self, Attention.self, Next.self, PerplexityCommand.self, Quantize.self,
            Pull.self, Models.self,
        ],
        defaultSubcommand: Chat.self)

    /// Parses, then runs; an error from a subcommand's `run()` is reported with that subcommand's usage (not the
    /// top-level one), as its `validate()` errors are. `gpt` with no arguments shows the help.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.isEmpty {
            print(helpMessage())
            return
        }
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var plain = command
                try plain.run()
            }
        } catch let error as ValidationError {
            let type = type(of: command)
            let name = type.configuration.commandName ?? String(describing: type).lowercased()
            Console.err("Error: \(error.message)\nUsage: \(usageString(for: type))\n"
                + "  See 'gpt \(name) --help' for more information.\n")
            exit(withError: ExitCode.validationFailure)
        } catch {
            exit(withError: error)
        }
    }
}
