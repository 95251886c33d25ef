// gpt chat: a conversation through the model's chat template. With a message (argument or --prompt) it answers
// it and exits; otherwise it reads messages from stdin and keeps the KV cache across turns: on a terminal through
// a line editor (history, Ctrl-C clears the line, twice on an empty line exits, Ctrl-D exits), otherwise one
// message per line. Ctrl-C while an answer streams stops the answer.
import ArgumentParser
import Foundation
import SwiftGPT

#if canImport(Glibc)
    import Glibc
#endif

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with the model (system prompt, chat template, multi-turn, streaming).",
        discussion: """
            With a MESSAGE (or --prompt) it answers once and exits. Otherwise it reads messages: on a terminal \
            with line editing and history (\(LineEditor.defaultHistoryPath ?? "~/.local/state/swiftgpt/history")), \
            from a pipe one message per line. A line ending in \\ continues on the next line; \"\"\" opens a block \
            that ends with \"\"\".
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var sampling: SamplingFlags

    @Argument(help: "One user message: answer it and exit (same as --prompt).")
    var message: String?
    @Option(name: [.short, .long], help: ArgumentHelp(
        "System prompt.", discussion: "Default: the one the model's chat template supplies, if any."))
    var system: String?
    @Option(name: [.short, .long], help: "One user message: answer it and exit.")
    var prompt: String?
    @Option(name: [.short, .customLong("n-predict")], parsing: .unconditional,
            help: "Most tokens per answer; -1 = as many as the context holds.")
    var n: Int = 256
    @Option(name: .customLong("chat-template"),
            help: "Override the template: \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).")
    var chatTemplate: String?
    @Flag(help: "No timings or notices on stderr.")
    var quiet = false
    @Flag(help: "Write one JSON object per event (token, answer, stats, notice) to stdout instead of plain text.")
    var json = false

    func validate() throws {
        try TokenLimit.check(n, allowZero: false)
        if message != nil && prompt != nil { throw ValidationError("give the message once: as an argument or --prompt") }
        if let chatTemplate, ChatTemplate(rawValue: chatTemplate) == nil {
            throw ValidationError("unknown chat template '\(chatTemplate)'; choose one of "
                + ChatTemplate.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    static let help = """
        commands: /help, /reset (forget the conversation), /system TEXT (new system prompt), /quit,
                  /set (show the settings), /set NAME VALUE (NAME: \(SamplingSetting.allCases.map(\.rawValue).joined(separator: " ")))
        A line ending in \\ continues on the next line; \"\"\" starts a block that ends with \"\"\".
        Ctrl-C stops an answer or clears the line (twice on an empty line: exit); Ctrl-D exits.
        """

    func run() throws {
        let model = try compute.loadModel(modelOptions.path)
        guard let template = chatTemplate.flatMap(ChatTemplate.init(rawValue:)) ?? model.chatTemplate else {
            throw ValidationError("the model has no chat template SwiftGPT recognises; pass --chat-template NAME, "
                + "or use `gpt generate` for plain completion")
        }
        let options = sampling.options
        if !quiet && !json {
            Console.err(String(format: "loaded %@ in %.0f ms on %@ (%@ template, context %d, seed %llu)\n",
                               URL(fileURLWithPath: modelOptions.path).lastPathComponent, model.loadSeconds * 1000,
                               model.backend.name, template.rawValue, model.executor.nCtx, options.seed))
        }
        let systemPrompt = system ?? Chat.templateDefaultSystem(model.file?.value("tokenizer.chat_template")?.string)
        var session = ChatSession(model: model, template: template, system: systemPrompt, sampling: options,
                                  maxTokens: n < 0 ? model.executor.nCtx : n)
        if let one = message ?? prompt {
            try turn(&session, one)
        } else if isatty(0) != 0 {
            try interactive(&session)
        } else {
            var pending = MultiLineInput()
            while let line = readLine() {
                if pending.isEmpty {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if trimmed.isEmpty { continue }
                    if trimmed.hasPrefix("/") {
                        if try !command(trimmed, &session) { break }
                        continue
                    }
                }
                if let message = pending.add(line) { try turn(&session, message) }
            }
        }
    }

    /// The terminal session: a line editor with history; Ctrl-C clears, twice on an empty line exits.
    private func interactive(_ session: inout ChatSession) throws {
        signal(SIGINT) { _ in interruptRequested.store(true, ordering: .relaxed) }
        // A parent may have started us with SIGINT blocked; Ctrl-C must reach the handler.
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &interrupt, nil)
        let editor = LineEditor(historyPath: LineEditor.defaultHistoryPath)
        defer { editor.close() }
        Console.err(Chat.help + "\n")
        var pending = MultiLineInput()
        var emptyInterrupts = 0
        loop: while true {
            switch editor.read(prompt: pending.isEmpty ? "> " : ". ") {
            case .endOfInput:
                break loop  // readline ended the prompt line with a newline
            case .interrupt(let hadText):
                if hadText || !pending.isEmpty {
                    pending.clear()
                    emptyInterrupts = 0
                } else {
                    emptyInterrupts += 1
                    if emptyInterrupts >= 2 { break loop }
                    Console.err("(press Ctrl-C again to exit, or Ctrl-D)\n")
                }
            case .line(let line):
                emptyInterrupts = 0
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if pending.isEmpty {
                    if trimmed.isEmpty { continue }
                    if trimmed.hasPrefix("/") {
                        if try !command(trimmed, &session) { break loop }
                        continue
                    }
                }
                if let message = pending.add(line) { try turn(&session, message) }
            }
        }
    }

    /// Runs one answer; returns after printing it and (unless quiet) its statistics.
    private func turn(_ session: inout ChatSession, _ message: String) throws {
        interruptRequested.store(false, ordering: .relaxed)
        let notice: (String) -> Void = { text in
            if json { Console.out(JSONLine.encode([("event", "notice"), ("text", text)])) }
            else if !quiet { Console.err("[\(text)]\n") }
        }
        var answer = ""
        var stopped = false
        let stats = try session.respond(to: message, notice: notice,
                                        shouldStop: {
                                            if interruptRequested.exchange(false, ordering: .relaxed) { stopped = true }
                                            return stopped
                                        }) { piece in
            answer += piece
            if json {
                if !piece.isEmpty { Console.out(JSONLine.encode([("event", "token"), ("text", piece)])) }
            } else {
                Console.out(piece)
            }
        }
        let report = GenerationReport(stats: stats, seed: session.sampling.seed,
                                      finish: FinishReason(stats, interrupted: stopped))
        let cutOff = report.cutOffNotice(limit: session.maxTokens,
                                          contextFull: stats.generatedTokens < session.maxTokens)
        if json {
            Console.out(JSONLine.encode([("event", "answer"), ("text", answer),
                                         ("finish_reason", report.finish.rawValue)]))
            Console.out(JSONLine.encode([("event", "stats")] + report.fields))
            if let cutOff { notice(cutOff) }
        } else {
            Console.out("\n")
            if !quiet {
                if stopped { Console.err("[stopped]\n") }
                Console.err(report.text)
                if let cutOff { notice(cutOff) }
            }
        }
    }

    /// Handles a /command; returns false to end the chat.
    private func command(_ line: String, _ session: inout ChatSession) throws -> Bool {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch parts[0] {
        case "/quit", "/exit", "/bye": return false
        case "/help", "/?": Console.err(Chat.help + "\n")
        case "/reset", "/clear":
            session.reset()
            Console.err("[conversation reset]\n")
        case "/system":
            let text = line.dropFirst("/system".count).trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else {
                Console.err("usage: /system TEXT\n")
                return true
            }
            session.setSystem(text)
            Console.err("[system prompt set]\n")
        case "/set":
            Console.err(Chat.set(Array(parts.dropFirst()), &session) + "\n")
        default:
            Console.err("unknown command \(parts[0]); /help lists them\n")
        }
        return true
    }

    /// `/set` shows the settings; `/set NAME VALUE` checks VALUE against NAME's range and applies it. Returns
    /// what to print.
    static func set(_ arguments: [String], _ session: inout ChatSession) -> String {
        if arguments.isEmpty {
            return SamplingSetting.allCases.map {
                "\($0.rawValue) \($0.current(session.sampling, maxTokens: session.maxTokens))"
            }.joined(separator: "\n")
        }
        let names = SamplingSetting.allCases.map(\.rawValue).joined(separator: ", ")
        guard arguments.count == 2 else { return "usage: /set NAME VALUE (\(names)); /set alone shows them" }
        guard let setting = SamplingSetting(name: arguments[0]) else {
            return "unknown setting '\(arguments[0])'; settings: \(names)"
        }
        guard let value = Double(arguments[1]) else {
            return "\(setting.rawValue) takes a number, not '\(arguments[1])'"
        }
        var o = session.sampling
        var maxTokens = session.maxTokens
        do {
            try setting.apply(value, to: &o, maxTokens: &maxTokens, label: setting.rawValue)
        } catch {
            return "[\((error as? ValidationError)?.message ?? "\(error)"); \(setting.rawValue) stays "
                + "\(setting.current(session.sampling, maxTokens: session.maxTokens))]"
        }
        session.sampling = o
        session.maxTokens = maxTokens
        return "[\(setting.rawValue) = \(setting.current(o, maxTokens: maxTokens))]"
    }

    /// The system prompt a chat template supplies when the conversation has none (SmolLM2's ChatML template
    /// writes one as a literal `<|im_start|>system\n...<|im_end|>`). Nil when the template has no such literal.
    static func templateDefaultSystem(_ jinja: String?) -> String? {
        guard let jinja, let start = jinja.range(of: "<|im_start|>system\n"),
            let end = jinja.range(of: "<|im_end|>", range: start.upperBound..<jinja.endIndex)
        else { return nil }
        let text = String(jinja[start.upperBound..<end.lowerBound])
        // Only a literal: no Jinja expression or string concatenation inside.
        guard !text.isEmpty, !text.contains("{"), !text.contains("'"), !text.contains("\"") else { return nil }
        return text
    }
}
