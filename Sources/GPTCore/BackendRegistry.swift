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
    /// `auto` takes the available entry with the highest priority.
    public let priority: Int
    public let probe: @Sendable (BackendOptions) -> Availability
    public let make: @Sendable (BackendOptions) throws -> any Backend

    public init(
        name: String, summary: String, priority: Int, probe: @escaping @Sendable (BackendOptions) -> Availability,
        make: @escaping @Sendable (BackendOptions) throws -> any Backend
    ) {
        self.name = name
        self.summary = summary
        self.priority = priority
        self.probe = probe
        self.make = make
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

    /// Makes the backend called `name` ("auto" for the best available one).
    public func make(_ name: String, options: BackendOptions = BackendOptions()) throws -> any Backend {
        if name.lowercased() == "auto" {
            let ranked = entries.sorted { $0.priority > $1.priority }
            guard let best = ranked.first(where: { $0.probe(options).isAvailable }) else {
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
