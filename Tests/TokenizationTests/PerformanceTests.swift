// Speed budgets: encoding a 4000-token prompt well under 100 ms and loading SmolLM2's tokenizer (49152 tokens,
// 48900 merges) well under 0.3 s, both in a release build. A debug build (plain `swift test`) is about 10x
// slower, so there the budgets are 10x looser; the measured times are printed either way.

import Foundation
import GGUF
import Testing

@testable import Tokenization

@Suite("Tokenizer speed")
struct PerformanceTests {
    #if DEBUG
        static let slack = 10.0  // unoptimised build
    #else
        static let slack = 1.0
    #endif

    /// Best wall time of `runs` calls, in seconds.
    func bestTime(runs: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    @Test("encode a 4000-token prompt in < 100 ms", .enabled(if: RealModel.isPresent, RealModel.absentReason))
    func encodeSpeed() throws {
        let tokenizer = try #require(RealModel.loaded).tokenizer
        let mixed = Golden.cases.map(\.text).joined(separator: "\n")
        var prompt = ""
        while tokenizer.encode(prompt).count < 4000 { prompt += mixed }
        let count = tokenizer.encode(prompt).count
        let seconds = bestTime(runs: 3) { _ = tokenizer.encode(prompt) }
        print("encode: \(count) tokens in \(String(format: "%.1f", seconds * 1000)) ms")
        #expect(seconds < 0.1 * Self.slack, "encoding \(count) tokens took \(seconds) s")
    }

    @Test("load the tokenizer from the GGUF in < 0.3 s", .enabled(if: RealModel.isPresent, RealModel.absentReason))
    func loadSpeed() throws {
        let path = try #require(RealModel.path)
        let file = try GGUFFile(path: path)
        let seconds = try bestTime(runs: 2) { _ = try BPETokenizer(gguf: file) }
        let withFile = try bestTime(runs: 1) { _ = try BPETokenizer(gguf: GGUFFile(path: path)) }
        print(String(format: "tokenizer load: %.0f ms (%.0f ms with opening the GGUF)", seconds * 1e3, withFile * 1e3))
        #expect(seconds < 0.3 * Self.slack, "building the tokenizer took \(seconds) s")
    }
}
