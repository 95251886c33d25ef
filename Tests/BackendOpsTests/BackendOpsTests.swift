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

    @Test("K-quant scales unpacked wrongly are caught", arguments: [WeightFormat.q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
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
}
