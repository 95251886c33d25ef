// gpt chat: a conversation through the model's chat template. With --prompt it answers one message; otherwise it
// reads messages from stdin (a prompt on a terminal, one message per line otherwise) and keeps the KV cache
// across turns. Ctrl-C stops the current answer; end of input ends the session.
import ArgumentParser
import Foundation
import SwiftGPT
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Set by SIGINT while an answer streams.
private let interrupted = Atomic<Bool>(false)

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with the model (system prompt, chat template, multi-turn, streaming).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var sampling: SamplingFlags

    @Option(name: [.short, .long], help: "System prompt.")
    var system: String = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    @Option(name: [.short, .long], help: "One user message: answer it and exit.")
    var prompt: String?
    @Option(name: [.short, .customLong("n-predict")], help: "Most tokens per answer.")
    var n: Int = 256
    @Option(name: .customLong("chat-template"),
            help: "Override the template: \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).")
    var chatTemplate: String?
    @Flag(help: "No timings or notices on stderr.")
    var quiet = false
    @Flag(help: "Write one JSON object per event (token, answer, stats) to stdout instead of plain text.")
    var json = false

    func validate() throws {
        if n < 1 { throw ValidationError("-n must be positive") }
        if let chatTemplate, ChatTemplate(rawValue: chatTemplate) == nil {
            throw ValidationError("unknown chat template '\(chatTemplate)'; choose one of "
                + ChatTemplate.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    static let help = """
        commands: /help, /reset (forget the conversation), /system TEXT (new system prompt),
                  /set temperature|top-k|top-p|min-p|repeat-penalty|presence-penalty|seed|n VALUE, /quit
        Ctrl-C stops the current answer; Ctrl-D (end of input) ends the chat.
        """

    func run() throws {
        let model = try compute.loadModel(modelOptions.path)
        guard let template = chatTemplate.flatMap(ChatTemplate.init(rawValue:)) ?? model.chatTemplate else {
            throw ValidationError("the model has no chat template SwiftGPT recognises; pass --chat-template NAME")
        }
        if !quiet && !json {
            Console.err(String(format: "loaded %@ in %.0f ms on %@ (%@ template, context %d)\n",
                               URLPath(modelOptions.path), model.loadSeconds * 1000, model.backend.name,
                               template.rawValue, model.executor.nCtx))
        }
        var session = ChatSession(model: model, template: template, system: system, sampling: sampling.options,
                                  maxTokens: n)
        if let prompt {
            try turn(&session, prompt)
            return
        }
        let terminal = isatty(0) != 0
        if terminal {
            signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
            Console.err(Chat.help + "\n")
        }
        while true {
            if terminal { Console.err("> ") }
            guard let line = readLine() else { break }
            let message = line.trimmingCharacters(in: .whitespaces)
            if message.isEmpty { continue }
            if message.hasPrefix("/") {
                if try !command(message, &session) { break }
                continue
            }
            try turn(&session, message)
        }
    }

    /// Runs one answer; returns after printing it and (unless quiet) its timings.
    private func turn(_ session: inout ChatSession, _ message: String) throws {
        interrupted.store(false, ordering: .relaxed)
        let notice: (String) -> Void = { text in
            if json { Console.out(JSONLine.encode(["event": "notice", "text": text])) }
            else if !quiet { Console.err("[\(text)]\n") }
        }
        var answer = ""
        let stats = try session.respond(to: message, notice: notice,
                                        shouldStop: { interrupted.load(ordering: .relaxed) }) { piece in
            answer += piece
            if json {
                if !piece.isEmpty { Console.out(JSONLine.encode(["event": "token", "text": piece])) }
            } else {
                Console.out(piece)
            }
        }
        if json {
            Console.out(JSONLine.encode(["event": "answer", "text": answer]))
            Console.out(JSONLine.encode([
                "event": "stats", "prompt_tokens": "\(stats.promptTokens)",
                "prompt_tokens_per_second": String(format: "%.2f", stats.promptTokensPerSecond),
                "generated_tokens": "\(stats.generatedTokens)",
                "generation_tokens_per_second": String(format: "%.2f", stats.generateTokensPerSecond),
            ]))
        } else {
            Console.out("\n")
            if interrupted.load(ordering: .relaxed) && !quiet { Console.err("[stopped]\n") }
            if !quiet { Console.err(formatStats(session.model, stats)) }
        }
    }

    /// Handles a /command; returns false to end the chat.
    private func command(_ line: String, _ session: inout ChatSession) throws -> Bool {
        let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
        switch parts[0] {
        case "/quit", "/exit": return false
        case "/help": Console.err(Chat.help + "\n")
        case "/reset":
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
            guard parts.count == 3, let value = Double(parts[2]) else {
                Console.err("usage: /set NAME VALUE (temperature, top-k, top-p, min-p, repeat-penalty, presence-penalty, seed, n)\n")
                return true
            }
            var o = session.sampling
            switch parts[1] {
            case "temperature", "temp": o.temperature = Float(max(0, value))
            case "top-k": o.topK = max(0, Int(value))
            case "top-p": o.topP = Float(min(1, max(0.01, value)))
            case "min-p": o.minP = Float(min(0.99, max(0, value)))
            case "repeat-penalty": o.repetitionPenalty = Float(max(0.01, value))
            case "presence-penalty": o.presencePenalty = Float(value)
            case "seed": o.seed = UInt64(max(0, value))
            case "n": session.maxTokens = max(1, Int(value))
            default:
                Console.err("unknown setting '\(parts[1])'\n")
                return true
            }
            session.sampling = o
            Console.err("[\(parts[1]) = \(parts[2])]\n")
        default:
            Console.err("unknown command \(parts[0]); /help lists them\n")
        }
        return true
    }
}

private func URLPath(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }

/// One JSON object per line, for scripts (`--json`).
enum JSONLine {
    static func encode(_ fields: [String: String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
