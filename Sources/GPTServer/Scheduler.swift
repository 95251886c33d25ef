// Scheduler: continuous batching over a BatchEngine. Each step runs one forward call holding one decode row for
// every running sequence plus chunks of the prompts being read, then samples each sequence that got logits with
// its own Sampler. A new request takes the free slot whose cached tokens share the longest prefix with its
// prompt and starts after that prefix (copied from another slot, free or running, when that one holds more of
// it). Requests wait in a bounded queue; a cancelled request leaves its slot at the next step.
import Foundation
import GPTEngine
import Tokenization

/// What one request asks the scheduler for.
public struct GenerationParameters: Sendable {
    /// Most tokens to generate (nil: until the end of the slot's context).
    public var maxTokens: Int?
    public var sampling: SamplingOptions
    /// Generation ends before the first of these strings (which is not returned).
    public var stop: [String] = []
    /// Return each token's log-probability and this many alternatives (nil: no log-probabilities).
    public var topLogprobs: Int?
    /// Keep going past end-of-generation tokens.
    public var ignoreEndOfGeneration = false

    public init(maxTokens: Int?, sampling: SamplingOptions) {
        self.maxTokens = maxTokens
        self.sampling = sampling
    }
}

/// A generated token's log-probability (natural log of the softmax of the raw logits) and its alternatives.
public struct TokenLogprob: Sendable {
    public struct Alternative: Sendable {
        public var id: Int32
        public var logprob: Float
    }
    public var id: Int32
    public var logprob: Float
    /// The most likely tokens, most likely first.
    public var top: [Alternative]
}

public enum FinishReason: String, Sendable {
    case stop, length
    /// The client went away or the server shut down before the end.
    case cancelled
}

/// How a request went.
public struct GenerationSummary: Sendable {
    public var promptTokens = 0
    /// Prompt tokens found in the slot's cache and not computed again.
    public var cachedTokens = 0
    public var completionTokens = 0
    public var finishReason = FinishReason.length
    /// Seconds from submission to the first generated token (nil when none was generated).
    public var timeToFirstToken: Double?
    /// Seconds from submission to the end.
    public var totalSeconds = 0.0
    /// Seconds from the first token to the end (the decode phase).
    public var decodeSeconds: Double {
        guard let t = timeToFirstToken else { return 0 }
        return max(0, totalSeconds - t)
    }
}

public enum GenerationEvent: Sendable {
    /// New text (possibly empty while a stop string or a character is incomplete) and the tokens it came from.
    case text(String, tokens: [Int32], logprobs: [TokenLogprob])
    case done(GenerationSummary)
    case failed(String)
}

public enum SchedulerError: Error, Equatable {
    /// The wait queue is full.
    case busy
    /// The server is shutting down.
    case shuttingDown
    /// The prompt leaves no room to generate in a slot.
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
}

/// A submitted request: its events, and a way to give up on it.
public final class GenerationHandle: Sendable {
    public let id: Int
    public let events: AsyncStream<GenerationEvent>
    private let onCancel: @Sendable () -> Void

    init(id: Int, events: AsyncStream<GenerationEvent>, onCancel: @escaping @Sendable () -> Void) {
        self.id = id
        self.events = events
        self.onCancel = onCancel
    }

    /// Stops the generation; its slot is freed at the next step. Safe to call more than once.
    public func cancel() { onCancel() }
}

/// Live counts, for /health and /metrics.
public struct SchedulerState: Sendable {
    public var queued: Int
    public var running: Int
    public var slots: Int
    public var draining: Bool
}

/// Observes the scheduler (metrics); called on the scheduler's thread.
public protocol SchedulerObserver: AnyObject, Sendable {
    func stepFinished(rows: Int, sampled: Int, seconds: Double, state: SchedulerState)
}

