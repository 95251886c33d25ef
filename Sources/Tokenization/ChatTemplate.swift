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

    /// The prompt text for `messages`. To encode it, use `prompt(_:addGenerationPrompt:)` with
    /// `BPETokenizer.encode(_: ChatPrompt)`, which keeps message text from being read as control tokens.
    /// - Parameter addGenerationPrompt: end with the opening of an assistant turn, where the template has one.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        prompt(messages, addGenerationPrompt: addGenerationPrompt).text
    }

    /// The prompt for `messages`, with the template's own markup (role markers, separators) told apart from
    /// message text (contents and role names), so that only the markup may become control tokens.
    public func prompt(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> ChatPrompt {
        var p = ChatPrompt()
        switch self {
        case .chatml:
            for m in messages {
                p.append(.markup("<|im_start|>"), Self.role(m.role), .markup("\n"))
                p.append(.text(m.content), .markup("<|im_end|>\n"))
            }
            if addGenerationPrompt { p.markup("<|im_start|>assistant\n") }
        case .llama2, .mistral:
            // Every turn opens with "[INST] "; a system message goes inside the first one.
            var insideTurn = true
            p.markup("[INST] ")
            for m in messages {
                if !insideTurn {
                    insideTurn = true
                    p.markup("[INST] ")
                }
                switch m.role {
                case "system":
                    if self == .llama2 {
                        p.append(.markup("<<SYS>>\n"), .text(m.content), .markup("\n<</SYS>>\n\n"))
                    } else {
                        p.append(.text(m.content), .markup("\n"))
                    }
                case "user": p.append(.text(m.content), .markup(" [/INST]"))
                default:
                    p.append(.text(m.content), .markup("</s>"))
                    insideTurn = false
                }
            }
        case .mistralV7:
            for m in messages {
                switch m.role {
                case "system": p.append(.markup("[SYSTEM_PROMPT] "), .text(m.content), .markup("[/SYSTEM_PROMPT]"))
                case "user": p.append(.markup("[INST] "), .text(m.content), .markup("[/INST]"))
                default: p.append(.markup(" "), .text(m.content), .markup("</s>"))
                }
            }
        case .llama3:
            for m in messages {
                p.append(.markup("<|start_header_id|>"), Self.role(m.role), .markup("<|end_header_id|>\n\n"))
                p.append(.text(Self.trim(m.content)), .markup("<|eot_id|>"))
            }
            if addGenerationPrompt { p.markup("<|start_header_id|>assistant<|end_header_id|>\n\n") }
        case .gemma:
            var system = ""
            for m in messages {
                if m.role == "system" {
                    system += Self.trim(m.content)
                    continue
                }
                let role = m.role == "assistant" ? "model" : m.role
                p.append(.markup("<start_of_turn>"), Self.role(role), .markup("\n"))
                if !system.isEmpty && role != "model" {
                    p.append(.text(system), .markup("\n\n"))
                    system = ""
                }
                p.append(.text(Self.trim(m.content)), .markup("<end_of_turn>\n"))
            }
            if addGenerationPrompt { p.markup("<start_of_turn>model\n") }
        case .zephyr:
            for m in messages {
                p.append(.markup("<|"), Self.role(m.role), .markup("|>\n"), .text(m.content), .markup("<|endoftext|>\n"))
            }
            if addGenerationPrompt { p.markup("<|assistant|>\n") }
        case .phi3:
            for m in messages {
                p.append(.markup("<|"), Self.role(m.role), .markup("|>\n"), .text(m.content), .markup("<|end|>\n"))
            }
            if addGenerationPrompt { p.markup("<|assistant|>\n") }
        }
        return p
    }

    /// The roles a template writes as markup (in zephyr and phi3 the role is inside the marker token "<|user|>");
    /// any other role name, which may come from a request, is text.
    static let markupRoles: Set<String> = ["system", "user", "assistant", "model"]

    static func role(_ name: String) -> ChatPrompt.Piece {
        markupRoles.contains(name) ? .markup(name) : .text(name)
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

/// A rendered chat prompt: its text, and the UTF-8 byte ranges of that text that the template wrote itself.
/// Only those ranges may be read as control tokens (`BPETokenizer.encode(_: ChatPrompt)`); message contents and
/// role names are text, whatever they contain.
public struct ChatPrompt: Sendable, Equatable {
    public private(set) var text = ""
    /// Byte ranges of `text` written by the template, in order, not overlapping.
    public private(set) var markup: [Range<Int>] = []
    private var length = 0

    public init() {}

    /// Appends template markup (merged with markup just before it).
    public mutating func markup(_ s: String) {
        let n = s.utf8.count
        guard n > 0 else { return }
        if let last = markup.last, last.upperBound == length {
            markup[markup.count - 1] = last.lowerBound..<(length + n)
        } else {
            markup.append(length..<(length + n))
        }
        text += s
        length += n
    }

    /// Appends message text.
    public mutating func text(_ s: String) {
        text += s
        length += s.utf8.count
    }

    public enum Piece: Sendable {
        case markup(String), text(String)
    }

    /// Appends pieces in order.
    public mutating func append(_ pieces: Piece...) {
        for piece in pieces {
            switch piece {
            case .markup(let s): markup(s)
            case .text(let s): text(s)
            }
        }
    }
}
