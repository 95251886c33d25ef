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
            Pull.self, Models.self, Serve.self,
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
        if let typo = misspelledSubcommand(arguments[0]) {
            Console.err("Error: unknown subcommand '\(arguments[0])'; did you mean '\(typo)'? (`gpt --help` lists "
                + "them; to chat about that word, use gpt chat \"\(arguments[0])\")\n")
            exit(withError: ExitCode.validationFailure)
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

    /// A first argument that is one word, not a subcommand, and within two edits of one ("generat", "chta") is a
    /// typo, not a chat message, as git answers "did you mean": the subcommand it is closest to, or nil.
    static func misspelledSubcommand(_ word: String) -> String? {
        guard !word.hasPrefix("-"), !word.contains(" "), word.count >= 3 else { return nil }
        let names = configuration.subcommands.map { $0.configuration.commandName ?? String(describing: $0).lowercased() }
        guard !names.contains(word) else { return nil }
        let scored = names.map { ($0, editDistance(Array(word.lowercased()), Array($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < word.count / 2 + 1 else { return nil }
        return best.0
    }

    /// Levenshtein distance (insertions, deletions, substitutions).
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let substitution = previous + (a[i - 1] == b[j - 1] ? 0 : 1)
                previous = row[j]
                row[j] = min(substitution, row[j] + 1, row[j - 1] + 1)
            }
        }
        return row[b.count]
    }
}
