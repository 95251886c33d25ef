// gpt backends: every compiled-in backend, whether it runs here (and why not), with device details.
import ArgumentParser
import SwiftGPT

struct ListBackends: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends", abstract: "List the compute backends and whether they are available here.")

    @Option(name: [.short, .long], help: "CPU threads to report; 0 = one per physical core.")
    var threads: Int = 0

    func validate() throws { try FlagCheck.threads(threads) }

    func run() throws {
        let options = BackendOptions(threads: threads)
        let registry = BackendRegistry.standard
        let best = registry.best(options)
        for entry in registry.entries {
            switch entry.probe(options) {
            case .available(let info):
                let mark = entry.name == best?.name ? " (auto)" : ""
                Console.out("\(entry.name)\(mark): available — \(entry.summary)\n  device: \(info.name)\n")
                for (key, value) in info.details { Console.out("  \(key): \(value)\n") }
            case .unavailable(let reason):
                Console.out("\(entry.name): unavailable — \(reason)\n  \(entry.summary)\n")
            }
        }
    }
}