public final class Scheduler: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Most requests waiting while every slot is taken; past it `submit` throws `.busy`.
        public var maxQueue: Int
        public init(maxQueue: Int) { self.maxQueue = maxQueue }
    }

    private let engine: any BatchEngine
    private let tokenizer: BPETokenizer
    private let configuration: Configuration
    private let slotCount: Int
    public weak var observer: (any SchedulerObserver)?

    // Shared with request threads; guarded by `condition`.
    private let condition = NSCondition()
    private var waiting: [ActiveRequest] = []
    private var cancelled: Set<Int> = []
    private var accepting = true
    private var stopWhenIdle = false
    /// Sequences holding a slot (set by the scheduler's thread).
    private var runningCount = 0
    private var nextID = 1
    private var thread: Thread?
    private var finished = false

    // Owned by the scheduler thread.
    private var running: [ActiveRequest] = []
    private var slots: [Slot]
    private var clock = 0

    /// A KV-cache slot: the tokens its cache holds (valid while free, for prefix reuse).
    private struct Slot {
        var cached: [Int32] = []
        var busy = false
        var lastUsed = 0
    }

    public init(engine: any BatchEngine, tokenizer: BPETokenizer, configuration: Configuration) {
        self.engine = engine
        self.tokenizer = tokenizer
        self.configuration = configuration
        self.slotCount = engine.slotCount
        self.slots = Array(repeating: Slot(), count: engine.slotCount)
    }

    public var contextPerSlot: Int { engine.contextPerSlot }

    public var state: SchedulerState {
        condition.lock()
        defer { condition.unlock() }
        return SchedulerState(queued: waiting.count, running: runningCount, slots: slotCount, draining: !accepting)
    }

    /// Starts the scheduler's thread.
    public func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "gpt-scheduler"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues a request. Throws `.busy` when the queue is full, `.shuttingDown` after `drain`.
    public func submit(prompt: [Int32], parameters: GenerationParameters) throws(SchedulerError) -> GenerationHandle {
        guard !prompt.isEmpty else { throw .emptyPrompt }
        guard prompt.count < engine.contextPerSlot else {
            throw .promptTooLong(tokens: prompt.count, context: engine.contextPerSlot)
        }
        let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream()
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { throw .shuttingDown }
        guard waiting.count < configuration.maxQueue + (slotCount - runningCount) else { throw .busy }
        let id = nextID
        nextID += 1
        waiting.append(ActiveRequest(id: id, prompt: prompt, parameters: parameters, tokenizer: tokenizer,
                                continuation: continuation))
        condition.signal()
        let handle = GenerationHandle(id: id, events: stream) { [weak self] in self?.cancel(id) }
        continuation.onTermination = { [weak self] _ in self?.cancel(id) }
        return handle
    }

    private func cancel(_ id: Int) {
        condition.lock()
        cancelled.insert(id)
        condition.signal()
        condition.unlock()
    }

    /// Stops taking requests, lets running and queued ones finish for up to `seconds`, then cancels what is left.
    /// Returns once the scheduler's thread has stopped.
    public func drain(seconds: Double) async {
        stopAccepting()
        let deadline = Date().addingTimeInterval(seconds)
        while !isFinished {
            if Date() > deadline { cancelAll() }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    private func stopAccepting() {
        condition.lock()
        accepting = false
        stopWhenIdle = true
        condition.signal()
        condition.unlock()
    }

    private var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return finished || thread == nil
    }

    private func cancelAll() {
        condition.lock()
        for s in waiting { cancelled.insert(s.id) }
        cancelled.formUnion(runningIDs)
        condition.signal()
        condition.unlock()
    }

    // Written by the scheduler thread under the lock, so cancelAll can see it.
    private var runningIDs: Set<Int> = []

    // MARK: - The loop

    /// Waits for work, admits queued requests, runs steps. Continuations are finished outside the lock: finishing
    /// one runs its termination handler, which calls `cancel` (and so takes the lock).
    private func loop() {
        while true {
            var ended: [ActiveRequest] = []
            condition.lock()
            // cancelled requests leave the queue and their slots
            if !cancelled.isEmpty {
                waiting.removeAll { s in
                    guard cancelled.contains(s.id) else { return false }
                    ended.append(s)
                    return true
                }
                for s in running where cancelled.contains(s.id) {
                    s.markDone(.cancelled)
                    free(s)
                    ended.append(s)
                }
                running.removeAll { $0.isDone }
                cancelled.removeAll()
            }
            // admit waiting requests into free slots
            while !waiting.isEmpty, let slot = bestSlot(for: waiting[0].prompt) {
                admit(waiting.removeFirst(), slot: slot)
            }
            runningCount = running.count
            runningIDs = Set(running.map(\.id))
            let idle = running.isEmpty
            let stop = idle && stopWhenIdle && waiting.isEmpty
            if stop { finished = true }
            if idle && !stop && ended.isEmpty { condition.wait() }
            condition.unlock()
            for s in ended { s.finish(.cancelled) }
            if stop { return }
            if !idle { step() }
        }
    }

    /// The free slot sharing the longest prefix with `prompt` (ties: least recently used).
    private func bestSlot(for prompt: [Int32]) -> Int? {
        var best: (slot: Int, common: Int, lastUsed: Int)?
        for (i, slot) in slots.enumerated() where !slot.busy {
            let common = commonPrefix(slot.cached, prompt)
            if best == nil || common > best!.common || (common == best!.common && slot.lastUsed < best!.lastUsed) {
                best = (i, common, slot.lastUsed)
            }
        }
        return best?.slot
    }

    private func admit(_ s: ActiveRequest, slot: Int) {
        // at least the last prompt token is fed, to get its logits
        var common = min(commonPrefix(slots[slot].cached, s.prompt), s.prompt.count - 1)
        if !engine.canResume(slot: slot, at: common) { common = 0 }  // a ring overwrote the window before it
        // Another slot (free, or running a sequence) may hold more of the prompt, e.g. a system prompt shared by
        // several users: its rows are copied instead of computed again.
        if let donor = longestPrefixElsewhere(for: s.prompt, excluding: slot) {
            let count = min(donor.common, s.prompt.count - 1)
            if count > common, (try? engine.copyPrefix(from: donor.slot, to: slot, count: count)) != nil {
                common = count
            }
        }
        slots[slot].busy = true
        slots[slot].cached = []
        s.slot = slot
        s.fed = common
        s.summary.cachedTokens = common
        running.append(s)
    }

    /// The slot other than `excluded` whose cache holds the longest prefix of `prompt`: a free slot's remembered
    /// tokens, or the positions a running sequence has computed so far.
    private func longestPrefixElsewhere(for prompt: [Int32], excluding excluded: Int) -> (slot: Int, common: Int)? {
        var best: (slot: Int, common: Int)?
        for (i, slot) in slots.enumerated() where i != excluded {
            let held = slot.busy ? (running.first { $0.slot == i }?.cachedTokens ?? []) : slot.cached
            let common = commonPrefix(held, prompt)
            if common > (best?.common ?? 0) { best = (i, common) }
        }
        return best
    }

    private func commonPrefix(_ a: [Int32], _ b: [Int32]) -> Int {
        var n = 0
        while n < min(a.count, b.count) && a[n] == b[n] { n += 1 }
        return n
    }

    /// Frees the slot of `s`, remembering what its cache holds.
    private func free(_ s: ActiveRequest) {
        clock += 1
        slots[s.slot].busy = false
        slots[s.slot].cached = s.cachedTokens
        slots[s.slot].lastUsed = clock
    }

    /// One forward call: a decode row per generating sequence, then prompt chunks while rows remain.
    private func step() {
        let started = DispatchTime.now()
        var chunks: [BatchChunk] = []
        var owners: [ActiveRequest] = []
        var rows = 0
        for s in running where s.pendingToken != nil {
            chunks.append(BatchChunk(slot: s.slot, startPosition: s.fed, tokens: [s.pendingToken!], wantLogits: true))
            owners.append(s)
            rows += 1
        }
        for s in running where s.pendingToken == nil && rows < engine.maxBatchRows {
            let n = min(s.prompt.count - s.fed, engine.maxBatchRows - rows)
            let end = s.fed + n
            chunks.append(BatchChunk(slot: s.slot, startPosition: s.fed, tokens: Array(s.prompt[s.fed..<end]),
                                     wantLogits: end == s.prompt.count))
            owners.append(s)
            rows += n
        }
        let logits: [[Float]]
        do {
            logits = try engine.forward(chunks)
        } catch {
            let failed = running
            for s in failed {
                s.markDone(.cancelled)
                free(s)
            }
            condition.lock()
            running.removeAll()
            runningCount = 0
            runningIDs = []
            condition.unlock()
            for s in failed {
                s.continuation.yield(.failed("\(error)"))
                s.finish(.cancelled)
            }
            return
        }
        var next = 0
        var sampled = 0
        for (chunk, s) in zip(chunks, owners) {
            s.fed += chunk.tokens.count
            guard chunk.wantLogits else { continue }
            sampled += 1
            s.accept(logits[next], context: engine.contextPerSlot)
            next += 1
        }
        let ended = running.filter(\.isDone)
        for s in ended { free(s) }
        condition.lock()
        running.removeAll { $0.isDone }
        runningCount = running.count
        runningIDs = Set(running.map(\.id))
        let state = SchedulerState(queued: waiting.count, running: running.count, slots: slots.count,
                                   draining: !accepting)
        condition.unlock()
        for s in ended { s.finish(s.summary.finishReason) }
        observer?.stepFinished(rows: rows, sampled: sampled,
                               seconds: Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9,
                               state: state)
    }
}

