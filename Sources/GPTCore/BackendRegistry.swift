// BackendEntry and BackendRegistry: backends register by name (like ggml_backend_reg) and are chosen at run time.

/// Whether a backend can run on this machine.
public enum Availability: Sendable {
    case available(DeviceInfo)
    case unavailable(reason: String)

    public var isAvailable: Bool {
        if case .available = self { return true }
        return false
    }
}

/// One registered backend: its name, how to probe for it, and how to make it.
public struct BackendEntry: Sendable {
    public let name: String
    public let summary: String
    /// `auto` takes the available entry with the highest priority (ggml's backend score).
    public let priority: Int
    public let probe: @Sendable (BackendOptions) -> Availability
    public let make: @Sendable (BackendOptions) throws -> any Backend
    /// Ranks the device a probe found (e.g. higher for a GPU than for a CPU device); nil: always `priority`.
    public let score: (@Sendable (DeviceInfo) -> Int)?

    public init(
        name: String, summary: String, priority: Int, probe: @escaping @Sendable (BackendOptions) -> Availability,
        make: @escaping @Sendable (BackendOptions) throws -> any Backend,
        score: (@Sendable (DeviceInfo) -> Int)? = nil
    ) {
        self.name = name
        self.summary = summary
        self.priority = priority
        self.probe = probe
        self.make = make
        self.score = score
    }

    /// The entry's rank on this machine, or nil when it is unavailable.
    public func rank(_ options: BackendOptions) -> Int? {
        guard case .available(let info) = probe(options) else { return nil }
        return score?(info) ?? priority
    }
}

/// A list of backend entries; names match case-insensitively. `auto` picks the best available one.
public struct BackendRegistry: Sendable {
    public let entries: [BackendEntry]

    public init(_ entries: [BackendEntry]) { self.entries = entries }

    public var names: [String] { entries.map(\.name) }

    public func entry(named name: String) -> BackendEntry? {
        entries.first { $0.name.lowercased() == name.lowercased() }
    }

    /// Names of the entries that probe as available with `options`.
    public func availableNames(_ options: BackendOptions = BackendOptions()) -> [String] {
        entries.filter { $0.probe(options).isAvailable }.map(\.name)
    }

    /// The available entry `auto` picks: the highest rank, the first listed on a tie.
    public func best(_ options: BackendOptions = BackendOptions()) -> BackendEntry? {
        var best: (entry: BackendEntry, rank: Int)?
        for entry in entries {
            guard let rank = entry.rank(options) else { continue }
            if best == nil || rank > best!.rank { best = (entry, rank) }
        }
        return best?.entry
    }

    /// Makes the backend called `name` ("auto" for the best available one).
    public func make(_ name: String, options: BackendOptions = BackendOptions()) throws -> any Backend {
        if name.lowercased() == "auto" {
            guard let best = best(options) else {
                throw BackendError.unavailable("auto", reason: "no backend is available", available: [])
            }
            return try best.make(options)
        }
        guard let entry = entry(named: name) else {
            throw BackendError.unknownBackend(name, known: names + ["auto"])
        }
        if case .unavailable(let reason) = entry.probe(options) {
            throw BackendError.unavailable(name, reason: reason, available: availableNames(options))
        }
        return try entry.make(options)
    }
}
