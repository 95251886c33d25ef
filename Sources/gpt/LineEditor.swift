// LineEditor: the prompt of `gpt chat` on a terminal, on GNU readline (line editing, Up/Down history kept in
// ${XDG_STATE_HOME:-~/.local/state}/swiftgpt/history). Readline's callback interface runs under our own poll()
// loop so that Ctrl-C (SIGINT, caught by the chat's handler) can clear the line instead of killing the process.
// Not used when stdin is not a terminal: scripted chats read plain lines.
import CReadline
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Set by the chat's SIGINT handler; the editor and the answer loop both consume it.
let interruptRequested = Atomic<Bool>(false)

/// What one call to `LineEditor.read` returned.
enum LineEvent: Equatable {
    case line(String)
    /// Ctrl-C; `hadText` says whether it cleared a partly typed line.
    case interrupt(hadText: Bool)
    /// Ctrl-D on an empty line (or end of input).
    case endOfInput
}

/// Readline's line handler is a C function pointer: the line it receives is passed back through this global,
/// which only the main thread touches (readline itself is single-threaded).
nonisolated(unsafe) private var acceptedLine: LineEvent?

private let lineHandler: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { text in
    if let text {
        acceptedLine = .line(String(cString: text))
        free(text)
    } else {
        acceptedLine = .endOfInput
    }
    rl_callback_handler_remove()  // no new prompt until the caller asks for one
}

final class LineEditor {
    let historyPath: String?
    static let historyLimit: Int32 = 1000

    /// - Parameters:
    ///   - historyPath: where history is read from and appended to (nil: no history file).
    init(historyPath: String?) {
        self.historyPath = historyPath
        gpt_readline_setup()  // SIGINT stays ours (it interrupts poll() below); the prompt goes to stderr
        using_history()
        stifle_history(LineEditor.historyLimit)
        if let historyPath {
            try? FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: historyPath).deletingLastPathComponent().path,
                withIntermediateDirectories: true)
            _ = read_history(historyPath)
        }
    }

    /// `${XDG_STATE_HOME:-~/.local/state}/swiftgpt/history`.
    static var defaultHistoryPath: String? {
        let env = ProcessInfo.processInfo.environment
        if let state = env["XDG_STATE_HOME"], !state.isEmpty { return state + "/swiftgpt/history" }
        guard let home = env["HOME"], !home.isEmpty else { return nil }
        return home + "/.local/state/swiftgpt/history"
    }

    /// Shows `prompt` and edits one line; returns it, a Ctrl-C, or end of input.
    func read(prompt: String) -> LineEvent {
        acceptedLine = nil
        // A Ctrl-C that came while no line was being edited (an answer's last output still printing) is not dropped:
        // it counts here, on the new, empty line (a clean-clone CI run lost one in that gap: the tmux chat test).
        rl_callback_handler_install(prompt, lineHandler)
        while acceptedLine == nil {
            if interruptRequested.exchange(false, ordering: .relaxed) {
                let hadText = gpt_readline_length() > 0
                rl_replace_line("", 0)
                rl_callback_sigcleanup()
                rl_callback_handler_remove()  // restores the terminal
                gpt_readline_newline()
                return .interrupt(hadText: hadText)
            }
            var fd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fd, 1, -1)
            if ready < 0 { continue }  // EINTR: a signal (SIGINT is handled at the top of the loop)
            if fd.revents & Int16(POLLIN | POLLHUP) != 0 { rl_callback_read_char() }
            if fd.revents & Int16(POLLNVAL | POLLERR) != 0 && acceptedLine == nil {
                rl_callback_handler_remove()
                gpt_readline_newline()
                return .endOfInput
            }
        }
        let event = acceptedLine!
        if case .line(let text) = event, !text.trimmingCharacters(in: .whitespaces).isEmpty {
            add_history(text)
            if let historyPath {
                if !FileManager.default.fileExists(atPath: historyPath) {
                    _ = write_history(historyPath)
                } else {
                    _ = append_history(1, historyPath)
                }
            }
        }
        return event
    }

    /// Keeps the history file at most `historyLimit` lines.
    func close() {
        if let historyPath { _ = history_truncate_file(historyPath, LineEditor.historyLimit) }
    }
}

/// Joins continued lines into one message, as ollama does: a line ending in a backslash continues on the next
/// line, and a line starting with `"""` opens a block that runs until a line ending in `"""`.
struct MultiLineInput {
    private(set) var lines: [String] = []
    private var inBlock = false

    var isEmpty: Bool { lines.isEmpty && !inBlock }

    /// Adds a physical line; returns the complete message once it is complete, nil while more lines are needed.
    mutating func add(_ line: String) -> String? {
        if inBlock {
            if line.hasSuffix("\"\"\"") {
                lines.append(String(line.dropLast(3)))
                return finish()
            }
            lines.append(line)
            return nil
        }
        if line.hasPrefix("\"\"\"") {
            let rest = String(line.dropFirst(3))
            if rest.count >= 3 && rest.hasSuffix("\"\"\"") { return String(rest.dropLast(3)) }  // """one line"""
            inBlock = true
            if !rest.isEmpty { lines.append(rest) }
            return nil
        }
        if line.hasSuffix("\\") {
            lines.append(String(line.dropLast()))
            return nil
        }
        lines.append(line)
        return finish()
    }

    mutating func clear() {
        lines = []
        inBlock = false
    }

    private mutating func finish() -> String {
        defer { clear() }
        return lines.joined(separator: "\n")
    }
}
