// The OpenAI request bodies SwiftGPT reads (chat completions and completions), decoded strictly: a field of the
// wrong type or out of range is a 400 naming it. Unknown fields are ignored, as OpenAI's own server does.
import GPTEngine

/// A string or an array of strings (`stop`, `prompt`).
struct StringOrList: Decodable {
    var values: [String]

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            values = [s]
        } else {
            values = try c.decode([String].self)
        }
    }
}

/// A message's content: a string, or an array of parts of which only {"type": "text", "text": ...} is read.
struct MessageContent: Decodable {
    var text: String

    struct Part: Decodable {
        var type: String
        var text: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            text = s
            return
        }
        let parts = try c.decode([Part].self)
        text = ""
        for p in parts {
            guard p.type == "text", let t = p.text else {
                throw APIError.invalid("content part of type '\(p.type)' is not supported (text only)")
            }
            text += t
        }
    }
}

struct ChatMessageBody: Decodable {
    var role: String
    var content: MessageContent?
}

struct StreamOptions: Decodable {
    var include_usage: Bool?
}

/// Fields chat completions and completions share.
struct CommonParameters: Decodable {
    var model: String?
    var stream: Bool?
    var stream_options: StreamOptions?
    var max_tokens: Int?
    var max_completion_tokens: Int?
    var temperature: Double?
    var top_p: Double?
    var seed: Int64?
    var stop: StringOrList?
    var presence_penalty: Double?
    var frequency_penalty: Double?
    var n: Int?
    // llama-server's extensions
    var top_k: Int?
    var min_p: Double?
    var repeat_penalty: Double?
    var ignore_eos: Bool?

    /// The scheduler's parameters, range-checked; `topLogprobs` from the endpoint's own logprobs fields.
    func generation(topLogprobs: Int?) throws -> GenerationParameters {
        func check(_ v: Double?, _ name: String, _ range: ClosedRange<Double>) throws -> Float? {
            guard let v else { return nil }
            guard v.isFinite, range.contains(v) else {
                throw APIError.invalid("'\(name)' must be between \(range.lowerBound) and \(range.upperBound)",
                                       param: name)
            }
            return Float(v)
        }
        if let n, n != 1 { throw APIError.invalid("only n = 1 is supported", param: "n") }
        let maxTokens = max_completion_tokens ?? max_tokens
        if let maxTokens, maxTokens < 1 {
            throw APIError.invalid("'max_tokens' must be at least 1", param: "max_tokens")
        }
        var o = SamplingOptions()
        // llama-server's defaults where OpenAI's request leaves a value out
        o.temperature = try check(temperature, "temperature", 0...2) ?? 0.8
        o.topP = try check(top_p, "top_p", 0...1).map { max($0, 1e-6) } ?? 0.95
        o.minP = try check(min_p, "min_p", 0...1) ?? 0.05
        o.presencePenalty = try check(presence_penalty, "presence_penalty", -2...2) ?? 0
        o.frequencyPenalty = try check(frequency_penalty, "frequency_penalty", -2...2) ?? 0
        o.repetitionPenalty = try check(repeat_penalty, "repeat_penalty", 0.01...10) ?? 1
        if let top_k {
            guard top_k >= 0 else { throw APIError.invalid("'top_k' must be >= 0", param: "top_k") }
            o.topK = top_k
        }
        // OpenAI's penalties count every generated token, not a recent window
        o.penaltyWindow = maxTokens ?? Int(Int32.max)
        o.seed = seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max)
        var p = GenerationParameters(maxTokens: maxTokens, sampling: o)
        let stops = stop?.values ?? []
        guard stops.count <= 4 else { throw APIError.invalid("at most 4 stop sequences", param: "stop") }
        p.stop = stops
        p.topLogprobs = topLogprobs
        p.ignoreEndOfGeneration = ignore_eos ?? false
        return p
    }
}

struct ChatCompletionRequest: Decodable {
    var messages: [ChatMessageBody]
    var logprobs: Bool?
    var top_logprobs: Int?

    func topLogprobs() throws -> Int? {
        if let top_logprobs, !(0...20).contains(top_logprobs) {
            throw APIError.invalid("'top_logprobs' must be between 0 and 20", param: "top_logprobs")
        }
        guard logprobs == true else {
            if top_logprobs != nil {
                throw APIError.invalid("'top_logprobs' requires 'logprobs': true", param: "top_logprobs")
            }
            return nil
        }
        return top_logprobs ?? 0
    }
}

/// `prompt`: a string, an array of one string, or an array of token ids.
struct CompletionPrompt: Decodable {
    enum Value {
        case text(String)
        case tokens([Int32])
    }
    var value: Value

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            value = .text(s)
        } else if let ids = try? c.decode([Int32].self) {
            value = .tokens(ids)
        } else if let list = try? c.decode([String].self) {
            guard list.count == 1 else { throw APIError.invalid("only one prompt per request", param: "prompt") }
            value = .text(list[0])
        } else {
            throw APIError.invalid("'prompt' must be a string or an array of token ids", param: "prompt")
        }
    }
}

struct CompletionRequest: Decodable {
    var prompt: CompletionPrompt
    var logprobs: Int?
    var echo: Bool?

    func topLogprobs() throws -> Int? {
        guard let logprobs else { return nil }
        guard (0...5).contains(logprobs) else {
            throw APIError.invalid("'logprobs' must be between 0 and 5", param: "logprobs")
        }
        return logprobs
    }
}

struct TokenizeRequest: Decodable {
    var content: String
    var add_special: Bool?
    var parse_special: Bool?
    var with_pieces: Bool?
}

struct DetokenizeRequest: Decodable {
    var tokens: [Int32]
}