/// One request inside the scheduler (used on the scheduler's thread only).
private final class ActiveRequest {
    let id: Int
    let prompt: [Int32]
    let parameters: GenerationParameters
    let continuation: AsyncStream<GenerationEvent>.Continuation
    let submitted = DispatchTime.now()
    var sampler: Sampler
    var decoder: StreamingDecoder
    var stops: StopScanner
    var slot = 0
    /// Positions of the slot's cache that hold this sequence's tokens.
    var fed = 0
    var generated: [Int32] = []
    /// The last sampled token, fed at the next step.
    var pendingToken: Int32?
    var summary = GenerationSummary()
    private(set) var isDone = false
    private var endEmitted = false
    /// A stop string ended the text: nothing after it is sent.
    private var stoppedByString = false

    init(id: Int, prompt: [Int32], parameters: GenerationParameters, tokenizer: BPETokenizer,
         continuation: AsyncStream<GenerationEvent>.Continuation) {
        self.id = id
        self.prompt = prompt
        self.parameters = parameters
        self.continuation = continuation
        self.sampler = Sampler(parameters.sampling)
        self.decoder = StreamingDecoder(tokenizer: tokenizer, renderSpecial: false)
        self.stops = StopScanner(parameters.stop)
        self.tokenizer = tokenizer
        summary.promptTokens = prompt.count
    }

