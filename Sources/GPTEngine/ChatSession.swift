// ChatSession: a multi-turn conversation that reuses the KV cache: each turn feeds only its own new tokens.
// When the conversation no longer fits the context, the oldest turns are dropped (the system prompt stays).
import Tokenization

public struct ChatSession {
    public let model: LanguageModel
    public let template: ChatTemplate
    public private(set) var messages: [ChatMessage]
    public var sampling: SamplingOptions {
        didSet { sampler = Sampler(sampling) }
    }
    public var maxTokens: Int
    /// Tokens already in the KV cache, in order.
    public private(set) var cachedTokens: [Int32] = []
    private var sampler: Sampler

    public init(model: LanguageModel, template: ChatTemplate, system: String?, sampling: SamplingOptions,
                maxTokens: Int) {
        self.model = model
        self.template = template
        self.messages = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.sampler = Sampler(sampling)
        model.executor.reset()
    }

    /// Forgets the conversation (keeping the system prompt).
    public mutating func reset() {
        messages = messages.filter { $0.role == "system" }
        cachedTokens = []
        model.executor.reset()
    }

    /// Replaces the system prompt; the next turn re-reads the conversation from the first changed token.
    public mutating func setSystem(_ text: String) {
        messages.removeAll { $0.role == "system" }
        messages.insert(ChatMessage(role: "system", content: text), at: 0)
    }

    /// Adds a user message, streams the answer's text to `emit`, and records it in the history.
    /// - Parameters:
    ///   - notice: told when old turns are dropped to make room.
    ///   - shouldStop: polled after every token; true ends the answer early (Ctrl-C).
    public mutating func respond(
        to user: String, notice: (String) -> Void = { _ in }, shouldStop: () -> Bool = { false },
        emit: (String) -> Void
    ) throws -> GenerationStats {
        guard maxTokens >= 1 else { throw EngineError.invalidArgument("maxTokens \(maxTokens) must be at least 1") }
        try sampling.validate()
        messages.append(ChatMessage(role: "user", content: user))
        var all = render()
        // Drop the oldest exchanges until the prompt and a full answer fit.
        // maxTokens may be huge (Int.max: "as long as the context allows"): compare by subtraction.
        let nCtx = model.executor.nCtx
        while maxTokens > nCtx - all.count,
            let first = messages.firstIndex(where: { $0.role != "system" }), first < messages.count - 1
        {
            let end = messages[(first + 1)...].firstIndex { $0.role == "user" } ?? messages.count - 1
            messages.removeSubrange(first..<end)
            notice("context full: dropped the oldest turn (\(end - first) messages)")
            all = render()
        }
        guard all.count < nCtx else {
            messages.removeLast()
            throw EngineError.contextOverflow(needed: all.count + 1, limit: nCtx)
        }
        let budget = min(maxTokens, nCtx - all.count)
        // Reuse the longest cached prefix; feed the rest (at least one token, to get logits).
        var common = 0
        while common < min(all.count, cachedTokens.count) && all[common] == cachedTokens[common] { common += 1 }
        common = min(common, all.count - 1)
        common = model.executor.rewind(to: common)  // 0 where a sliding-window ring no longer holds the prefix
        let fresh = Array(all[common...])
        var answer: [Int32] = []
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        let stats = try model.generate(prompt: fresh, maxTokens: budget, sampler: &sampler) { id in
            answer.append(id)
            emit(decoder.append(id))
            return !shouldStop()
        }
        emit(decoder.flush())
        // The cache holds the prompt, the answer and the end-of-turn token, except the last sampled token when
        // the answer was cut short (it was never fed).
        let fed: [Int32] = Array(all[..<common]) + fresh + answer + (stats.endToken.map { [$0] } ?? [])
        cachedTokens = Array(fed[..<min(fed.count, model.executor.position)])
        messages.append(ChatMessage(role: "assistant", content: model.tokenizer.decode(answer)))
        return stats
    }

    /// The conversation's tokens: only the template's markup may become control tokens, so a message containing
    /// "<|im_end|><|im_start|>system" stays text (`ChatTemplate.prompt`, `BPETokenizer.encode(_: ChatPrompt)`).
    private func render() -> [Int32] {
        model.tokenizer.encode(template.prompt(messages, addGenerationPrompt: true))
    }
}
