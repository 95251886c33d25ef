// gpt models: the catalogue (cached or not) and any other GGUF files in the model cache.
import ArgumentParser
import Foundation
import SwiftGPT

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models in the cache and the catalogue models `gpt pull` can fetch.")

    func run() throws {
        Console.out(Self.listing())
    }

    /// The table: one row per catalogue model, then the cache's other .gguf files.
    static func listing() -> String {
        let fm = FileManager.default
        func size(_ path: String) -> String {
            let bytes = (try? fm.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            return String(format: "%.1f MB", Double(bytes) / 1e6)
        }
        var out = "model cache: \(ModelLocator.cacheFolder)\n\n"
        out += "| name | status | size | file | description |\n| --- | --- | ---: | --- | --- |\n"
        var known = Set<String>()
        for entry in ModelCatalogue.entries {
            let path = ModelCatalogue.path(of: entry)
            known.insert(entry.fileName)
            let status: String
            if ModelCatalogue.isCached(entry) {
                status = "cached"
            } else if fm.fileExists(atPath: path) {
                status = "unverified (gpt pull \(entry.name))"
            } else {
                status = "not pulled (gpt pull \(entry.name))"
            }
            let shown = fm.fileExists(atPath: path) ? size(path) : "~" + String(format: "%.0f MB", Double(entry.approximateBytes) / 1e6)
            out += "| \(entry.name) | \(status) | \(shown) | \(entry.fileName) | \(entry.summary) |\n"
        }
        let others = ((try? fm.contentsOfDirectory(atPath: ModelLocator.cacheFolder)) ?? [])
            .filter { $0.hasSuffix(".gguf") && !known.contains($0) }.sorted()
        for file in others {
            out += "| - | cached (not in the catalogue) | \(size(ModelLocator.cacheFolder + "/" + file)) | \(file) | |\n"
        }
        out += "\n`--model NAME` takes a catalogue name or a path.\n"
        return out
    }
}
