// The interactive chat as a person uses it, in a real terminal: tmux runs `gpt chat`, the test types, presses Up,
// Ctrl-C and Ctrl-D, and reads the screen. Also `gpt attention` on a terminal with and without NO_COLOR.
// Needs tmux (scripts/install-deps.sh installs it); skipped with that reason when it is absent.
import Foundation
import Testing

/// A tmux server of our own (its own socket, so a user's sessions are never touched) running one command in a
/// 120 × 40 window.
final class TmuxSession {
    static let tmux: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does not expose.
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    nonisolated(unsafe) static let addCloseFrom: AddCloseFrom? = dlsym(
        UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np"
    ).map { unsafeBitCast($0, to: AddCloseFrom.self) }

    let socket = "gpt-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    init(_ command: String) throws {
        try tmux(["new-session", "-d", "-s", "t", "-x", "120", "-y", "40", command])
    }

    deinit { try? tmux(["kill-server"]) }

    /// Runs tmux with posix_spawn, every descriptor above stderr closed in the child: the first command forks
    /// the tmux server, which must not inherit (and hold open forever) a pipe of this process or of a test
    /// running beside it. (Foundation's Process waits for such descriptors to close, so it is not used here.)
    @discardableResult
    func tmux(_ arguments: [String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("\(socket)-\(UInt32.random(in: 0...UInt32.max))").path
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard let closeFrom = TmuxSession.addCloseFrom else { throw POSIXError(.ENOSYS) }
        _ = closeFrom(&actions, 3)
        let argv = [TmuxSession.tmux!, "-L", socket, "-f", "/dev/null"] + arguments
        let env = ProcessInfo.processInfo.environment.filter { $0.key != "TMUX" }.map { "\($0.key)=\($0.value)" }
        var cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        // a test thread may block signals (dispatch workers do), and a spawned child inherits that mask: the
        // terminal's Ctrl-C would never reach gpt. Start tmux with nothing blocked and default dispositions.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgv, &cEnv)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) < 0 && errno == EINTR {}
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    /// Keys as tmux names them: text, "Enter", "Up", "C-c", "C-d".
    func send(_ keys: String...) throws { try tmux(["send-keys", "-t", "t"] + keys) }

    /// The visible screen, trailing blank lines dropped (with `escapes`, colour codes kept).
    func screen(escapes: Bool = false) throws -> String {
        try tmux(["capture-pane", "-p", "-t", "t"] + (escapes ? ["-e"] : []))
            .trimmingCharacters(in: .newlines)
    }

    /// Waits (up to `seconds`) until the screen satisfies `condition`; returns the last screen either way.
    @discardableResult
    func wait(_ seconds: Double = 60, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var s = try screen()
        while !condition(s) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            s = try screen()
        }
        return s
    }
}

private func occurrences(_ text: String, _ s: String) -> Int { s.components(separatedBy: text).count - 1 }

@Suite("gpt chat in a terminal (tmux)",
       .enabled(if: GPTBinary.path != nil && GPTBinary.model != nil, "gpt or the default model is missing: run `make test`"),
       .enabled(if: TmuxSession.tmux != nil, "tmux is not installed: apt-get install tmux (scripts/install-deps.sh)"),
       .enabled(if: TmuxSession.addCloseFrom != nil, "glibc older than 2.34: no posix_spawn_file_actions_addclosefrom_np"))
struct ChatTerminalTests {
    /// A fresh state folder, so the history file is the test's own.
    static func stateFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func chat(_ state: URL) -> String {
        "env XDG_STATE_HOME=\(state.path) TERM=xterm \(GPTBinary.path!) chat -n 4 --temperature 0 --quiet; "
            + "echo EXITED-$?; sleep 60"
    }

    static let ready = "Ctrl-D exits."

