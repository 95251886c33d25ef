// ChoiceWriter: the OpenAI response objects for one request: a whole chat.completion / text_completion, or the
// chunks of its stream.
import Foundation
import Tokenization

struct ChoiceWriter: Sendable {
    let kind: OpenAIServer.Kind
    let id: String
    let model: String
    let created: Int
    let tokenizer: BPETokenizer

    private var object: String { kind == .chat ? "chat.completion" : "text_completion" }
    private var chunkObject: String { kind == .chat ? "chat.completion.chunk" : "text_completion" }

    private func envelope(_ object: String, _ choices: [[String: Any]]) -> [String: Any] {
        ["id": id, "object": object, "created": created, "model": model, "system_fingerprint": "swiftgpt",
         "choices": choices]
    }

    func usage(_ s: GenerationSummary) -> [String: Any] {
        ["prompt_tokens": s.promptTokens, "completion_tokens": s.completionTokens,
         "total_tokens": s.promptTokens + s.completionTokens,
         "prompt_tokens_details": ["cached_tokens": s.cachedTokens]]
    }

    private func finishReason(_ s: GenerationSummary) -> String {
        s.finishReason == .stop ? "stop" : "length"
    }

    // MARK: - Whole responses

    func complete(_ text: String, tokens: [Int32], logprobs: [TokenLogprob], summary: GenerationSummary,
                  topLogprobs: Bool) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "finish_reason": finishReason(summary),
                                     "logprobs": topLogprobs ? logprobsObject(logprobs) : NSNull()]
        if kind == .chat {
            choice["message"] = ["role": "assistant", "content": text]
        } else {
            choice["text"] = text
        }
        var out = envelope(object, [choice])
        out["usage"] = usage(summary)
        return out
    }

    // MARK: - Streams

    /// The first chunk of a chat stream (the role), nil for completions.
    func streamStart() -> [String: Any]? {
        guard kind == .chat else { return nil }
        return envelope(chunkObject, [["index": 0, "delta": ["role": "assistant", "content": ""],
                                       "logprobs": NSNull(), "finish_reason": NSNull()]])
    }

    func streamDelta(_ text: String, tokens: [Int32], logprobs: [TokenLogprob]) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "finish_reason": NSNull(),
                                     "logprobs": logprobs.isEmpty ? NSNull() : logprobsObject(logprobs)]
        if kind == .chat { choice["delta"] = ["content": text] } else { choice["text"] = text }
        return envelope(chunkObject, [choice])
    }

    func streamEnd(_ summary: GenerationSummary) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "finish_reason": finishReason(summary), "logprobs": NSNull()]
        if kind == .chat { choice["delta"] = [String: Any]() } else { choice["text"] = "" }
        return envelope(chunkObject, [choice])
    }

    /// The last chunk when `stream_options.include_usage`: no choices, the usage.
    func streamUsage(_ summary: GenerationSummary) -> [String: Any] {
        var out = envelope(chunkObject, [])
        out["usage"] = usage(summary)
        return out
    }

    // MARK: - Log-probabilities

    private func logprobsObject(_ logprobs: [TokenLogprob]) -> [String: Any] {
        func piece(_ id: Int32) -> String { tokenizer.decode([id], renderSpecial: false) }
        func bytes(_ id: Int32) -> [Int] { tokenizer.decodeBytes([id], renderSpecial: false).map(Int.init) }
        if kind == .chat {
            return ["content": logprobs.map { lp -> [String: Any] in
                ["token": piece(lp.id), "logprob": Double(lp.logprob), "bytes": bytes(lp.id),
                 "top_logprobs": lp.top.map { ["token": piece($0.id), "logprob": Double($0.logprob), "bytes": bytes($0.id)] }]
            }]
        }
        // completions: parallel arrays, top_logprobs as {token: logprob}
        var offset = 0
        var offsets: [Int] = []
        for lp in logprobs {
            offsets.append(offset)
            offset += piece(lp.id).count
        }
        return ["tokens": logprobs.map { piece($0.id) }, "token_logprobs": logprobs.map { Double($0.logprob) },
                "top_logprobs": logprobs.map { lp in
                    Dictionary(lp.top.map { (piece($0.id), Double($0.logprob)) }, uniquingKeysWith: { a, _ in a })
                },
                "text_offset": offsets]
    }
}
