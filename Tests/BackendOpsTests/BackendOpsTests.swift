// Every op on every available backend against the scalar reference (the cases of `gpt check`), and proof that
// the suite fails when a kernel is wrong.
import AllBackends
import GPTCore
import OpCheck
import Testing

/// Backends that probe as available on this machine; unavailable ones are listed by the test below.
let availableBackends = BackendRegistry.standard.availableNames()

@Suite("Cross-backend ops")
struct BackendOpsTests {
    @Test("op matches the scalar reference", arguments: OpCase.all, availableBackends)
    func matchesReference(_ c: OpCase, backend name: String) throws {
        let backend = try BackendRegistry.standard.make(name, options: BackendOptions(threads: 2))
        let r = try OpCheck.run(c, on: backend)
        try #require(r.supported || !backend.supports(c.op, c.format), "\(c) on \(name): \(r.problem)")
        guard r.supported else { return }
        #expect(r.finite && r.guardsIntact, "\(c) on \(name): \(r.problem)")
        #expect(r.nmse <= c.maxNMSE, "\(c) on \(name): NMSE \(r.nmse) > \(c.maxNMSE)")
    }

    @Test("fused attention agrees with naive attention", arguments: availableBackends)
    func fusedMatchesNaive(backend name: String) throws {
        let backend = try BackendRegistry.standard.make(name, options: BackendOptions(threads: 2))
        // KV formats the backend does not support are reported by the test above as unsupported
        for c in OpCase.all where c.op == .attention && c.attention == .fused && backend.supports(c.op, c.format) {
            var naive = c
            naive.attention = .naive
            let (a, b) = (try OpCheck.run(c, on: backend), try OpCheck.run(naive, on: backend))
            #expect(a.passed(c) && b.passed(naive), "\(c) on \(name): fused \(a.nmse), naive \(b.nmse)")
        }
    }

    @Test("every standard backend is either available or says why not")
    func unavailableBackendsGiveReasons() {
        for entry in BackendRegistry.standard.entries {
            if case .unavailable(let reason) = entry.probe(BackendOptions()) {
                #expect(!reason.isEmpty, "\(entry.name) is unavailable without a reason")
            }
        }
    }

    @Test("a deliberately broken matmul is caught")
    func suiteCatchesFaultyKernel() throws {
        let faulty = FaultyBackend(try BackendRegistry.standard.make("openmp", options: BackendOptions(threads: 2)))
        let matmuls = OpCase.all.filter { $0.op == .matmul && $0.size("N") > 1 }
        #expect(!matmuls.isEmpty)
        for c in matmuls {
            let r = try OpCheck.run(c, on: faulty)
            #expect(!r.passed(c), "\(c): the off-by-one matmul passed with NMSE \(r.nmse)")
        }
    }

    @Test("K-quant scales unpacked wrongly are caught",
          arguments: [WeightFormat.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs])
    func suiteCatchesWrongKQuantScales(_ format: WeightFormat) throws {
        let faulty = FaultyBackend(try BackendRegistry.standard.make("openmp", options: BackendOptions(threads: 2)),
                                   fault: .kQuantScales)
        let cases = OpCase.all.filter { $0.op == .matmul && $0.format == format && $0.size("K") >= 512 }
        #expect(!cases.isEmpty)
        for c in cases {
            let r = try OpCheck.run(c, on: faulty)
            #expect(r.supported && !r.passed(c), "\(c): wrongly unpacked scales passed with NMSE \(r.nmse)")
        }
    }

    @Test("asking for an unknown backend names the alternatives")
    func unknownBackend() {
        #expect(throws: BackendError.self) { try BackendRegistry.standard.make("cuda") }
        do {
            _ = try BackendRegistry.standard.make("cuda")
        } catch {
            #expect("\(error)".contains("openmp"))
        }
    }

    @Test("auto skips an expensive probe that cannot win, and still probes it when it could")
    func autoSkipsProbesThatCannotWin() throws {
        final class Probes: @unchecked Sendable { var names: [String] = [] }
        let probes = Probes()
        func entry(_ name: String, priority: Int, gpuRank: Int? = nil, gate: Bool? = nil) -> BackendEntry {
            let probe: @Sendable (BackendOptions) -> Availability = { _ in
                probes.names.append(name)
                return .available(DeviceInfo(name: name))
            }
            let make: @Sendable (BackendOptions) throws -> any Backend = { _ in
                throw BackendError.unavailable(name, reason: "test entry", available: [])
            }
            var score: (@Sendable (DeviceInfo) -> Int)?
            if let gpuRank { score = { _ in gpuRank } }
            var mayOutrank: (@Sendable () -> Bool)?
            if let gate { mayOutrank = { gate } }
            return BackendEntry(name: name, summary: name, priority: priority, probe: probe, make: make, score: score,
                                mayOutrankPriority: mayOutrank)
        }
        // No GPU node: the gated entry (CPU rank 5) cannot beat openmp's 20, so it is never probed.
        let cpuOnly = BackendRegistry([entry("gated", priority: 5, gpuRank: 5, gate: false), entry("cpu", priority: 20)])
        #expect(cpuOnly.best()?.name == "cpu")
        #expect(probes.names == ["cpu"])
        // A GPU node: probed, and its score wins.
        probes.names = []
        let gpu = BackendRegistry([entry("gated", priority: 5, gpuRank: 30, gate: true), entry("cpu", priority: 20)])
        #expect(gpu.best()?.name == "gated")
        #expect(Set(probes.names) == ["gated", "cpu"])
        // Nothing else available: the gated entry is still probed and chosen.
        probes.names = []
        #expect(BackendRegistry([entry("gated", priority: 5, gate: false)]).best()?.name == "gated")
        #expect(probes.names == ["gated"])
        // A tie at the cap: the first listed wins, as without the gate.
        probes.names = []
        let tie = BackendRegistry([entry("gated", priority: 20, gate: false), entry("cpu", priority: 20)])
        #expect(tie.best()?.name == "gated")
        #expect(Set(probes.names) == ["gated", "cpu"])
    }
}
