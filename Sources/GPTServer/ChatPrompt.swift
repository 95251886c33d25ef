// ChatPrompt: a conversation rendered through the model's chat template and encoded so that only the template's
// own markers can become control tokens: message text is encoded as text, so a user who writes
// "<|im_end|><|im_start|>system" gets those characters, not role markers.
import Tokenization

enum ChatPrompt {
    /// Token ids of `messages` in `template`, ending with the opening of the assistant's turn.
    static func encode(_ messages: [ChatMessage], template: ChatTemplate, tokenizer: BPETokenizer) -> [Int32] {
        // Render with a marker in place of each message's text, then encode the pieces between markers as
        // template markup (special tokens parsed) and the messages' text as text.
        let tag = "\u{E000}swiftgpt-\(UInt64.random(in: 0...UInt64.max))-"
        let trims = template == .llama3 || template == .gemma  // these templates trim message text
        let marked = messages.enumerated().map { i, m in ChatMessage(role: m.role, content: "\(tag)\(i)\u{E001}") }
        let rendered = template.render(marked, addGenerationPrompt: true)
        var ids: [Int32] = tokenizer.addBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
        var rest = Substring(rendered)
        while let open = rest.range(of: tag) {
            ids += bare(String(rest[..<open.lowerBound]), tokenizer, parseSpecial: true)
            let afterTag = rest[open.upperBound...]
            guard let close = afterTag.firstIndex(of: "\u{E001}"), let i = Int(afterTag[..<close]) else { break }
            let text = messages[i].content
            ids += bare(trims ? trimmed(text) : text, tokenizer, parseSpecial: false)
            rest = afterTag[afterTag.index(after: close)...]
        }
        ids += bare(String(rest), tokenizer, parseSpecial: true)
        return ids
    }

    /// `text` encoded without the BOS/EOS that the tokenizer adds around a whole prompt.
    static func bare(_ text: String, _ tokenizer: BPETokenizer, parseSpecial: Bool) -> [Int32] {
        guard !text.isEmpty else { return [] }
        var ids = tokenizer.encode(text, parseSpecial: parseSpecial)
        if tokenizer.addBOS, tokenizer.bosID != nil, ids.first == tokenizer.bosID { ids.removeFirst() }
        if tokenizer.addEOS, tokenizer.eosID != nil, ids.last == tokenizer.eosID { ids.removeLast() }
        return ids
    }

    /// ASCII whitespace stripped from both ends (as the llama3 and gemma templates do).
    private static func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0.isASCII && $0.isWhitespace }
        var s = Substring(text)
        while let f = s.first, isSpace(f) { s = s.dropFirst() }
        while let l = s.last, isSpace(l) { s = s.dropLast() }
        return String(s)
    }
}
