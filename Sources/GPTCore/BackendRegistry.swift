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
    /// A cheap check, made before `probe`, of whether `score` could rank this machine above `priority` (e.g. a GPU
    /// device node exists); nil: assume it could. When it says no and `auto` already has an available entry of a
    /// higher rank, `auto` skips the probe: probing can be expensive (OpenCL's ICD loader loads every runtime).
    public let mayOutrankPriority: (@Sendable () -> Bool)?

    public init(
        name: String, summary: String, priority: Int, probe: @escaping @Sendable (BackendOptions) -> Availability,
        make: @escaping @Sendable (BackendOptions) throws -> any Backend,
        score: (@Sendable (DeviceInfo) -> Int)? = nil, mayOutrankPriority: (@Sendable () -> Bool)? = nil
    ) {
        self.name = name
        self.summary = summary
        self.priority = priority
        self.probe = probe
        self.make = make
        self.score = score
        self.mayOutrankPriority = mayOutrankPriority
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

    /// The available entry `auto` picks: the highest rank, the first listed on a tie. Entries whose cheap check
    /// says they cannot outrank their `priority` are probed last, and not at all when that cannot win.
    public func best(_ options: BackendOptions = BackendOptions()) -> BackendEntry? {
        let capped = entries.indices.filter { entries[$0].mayOutrankPriority.map { !$0() } ?? false }
        var best: (index: Int, rank: Int)?
        for index in entries.indices where !capped.contains(index) {
            guard let rank = entries[index].rank(options) else { continue }
            if best == nil || rank > best!.rank { best = (index, rank) }
        }
        for index in capped {
            if let best, entries[index].priority < best.rank || (entries[index].priority == best.rank && best.index < index) {
                continue  // cannot win: skip the probe
            }
            guard let rank = entries[index].rank(options) else { continue }
            if best == nil || rank > best!.rank || (rank == best!.rank && index < best!.index) { best = (index, rank) }
        }
        return best.map { entries[$0.index] }
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
