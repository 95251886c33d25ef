// The multi-sequence executor on the real model: rows of several sequences in one forward call give each sequence
// the logits it gets alone; slots are independent, a copied prefix continues like the original, and bad batches
// are clear errors.
import Foundation
import SwiftGPT
import Testing

@Suite("Multi-sequence batches", .enabled(if: TestModel.path != nil, TestModel.missingReason))
struct BatchTests {
    static let a: [Int32] = GoldenLogits.file.prompts[0].prompt_tokens
    static let b: [Int32] = Array(GoldenLogits.file.prompts[0].prompt_tokens.reversed().prefix(5))

    /// Same kernels on different batch shapes: see EngineTests.kvCacheMatchesBatch for the two thresholds.
    static func limit(_ backend: String) -> Double { backend == "openmp" ? 3e-2 : 1e-8 }

    @Test("two prompts and a decode step in one batch equal each sequence alone", arguments: TestModel.backends)
    func batchMatchesAlone(backend: String) throws {
        let model = try TestModel.load(backend)
        let ex = model.executor
        ex.reset()
        let aloneA = try ex.forward(Self.a)
        let aloneNext = try ex.forward([42])
        ex.reset()
        let aloneB = try ex.forward(Self.b)

        let cache = try ex.makeCache(slots: 3, nCtx: 64)
        let (sa, sb) = (try #require(cache.allocate()), try #require(cache.allocate()))
        // prompt A alone first, then A's next token batched with the whole of prompt B
        let first = try ex.forward([SequenceChunk(slot: sa, startPosition: 0, tokens: Self.a)], cache: cache)
        let both = try ex.forward([
            SequenceChunk(slot: sb, startPosition: 0, tokens: Self.b),
            SequenceChunk(slot: sa, startPosition: Self.a.count, tokens: [42]),
        ], cache: cache)
        #expect(cache.lengths[sa] == Self.a.count + 1 && cache.lengths[sb] == Self.b.count)
        #expect(nmse(first[0], aloneA) < Self.limit(backend), "A: NMSE \(nmse(first[0], aloneA))")
        #expect(nmse(both[0], aloneB) < Self.limit(backend), "B: NMSE \(nmse(both[0], aloneB))")
        #expect(nmse(both[1], aloneNext) < Self.limit(backend), "A+1: NMSE \(nmse(both[1], aloneNext))")
        #expect(Sampler.argmax(both[0]) == Sampler.argmax(aloneB))
    }

    @Test("logits for every row equal the one-row logits of each prefix")
    func allRowLogits() throws {
        let model = try TestModel.load("blas")
        let ex = model.executor
        let cache = try ex.makeCache(slots: 1, nCtx: 64)
        let s = try #require(cache.allocate())
        let rows = try ex.forward([SequenceChunk(slot: s, startPosition: 0, tokens: Self.b, logits: .all)],
                                  cache: cache)[0]
        let n = model.config.nVocab
        #expect(rows.count == Self.b.count * n)
        for i in [0, Self.b.count - 1] {
            ex.reset()
            let alone = try ex.forward(Array(Self.b[...i]))
            #expect(nmse(Array(rows[(i * n)..<((i + 1) * n)]), alone) < 1e-8)
        }
    }

    @Test("a copied prefix continues like the sequence it came from")
    func copyPrefix() throws {
        let model = try TestModel.load("blas", kvFormat: .f16)
        let ex = model.executor
        let cache = try ex.makeCache(slots: 2, nCtx: 64)
        let (s0, s1) = (try #require(cache.allocate()), try #require(cache.allocate()))
        _ = try ex.forward([SequenceChunk(slot: s0, startPosition: 0, tokens: Self.a, wantLogits: false)], cache: cache)
        try cache.copyPrefix(from: s0, to: s1, count: 4)
        #expect(cache.lengths[s1] == 4)
        let tail = Array(Self.a[4...])
        let continued = try ex.forward([SequenceChunk(slot: s1, startPosition: 4, tokens: tail)], cache: cache)[0]
        cache.truncate(s0, to: 0)
        let fresh = try ex.forward([SequenceChunk(slot: s0, startPosition: 0, tokens: Self.a)], cache: cache)[0]
        #expect(nmse(continued, fresh) < 1e-8, "NMSE \(nmse(continued, fresh))")
        cache.free(s1)
        #expect(cache.allocate() == s1 && cache.lengths[s1] == 0)
        #expect(cache.allocate() == nil)
    }

    @Test("bad batches are clear errors")
    func badBatches() throws {
        let model = try TestModel.load("openmp")
        let ex = model.executor
        let cache = try ex.makeCache(slots: 2, nCtx: 8)
        let s = try #require(cache.allocate())
        #expect(throws: EngineError.badBatch("slot 1 is not allocated")) {
            try ex.forward([SequenceChunk(slot: 1, startPosition: 0, tokens: [1])], cache: cache)
        }
        #expect(throws: EngineError.self) {
            try ex.forward([SequenceChunk(slot: s, startPosition: 3, tokens: [1])], cache: cache)
        }
        #expect(throws: EngineError.contextOverflow(needed: 9, limit: 8)) {
            try ex.forward([SequenceChunk(slot: s, startPosition: 0, tokens: Array(repeating: 1, count: 9))],
                           cache: cache)
        }
        #expect(throws: EngineError.self) {
            try ex.forward([SequenceChunk(slot: s, startPosition: 0, tokens: [1]),
                            SequenceChunk(slot: s, startPosition: 1, tokens: [2])], cache: cache)
        }
        #expect(throws: EngineError.self) { try ex.makeCache(slots: 0, nCtx: 8) }
    }

    @Test("an op the backend cannot run fails at load, by name")
    func unsupportedOpFailsAtLoad() throws {
        let backend = NoAttention(try BackendRegistry.standard.make("openmp", options: BackendOptions(threads: 2)))
        #expect {
            _ = try LanguageModel(path: TestModel.path!, backend: backend, nCtx: 16)
        } throws: { error in
            "\(error)".contains("attention") && "\(error)".contains("no-attention")
        }
    }
}

/// A backend that claims no attention op.
final class NoAttention: ForwardingBackend {
    override var name: String { "no-attention" }
    override func supports(_ op: Op) -> Bool { op.kind != .attention && inner.supports(op) }
}