    private let tokenizer: BPETokenizer

    /// The tokens the slot's cache holds for this sequence.
    var cachedTokens: [Int32] { Array((prompt + generated).prefix(fed)) }

    /// Samples the next token from `logits` and sends its text; marks the sequence done at an end.
    func accept(_ logits: [Float], context: Int) {
        let token = sampler.sample(logits, history: generated)
        if summary.timeToFirstToken == nil { summary.timeToFirstToken = elapsed() }
        if !parameters.ignoreEndOfGeneration && tokenizer.isEndOfGeneration(token) {
            pendingToken = nil
            summary.finishReason = .stop
            isDone = true
            return
        }
        generated.append(token)
        summary.completionTokens = generated.count
        pendingToken = token
        let logprob = parameters.topLogprobs.map { Self.logprob(of: token, in: logits, top: $0) }
        let (text, stopped) = stops.feed(decoder.append(token))
        continuation.yield(.text(text, tokens: [token], logprobs: logprob.map { [$0] } ?? []))
        if stopped {
            summary.finishReason = .stop
            stoppedByString = true
            isDone = true
        } else if generated.count >= (parameters.maxTokens ?? .max) || fed + 1 >= context {
            // the budget is spent, or the slot has no room to feed this token
            summary.finishReason = .length
            isDone = true
        }
    }

    /// Marks the sequence ended (its slot can be freed); `finish` then tells the client.
    func markDone(_ reason: FinishReason) {
        isDone = true
        summary.finishReason = reason
    }

    /// Sends what is held back and the summary (once).
    func finish(_ reason: FinishReason) {
        guard !endEmitted else { return }
        endEmitted = true
        markDone(reason)
        if reason != .cancelled && !stoppedByString {
            let (text, stopped) = stops.feed(decoder.flush())
            let rest = stopped ? text : text + stops.flush()
            if !rest.isEmpty { continuation.yield(.text(rest, tokens: [], logprobs: [])) }
        }
        summary.totalSeconds = elapsed()
        continuation.yield(.done(summary))
        continuation.finish()
    }

    private func elapsed() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - submitted.uptimeNanoseconds) / 1e9
    }

    /// log softmax(logits)[token] and the `top` largest log-probabilities.
    static func logprob(of token: Int32, in logits: [Float], top: Int) -> TokenLogprob {
        let maxLogit = logits.max() ?? 0
        var sum: Double = 0
        for l in logits { sum += Double(expf(l - maxLogit)) }
        let logZ = Float(log(sum)) + maxLogit
        let alternatives = top > 0 ? Sampler.partialTopK(logits, top).map {
            TokenLogprob.Alternative(id: Int32($0), logprob: logits[$0] - logZ)
        } : []
        return TokenLogprob(id: token, logprob: logits[Int(token)] - logZ, top: alternatives)
    }
}
