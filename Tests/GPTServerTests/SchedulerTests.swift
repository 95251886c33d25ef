// The scheduler over a fake engine whose logits are a hash of each slot's whole token history: any mistake in
// positions, slots, chunking or prefix reuse changes the text, so every request must produce exactly what a
// one-sequence greedy loop produces.
import Foundation
import GPTEngine
import Testing
@testable import Tokenization

@testable import GPTServer

/// A byte-level vocabulary: 256 byte tokens and "<|end|>" (end of generation, id 256).
enum ByteVocab {
    static func tokenizer() throws -> BPETokenizer {
        let bytes = (0..<256).map { String(Unicode.Scalar(GPT2ByteMap.scalarForByte[$0])!) }
        return try BPETokenizer(tokens: bytes + ["<|end|>"], tokenTypes: [Int](repeating: 1, count: 256) + [3],
                                merges: [], preTokenizer: "gpt-2", bos: nil, eos: 256, addBOS: false)
    }

    static func ids(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }
}

/// Logits = a hash of (every token the slot holds, candidate): lowercase letters only, plus "<|end|>" when
/// `endAfter` tokens are held.
final class FakeEngine: BatchEngine, @unchecked Sendable {
    let slotCount: Int
    let contextPerSlot: Int
    let maxBatchRows: Int
    let vocabularySize = 257
    var endAfter = Int.max
    private(set) var held: [[Int32]]
    /// Chunks per forward call, for checking that sequences really share steps.
    private(set) var calls: [[BatchChunk]] = []
    /// (source, destination, count) of each copyPrefix call.
    private(set) var copies: [(Int, Int, Int)] = []
    private let lock = NSLock()

    init(slots: Int, context: Int, maxBatchRows: Int) {
        slotCount = slots
        contextPerSlot = context
        self.maxBatchRows = maxBatchRows
        held = Array(repeating: [], count: slots)
    }

    func forward(_ chunks: [BatchChunk]) throws -> [[Float]] {
        lock.lock()
        defer { lock.unlock() }
        calls.append(chunks)
        #expect(chunks.reduce(0) { $0 + $1.tokens.count } <= maxBatchRows)
        #expect(Set(chunks.map(\.slot)).count == chunks.count, "a slot appears twice in one step")
        var out: [[Float]] = []
        for c in chunks {
            #expect(c.startPosition <= held[c.slot].count, "gap in slot \(c.slot)")
            held[c.slot] = Array(held[c.slot].prefix(c.startPosition)) + c.tokens
            #expect(held[c.slot].count <= contextPerSlot)
            if c.wantLogits { out.append(Self.logits(held[c.slot], endAfter: endAfter)) }
        }
        return out
    }

    func copyPrefix(from source: Int, to destination: Int, count: Int) throws {
        lock.lock()
        defer { lock.unlock() }
        #expect(source != destination && count <= held[source].count)
        held[destination] = Array(held[source].prefix(count))
        copies.append((source, destination, count))
    }

    static func logits(_ history: [Int32], endAfter: Int) -> [Float] {
        var h: UInt64 = 1469598103934665603
        for t in history { h = (h ^ UInt64(t)) &* 1099511628211 }
        var out = [Float](repeating: -30, count: 257)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") {
            var x = h ^ (UInt64(c) &* 0x9E3779B97F4A7C15)
            x = (x ^ (x >> 31)) &* 0xBF58476D1CE4E5B9
            out[Int(c)] = Float(x >> 40) / Float(1 << 24) * 4
        }
        if history.count >= endAfter { out[256] = 10 }
        return out
    }

    /// What one sequence alone generates greedily (the reference).
    static func greedy(_ prompt: [Int32], maxTokens: Int, endAfter: Int = .max) -> [Int32] {
        var seq = prompt
        var out: [Int32] = []
        while out.count < maxTokens {
            let next = Int32(Sampler.argmax(logits(seq, endAfter: endAfter)))
            if next == 256 { break }
            out.append(next)
            seq.append(next)
        }
        return out
    }
}

func text(_ ids: [Int32]) -> String { String(decoding: ids.map { UInt8($0) }, as: UTF8.self) }

/// Collects a request's text and summary.
func collect(_ handle: GenerationHandle) async -> (text: String, summary: GenerationSummary?, tokens: [Int32]) {
    var s = ""
    var tokens: [Int32] = []
    var summary: GenerationSummary?
    for await e in handle.events {
        switch e {
        case .text(let t, let ids, _):
            s += t
            tokens += ids
        case .done(let d): summary = d
        case .failed(let m): Issue.record("failed: \(m)")
        }
    }
    return (s, summary, tokens)
}

func greedyParameters(_ maxTokens: Int?) -> GenerationParameters {
    GenerationParameters(maxTokens: maxTokens, sampling: .greedy)
}

