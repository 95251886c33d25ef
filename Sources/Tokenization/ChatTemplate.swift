// ChatTemplate: the common chat prompt formats, recognised from a GGUF's `tokenizer.chat_template` Jinja text and
// rendered as llama.cpp's built-in `llm_chat_apply_template` renders them (src/llama-chat.cpp). Not a Jinja
// engine: a template's extras (SmolLM2's default system prompt, tool calls) are not reproduced.

/// One chat message.
public struct ChatMessage: Sendable, Equatable {
    /// "system", "user" or "assistant".
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage {
        ChatMessage(role: "assistant", content: content)
    }
}

/// A chat prompt format. Raw values are llama.cpp's template names, except `mistral`, which llama.cpp calls
/// "llama2" (no system block; the format it picks for Mistral-7B-Instruct v0.1/v0.2 templates).
public enum ChatTemplate: String, CaseIterable, Sendable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen, ...).
    case chatml
    /// `[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST]assistant</s>` (Llama 2 chat).
    case llama2 = "llama2-sys"
    /// `[INST] system\nuser [/INST]assistant</s>` (Mistral 7B Instruct v0.1/v0.2).
    case mistral
    /// `[SYSTEM_PROMPT] system[/SYSTEM_PROMPT][INST] user[/INST] assistant</s>`.
    case mistralV7 = "mistral-v7"
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` (contents trimmed).
    case llama3
    /// `<start_of_turn>user\ncontent<end_of_turn>\n`, "assistant" written "model", system merged into the next
    /// user turn (contents trimmed).
    case gemma
    /// `<|role|>\ncontent<|endoftext|>\n`.
    case zephyr
    /// `<|role|>\ncontent<|end|>\n`.
    case phi3

    /// Recognises the format of a GGUF `tokenizer.chat_template`, with llama.cpp's tests in llama.cpp's order.
    /// Returns nil for no template and for formats not listed here (including llama.cpp's other Mistral and
    /// Llama 2 variants: "mistral-v1", "mistral-v3", "llama2-sys-bos", "llama2-sys-strip", ...), rather than guess.
    public static func detect(_ jinja: String?) -> ChatTemplate? {
        guard let t = jinja, !t.isEmpty else { return nil }
        if t == "llama2" { return .mistral }  // llama.cpp's name for that format
        if let named = ChatTemplate(rawValue: t) { return named }
        func has(_ s: String) -> Bool { t.contains(s) }
        if has("<|im_start|>") {
            return has("<|im_sep|>") || has("<end_of_utterance>") ? nil : .chatml  // phi-4, SmolVLM differ
        }
        if t.hasPrefix("mistral") || has("[INST]") {
            if has("[SYSTEM_PROMPT]") { return .mistralV7 }
            if has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]") { return nil }  // mistral v1/v3
            if has("content.strip()") || has("bos_token + '[INST]") { return nil }  // llama2 strip/bos variants
            return has("<<SYS>>") ? .llama2 : .mistral
        }
        if has("<|assistant|>") && has("<|end|>") { return .phi3 }
        if has("[gMASK]<sop>") || (has("<|assistant|>") && has("<|user|>")) { return nil }  // glm, falcon3, exaone
        if has("<|{{ item['role'] }}|>") && has("<|begin_of_image|>") { return nil }
        if has("<|user|>") && has("<|endoftext|>") { return .zephyr }
        if has("bos_token + message['role']") { return nil }  // monarch
        if has("<start_of_turn>") { return .gemma }
        if has("<|start_header_id|>") && has("<|end_header_id|>") {
            // llama.cpp tests several other formats before llama3; none of them uses these markers.
            return .llama3
        }
        return nil
    }

    /// The prompt text for `messages` (encode it with `parseSpecial: true`).
    /// - Parameter addGenerationPrompt: end with the opening of an assistant turn, where the template has one.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var s = ""
        switch self {
        case .chatml:
            for m in messages { s += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { s += "<|im_start|>assistant\n" }
        case .llama2, .mistral:
            // Every turn opens with "[INST] "; a system message goes inside the first one.
            var insideTurn = true
            s += "[INST] "
            for m in messages {
                if !insideTurn {
                    insideTurn = true
                    s += "[INST] "
                }
                switch m.role {
                case "system": s += self == .llama2 ? "<<SYS>>\n\(m.content)\n<</SYS>>\n\n" : "\(m.content)\n"
                case "user": s += "\(m.content) [/INST]"
                default:
                    s += "\(m.content)</s>"
                    insideTurn = false
                }
            }
        case .mistralV7:
            for m in messages {
                switch m.role {
                case "system": s += "[SYSTEM_PROMPT] \(m.content)[/SYSTEM_PROMPT]"
                case "user": s += "[INST] \(m.content)[/INST]"
                default: s += " \(m.content)</s>"
                }
            }
        case .llama3:
            for m in messages {
                s += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(Self.trim(m.content))<|eot_id|>"
            }
            if addGenerationPrompt { s += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .gemma:
            var system = ""
            for m in messages {
                if m.role == "system" {
                    system += Self.trim(m.content)
                    continue
                }
                let role = m.role == "assistant" ? "model" : m.role
                s += "<start_of_turn>\(role)\n"
                if !system.isEmpty && role != "model" {
                    s += "\(system)\n\n"
                    system = ""
                }
                s += "\(Self.trim(m.content))<end_of_turn>\n"
            }
            if addGenerationPrompt { s += "<start_of_turn>model\n" }
        case .zephyr:
            for m in messages { s += "<|\(m.role)|>\n\(m.content)<|endoftext|>\n" }
            if addGenerationPrompt { s += "<|assistant|>\n" }
        case .phi3:
            for m in messages { s += "<|\(m.role)|>\n\(m.content)<|end|>\n" }
            if addGenerationPrompt { s += "<|assistant|>\n" }
        }
        return s
    }

    /// Strips ASCII whitespace (C `isspace`: space, \t, \n, \v, \f, \r) from both ends, as llama.cpp's `trim`.
    static func trim(_ text: String) -> String {
        let bytes = Array(text.utf8)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }),
            let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
