// KVCache's sliding-window rings without a model: a windowed layer keeps window + rowsPerForward rows, stores
// position p at row p % rows (in two runs where a chunk wraps), and refuses to go back (resume, truncate, copy a
// prefix) to a position whose window it has overwritten. The kernels reading the ring are tested against the full
// cache in CKernelsTests (AttentionShape.ringed) and per backend by OpCheck's ring cases; the model end to end in
// Gemma3Tests.ringEqualsFullCache.
import Foundation
@testable import GPTEngine
import SwiftGPT
import Testing

@Suite("Sliding-window ring caches")
struct RingCacheTests {
    static let width = 3

    /// Layer 0 windowed (8 keys), layer 1 global; passes of at most 4 rows.
    static func cache(slots: Int = 2) throws -> KVCache {
        let be = try BackendRegistry.standard.make("openmp", options: BackendOptions(threads: 1))
        return try KVCache(backend: be, slots: slots, nCtx: 40, nLayers: 2, width: width, format: .f32,
                           windows: [8, 0], rowsPerForward: 4)
    }

    /// Stores positions from..<to of `slot` with each row's values equal to its position, as the executor does
    /// (at most rowsPerForward per pass).
    static func feed(_ c: KVCache, _ slot: Int, from: Int, to: Int) throws {
        var p = from
        while p < to {
            let n = min(4, to - p)
            let rows = (p..<(p + n)).flatMap { Array(repeating: Float($0), count: width) }
            let src = try c.backend.allocate([n, width], .f32, label: "rows")
            try rows.withUnsafeBytes { try c.backend.write(src, from: $0) }
            for l in 0..<2 { try c.store(slot, layer: l, position: p, k: src, v: src, srcRow: 0, count: n) }
            c.setLength(slot, p + n)
            p += n
        }
    }

    /// The position each row of `slot`'s layer-0 keys holds (its first value).
    static func ringPositions(_ c: KVCache, _ slot: Int) throws -> [Int] {
        var values = [Float](repeating: -1, count: c.layerRows[0] * width)
        try values.withUnsafeMutableBufferPointer { try c.backend.read(c.keys[slot][0], into: $0) }
        return stride(from: 0, to: values.count, by: width).map { Int(values[$0]) }
    }

    @Test("a windowed layer holds window + rowsPerForward rows; the memory counts them")
    func sizes() throws {
        let c = try Self.cache()
        #expect(c.layerRows == [12, 40])
        #expect(c.byteCount == 2 * 2 * (12 + 40) * Self.width * 4)
        #expect(KVCache.layerRows(nCtx: 10, windows: [8, 0], rowsPerForward: 4) == [10, 10])
        #expect(throws: EngineError.self) {
            _ = try KVCache(backend: c.backend, slots: 1, nCtx: 40, nLayers: 2, width: 3, format: .f32,
                            windows: [8, 0], rowsPerForward: 0)
        }
    }

    @Test("position p lands at row p % rows, chunks wrapping in two runs")
    func placement() throws {
        let c = try Self.cache()
        let s = try #require(c.allocate())
        try Self.feed(c, s, from: 0, to: 10)
        #expect(try Self.ringPositions(c, s).prefix(10) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        try Self.feed(c, s, from: 10, to: 15)  // 10..<14 wraps after row 11, then 14
        #expect(try Self.ringPositions(c, s) == [12, 13, 14, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    }

    @Test("going back past what the ring holds is refused or reported, never served from overwritten rows")
    func goingBack() throws {
        let c = try Self.cache()
        let (a, b) = (try #require(c.allocate()), try #require(c.allocate()))
        try Self.feed(c, a, from: 0, to: 30)  // the ring holds positions 18..<30
        // resuming at p needs positions p-7..<p: from 25 on (25 - 7 = 18)
        #expect(c.canResume(a, at: 30) && c.canResume(a, at: 25) && !c.canResume(a, at: 24) && !c.canResume(a, at: 31))
        #expect(throws: EngineError.self) { try c.copyPrefix(from: a, to: b, count: 20) }
        try c.copyPrefix(from: a, to: b, count: 27)
        #expect(c.lengths[b] == 27 && c.canResume(b, at: 25) && !c.canResume(b, at: 24))
        let copied = try Self.ringPositions(c, b)
        #expect((18...26).allSatisfy { copied[$0 % 12] == $0 })
        #expect(c.truncate(a, to: 26) == 26 && c.truncate(a, to: 10) == 0 && c.lengths[a] == 0)
        // an emptied slot starts over
        #expect(c.canResume(a, at: 0))
        try Self.feed(c, a, from: 0, to: 5)
        #expect(c.canResume(a, at: 1))
    }
}