@Suite struct SchedulerTests {
    @Test func concurrentRequestsMatchOneSequenceAtATime() async throws {
        let engine = FakeEngine(slots: 3, context: 64, maxBatchRows: 8)
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 16))
        scheduler.start()
        // prompts longer than a step's rows (chunked), sharing prefixes, more requests than slots (queued)
        let prompts = ["the quick brown fox", "the quick brown cat jumps", "hello", "hello world, again",
                       "abcdefghijklmnopqrstuvwxyz", "the quick brown fox"].map(ByteVocab.ids)
        let handles = try prompts.map { try scheduler.submit(prompt: $0, parameters: greedyParameters(12)) }
        var results: [(String, GenerationSummary?, [Int32])] = []
        for h in handles { results.append(await collect(h)) }
        for (prompt, (text, summary, tokens)) in zip(prompts, results) {
            let expected = FakeEngine.greedy(prompt, maxTokens: 12)
            #expect(tokens == expected)
            #expect(text == GPTServerTests.text(expected))
            #expect(summary?.completionTokens == 12)
            #expect(summary?.promptTokens == prompt.count)
            #expect(summary?.finishReason == .length)
        }
        #expect(engine.calls.contains { $0.count >= 3 }, "no step carried three sequences")
        await scheduler.drain(seconds: 5)
    }

    @Test func repeatedPromptReusesTheCachedPrefix() async throws {
        let engine = FakeEngine(slots: 2, context: 64, maxBatchRows: 16)
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 4))
        scheduler.start()
        let system = ByteVocab.ids("system: be brief. user: ")
        let first = await collect(try scheduler.submit(prompt: system + ByteVocab.ids("hi"), parameters: greedyParameters(5)))
        #expect(first.summary?.cachedTokens == 0)
        let prompt = system + ByteVocab.ids("bye")
        let second = await collect(try scheduler.submit(prompt: prompt, parameters: greedyParameters(5)))
        #expect(second.summary?.cachedTokens == system.count)
        #expect(second.tokens == FakeEngine.greedy(prompt, maxTokens: 5))
        // the same prompt again: everything but its last token is reused
        let third = await collect(try scheduler.submit(prompt: prompt, parameters: greedyParameters(5)))
        #expect(third.summary?.cachedTokens == prompt.count - 1)
        #expect(third.tokens == second.tokens)
        await scheduler.drain(seconds: 5)
    }

    @Test func prefixHeldByARunningSequenceIsCopiedToANewSlot() async throws {
        // The first request cannot end by itself (no token limit, 2^20 positions), so it still holds slot 0 and the
        // shared system prompt when the second arrives, which must take slot 1 and copy the prefix from slot 0.
        let engine = FakeEngine(slots: 2, context: 1 << 20, maxBatchRows: 16)
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 4))
        scheduler.start()
        let system = ByteVocab.ids("system: you are a helpful assistant. user: ")
        let running = try scheduler.submit(prompt: system + ByteVocab.ids("hi"), parameters: greedyParameters(nil))
        for await e in running.events { if case .text = e { break } }
        let prompt = system + ByteVocab.ids("bye")
        let second = await collect(try scheduler.submit(prompt: prompt, parameters: greedyParameters(6)))
        #expect(second.summary?.cachedTokens == system.count)
        #expect(second.tokens == FakeEngine.greedy(prompt, maxTokens: 6))
        #expect(engine.copies.count == 1 && engine.copies.first.map { $0.1 != $0.0 && $0.2 == system.count } == true)
        running.cancel()
        await scheduler.drain(seconds: 5)
    }

    @Test func endOfGenerationStopsAndContextLimitEndsWithLength() async throws {
        let engine = FakeEngine(slots: 1, context: 20, maxBatchRows: 8)
        engine.endAfter = 9
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 4))
        scheduler.start()
        let stopped = await collect(try scheduler.submit(prompt: ByteVocab.ids("abcdef"), parameters: greedyParameters(nil)))
        #expect(stopped.summary?.finishReason == .stop)
        #expect(stopped.tokens == FakeEngine.greedy(ByteVocab.ids("abcdef"), maxTokens: 100, endAfter: 9))
        engine.endAfter = .max
        let full = await collect(try scheduler.submit(prompt: ByteVocab.ids("abcdef"), parameters: greedyParameters(nil)))
        #expect(full.summary?.finishReason == .length)
        #expect(6 + full.tokens.count == 20, "generation should fill the slot's context exactly")
        #expect(throws: SchedulerError.promptTooLong(tokens: 20, context: 20)) {
            try scheduler.submit(prompt: [Int32](repeating: 97, count: 20), parameters: greedyParameters(1))
        }
        await scheduler.drain(seconds: 5)
    }

    @Test func stopStringEndsTheTextBeforeIt() async throws {
        let engine = FakeEngine(slots: 1, context: 64, maxBatchRows: 8)
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 4))
        scheduler.start()
        let prompt = ByteVocab.ids("stop test")
        let full = text(FakeEngine.greedy(prompt, maxTokens: 20))
        let stop = String(Array(full)[6..<8])
        let expected = String(full[..<full.range(of: stop)!.lowerBound])
        var parameters = greedyParameters(20)
        parameters.stop = [stop, "never-seen"]
        let result = await collect(try scheduler.submit(prompt: prompt, parameters: parameters))
        #expect(result.text == expected)
        #expect(result.summary?.finishReason == .stop)
        await scheduler.drain(seconds: 5)
    }

    @Test func seededSamplingIsReproducible() async throws {
        let engine = FakeEngine(slots: 2, context: 64, maxBatchRows: 8)
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 4))
        scheduler.start()
        var o = SamplingOptions()
        o.temperature = 1.5
        o.topK = 0
        o.minP = 0
        o.topP = 1
        o.seed = 1234
        let p = GenerationParameters(maxTokens: 16, sampling: o)
        let a = try scheduler.submit(prompt: ByteVocab.ids("seed"), parameters: p)
        let b = try scheduler.submit(prompt: ByteVocab.ids("seed"), parameters: p)
        let (ra, rb) = (await collect(a), await collect(b))
        #expect(ra.tokens == rb.tokens)
        #expect(ra.tokens != FakeEngine.greedy(ByteVocab.ids("seed"), maxTokens: 16), "temperature 1.5 gave the greedy text")
        await scheduler.drain(seconds: 5)
    }

    @Test func fullQueueIsBusyAndCancelFreesTheSlot() async throws {
        // The long request has no token limit and a context of 2^20 positions, so it cannot finish by itself
        // before the cancel, however fast the fake engine runs.
        let engine = FakeEngine(slots: 1, context: 1 << 20, maxBatchRows: 8)
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 1))
        scheduler.start()
        let long = try scheduler.submit(prompt: ByteVocab.ids("long"), parameters: greedyParameters(nil))
        // wait until it runs, then fill the queue
        for await e in long.events { if case .text = e { break } }
        let queued = try scheduler.submit(prompt: ByteVocab.ids("next"), parameters: greedyParameters(3))
        #expect(throws: SchedulerError.busy) { try scheduler.submit(prompt: ByteVocab.ids("x"), parameters: greedyParameters(1)) }
        long.cancel()
        let next = await collect(queued)
        #expect(next.tokens == FakeEngine.greedy(ByteVocab.ids("next"), maxTokens: 3))
        var cancelledSummary: GenerationSummary?
        for await e in long.events { if case .done(let s) = e { cancelledSummary = s } }
        #expect(cancelledSummary?.finishReason == .cancelled)
        await scheduler.drain(seconds: 5)
        #expect(throws: SchedulerError.shuttingDown) { try scheduler.submit(prompt: [97], parameters: greedyParameters(1)) }
    }

    // The request has no token limit and 2^20 positions of context: only the drain's cut can end it, so drain
    // returning at all is the proof; the time limit guards against a hang. (A wall-clock bound of 5 s failed in CI:
    // with both cores busy with other suites, the awaiting task waited 6.4 s for a cooperative thread.)
    @Test(.timeLimit(.minutes(5)))
    func drainCutsRunningRequestsAtTheDeadline() async throws {
        let engine = FakeEngine(slots: 1, context: 1 << 20, maxBatchRows: 8)
        let scheduler = Scheduler(engine: engine, tokenizer: try ByteVocab.tokenizer(), configuration: .init(maxQueue: 1))
        scheduler.start()
        let endless = try scheduler.submit(prompt: ByteVocab.ids("go"), parameters: greedyParameters(nil))
        for await e in endless.events { if case .text = e { break } }
        await scheduler.drain(seconds: 0.2)
        var reason: FinishReason?
        for await e in endless.events { if case .done(let s) = e { reason = s.finishReason } }
        #expect(reason == .cancelled)
    }

    @Test(arguments: [
        (["hel", "lo wor", "ld"], ["lo w"], "hel", true),
        (["ab", "c"], ["x"], "abc", false),
        (["a<", "/s", "> b"], ["</s>"], "a", true),
        (["x<", "y"], ["</s>"], "x<y", false),
    ])
    func stopScanner(pieces: [String], stops: [String], expected: String, stopped: Bool) {
        var scanner = StopScanner(stops)
        var out = ""
        var didStop = false
        for p in pieces where !didStop {
            let (t, s) = scanner.feed(p)
            out += t
            didStop = s
        }
        if !didStop { out += scanner.flush() }
        #expect(out == expected)
        #expect(didStop == stopped)
    }
}