    @Test("Up recalls history (kept in the state folder), Ctrl-C clears the line, Ctrl-D exits on a new line")
    func editingHistoryAndExit() throws {
        let state = try Self.stateFolder()
        defer { try? FileManager.default.removeItem(at: state) }
        let t = try TmuxSession(Self.chat(state))
        var s = try t.wait { $0.contains(Self.ready) && $0.hasSuffix(">") }
        #expect(s.contains(Self.ready), "no prompt:\n\(s)")

        try t.send("/set top-k 7", "Enter")
        s = try t.wait(10) { $0.contains("[top-k = 7]") }
        #expect(s.contains("[top-k = 7]"), "\(s)")

        // Up brings the last line back (an escape sequence would print as ^[[A)
        try t.send("Up")
        s = try t.wait(5) { occurrences("> /set top-k 7", $0) == 2 }
        #expect(occurrences("> /set top-k 7", s) == 2 && !s.contains("^[[A"), "Up did not recall:\n\(s)")

        // Ctrl-C clears the recalled line: Enter then sends nothing (no second "[top-k = 7]")
        try t.send("C-c")
        try t.send("Enter")
        try t.send("/set", "Enter")
        s = try t.wait(10) { $0.contains("top-p 0.95") }
        #expect(occurrences("[top-k = 7]", s) == 1, "Ctrl-C did not clear the line:\n\(s)")
        #expect(s.contains("top-k 7"), "/set does not show the settings:\n\(s)")

        // one Ctrl-C on an empty line only warns
        try t.send("C-c")
        s = try t.wait(5) { $0.contains("press Ctrl-C again") }
        #expect(s.contains("press Ctrl-C again") && !s.contains("EXITED"), "\(s)")

        // a multi-line message (trailing backslash) is one turn with one answer
        try t.send("Say \\", "Enter")
        try t.send("hello.", "Enter")
        s = try t.wait(30) { $0.contains(". hello.") && $0.hasSuffix(">") }
        #expect(s.contains(". hello."), "no continuation prompt:\n\(s)")

        // Ctrl-D ends the chat, leaving the shell on a line of its own
        try t.send("C-d")
        s = try t.wait(10) { $0.contains("EXITED-") }
        #expect(s.contains("\n>\nEXITED-0") || s.contains("\n> \nEXITED-0"), "Ctrl-D:\n\(s)")

        let history = try String(contentsOf: state.appendingPathComponent("swiftgpt/history"), encoding: .utf8)
        #expect(history.contains("/set top-k 7"), "history file: \(history)")
    }

    @Test("Ctrl-C twice on an empty prompt exits; history from an earlier session is there")
    func doubleInterruptExits() throws {
        let state = try Self.stateFolder()
        defer { try? FileManager.default.removeItem(at: state) }
        let folder = state.appendingPathComponent("swiftgpt")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "/set min-p 0.1\n".write(to: folder.appendingPathComponent("history"), atomically: true, encoding: .utf8)
        let t = try TmuxSession(Self.chat(state))
        var s = try t.wait { $0.contains(Self.ready) && $0.hasSuffix(">") }
        try t.send("Up")
        s = try t.wait(5) { $0.contains("> /set min-p 0.1") }
        #expect(s.contains("> /set min-p 0.1"), "the earlier session's history is missing:\n\(s)")
        try t.send("C-c")
        try t.send("C-c")
        try t.send("C-c")
        s = try t.wait(10) { $0.contains("EXITED-") }
        #expect(s.contains("EXITED-0"), "two Ctrl-C on an empty line did not exit:\n\(s)")
    }

    @Test("attention on a terminal is coloured, and NO_COLOR turns the colours off")
    func attentionColours() throws {
        let command = "\(GPTBinary.path!) attention --layer 0 --head 2; echo DONE; sleep 60"
        let coloured = try TmuxSession("env -u NO_COLOR TERM=xterm-256color " + command)
        try coloured.wait { $0.contains("DONE") }
        #expect(try coloured.screen(escapes: true).contains("\u{1B}["), "no colours on a terminal")
        let plain = try TmuxSession("env NO_COLOR=1 TERM=xterm-256color " + command)
        let s = try plain.wait { $0.contains("DONE") }
        #expect(s.contains("█"), "\(s)")
        #expect(!(try plain.screen(escapes: true).contains("\u{1B}[48")), "NO_COLOR ignored")
    }
}
