// ChatSession: a multi-turn conversation that reuses the KV cache: each turn feeds only its own new tokens.
import Tokenization

public struct ChatSession {
    public let model: LanguageModel
    public let template: ChatTemplate
    public private(set) var messages: [ChatMessage]
    public var sampling: SamplingOptions
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

    /// Adds a user message, streams the answer's text to `emit`, and records it in the history.
    public mutating func respond(to user: String, emit: (String) -> Void) throws -> GenerationStats {
        messages.append(ChatMessage(role: "user", content: user))
        let rendered = template.render(messages, addGenerationPrompt: true)
        let all = model.tokenizer.encode(rendered, parseSpecial: true)
        // Reuse the longest cached prefix; feed the rest.
        var common = 0
        while common < min(all.count, cachedTokens.count) && all[common] == cachedTokens[common] { common += 1 }
        if common == all.count { common -= 1 }  // at least one token must be fed to get logits
        model.executor.rewind(to: common)
        cachedTokens = Array(cachedTokens.prefix(common))
        let fresh = Array(all[common...])
        var answer: [Int32] = []
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        let stats = try model.generate(prompt: fresh, maxTokens: maxTokens, sampler: &sampler) { id in
            answer.append(id)
            emit(decoder.append(id))
            return true
        }
        emit(decoder.flush())
        // The cache holds the prompt, the answer and the end-of-turn token, except the last sampled token when
        // the answer hit maxTokens (it was never fed).
        cachedTokens = Array((cachedTokens + fresh + answer + (stats.endToken.map { [$0] } ?? []))
            .prefix(model.executor.position))
        messages.append(ChatMessage(role: "assistant", content: model.tokenizer.decode(answer)))
        return stats
    }
}
