// Every fenced `gpt` example line of README.md runs as written, against the default model, with a small -n.
//
// How a line is chosen and run:
// - Lines inside ``` fences that invoke `$gpt` (or `gpt`) are examples; other lines (`make run`, assignments) are not.
// - The line runs in bash from the repository root with `gpt` set to the built binary, as the README's
//   `gpt=.build/release/gpt` does. Generation is kept short: every `-n N` becomes `-n 4`, and `generate`/`chat`
//   without `-n` get `-n 4`. Interactive `gpt chat` on a terminal gets stdin from /dev/null, so it ends at once.
// - A line whose subcommand is in `longRunning` is not run; the list says why, and the test prints each skip.
//   Add a subcommand there (with its reason) when its README example takes minutes, never ends (a server) or needs
//   the network; everything else must run and exit 0.
// - A line that names a file (a word with a dot) which does not exist but which a skipped line names (it would
//   have written it, e.g. `gpt quantize ... smol.q4_k_m.gguf` then `gpt inspect smol.q4_k_m.gguf`) is skipped too.
// - No example may write into the repository: files it writes (`--out`, `--trace`, `-o FILE`, `> FILE`) must be
//   under /tmp, so running the README never changes a tracked file.
import Foundation
import Testing

enum ReadmeExamples {
    /// Subcommands whose README lines are not run, and why.
    static let longRunning: [String: String] = [
        "check": "runs every op on every backend against the reference: minutes, and `swift test` runs the same suite",
        "bench": "a benchmark: minutes by design (Benchmarks/results/ has its runs)",
        "profile": "a profile of hundreds of tokens plus a roofline measurement: minutes by design",
        "serve": "a server: it does not exit",
        "pull": "downloads a model: needs the network, which tests never use",
        "perplexity": "evaluates a whole text file: minutes by design",
        "quantize": "rewrites a whole model file: minutes and hundreds of MB",
        "convert": "needs a Hugging Face checkpoint folder that is not shipped",
    ]

    struct Example: CustomStringConvertible {
        var line: String
        var subcommand: String
        /// Why the line is not run (nil: it runs).
        var skip: String?
        var description: String { line }
    }

    static let readme = GPTBinary.root.appendingPathComponent("README.md")

    /// The example lines of the README's fenced blocks, with their subcommand.
    static func all() -> [Example] {
        guard let text = try? String(contentsOf: readme, encoding: .utf8) else { return [] }
        var inFence = false
        var examples: [Example] = []
        for raw in text.components(separatedBy: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") {
                inFence.toggle()
                continue
            }
            guard inFence, let sub = subcommand(of: line) else { continue }
            examples.append(Example(line: stripComment(line), subcommand: sub, skip: longRunning[sub]))
        }
        // files that only skipped lines would have made
        var unmade = Set<String>()
        for i in examples.indices {
            let files = examples[i].line.split(separator: " ").map(String.init).filter {
                !$0.hasPrefix("-") && $0.contains(".") && !$0.contains("\"")
                    && !FileManager.default.fileExists(atPath: GPTBinary.root.appendingPathComponent($0).path)
            }
            if examples[i].skip != nil {
                unmade.formUnion(files)
            } else if let missing = files.first(where: unmade.contains) {
                examples[i].skip = "needs \(missing), which a skipped example above makes"
            }
        }
        return examples
    }

    /// The word after `$gpt`/`gpt` at the start of a command (or after a pipe); "chat" for a quoted message.
    static func subcommand(of line: String) -> String? {
        let pattern = #"(^|[|;&]\s*)\$?gpt\s+("|[A-Za-z-]+)"#
        guard let regex = try? NSRegularExpression(pattern: pattern),
            let m = regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)),
            let word = Range(m.range(at: 2), in: line)
        else { return nil }
        let sub = String(line[word])
        return sub == "\"" || sub.hasPrefix("-") ? "chat" : sub
    }

    /// Drops a trailing `# comment` (a # after two spaces, outside quotes).
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: [Character] = []
        for (i, ch) in line.enumerated() {
            if ch == "\"" || ch == "'" { quote = quote == nil ? ch : (quote == ch ? nil : quote) }
            if ch == "#" && quote == nil && previous.suffix(2) == [" ", " "] {
                return String(line.prefix(i)).trimmingCharacters(in: .whitespaces)
            }
            previous.append(ch)
        }
        return line
    }

    /// The line as the test runs it: short generations.
    static func shortened(_ e: Example) -> String {
        var line = e.line.replacingOccurrences(of: #"(^|\s)-n\s+\d+"#, with: "$1-n 4", options: .regularExpression)
        if ["generate", "chat"].contains(e.subcommand) && !line.contains(" -n ") {
            line += " -n 4"
        }
        return line
    }

    /// Paths the line writes to (after --out, --trace, -o, >).
    static func outputs(_ line: String) -> [String] {
        let pattern = #"(--out|--trace|-o|>)\s+("[^"]+"|\S+)"#
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: line, range: NSRange(line.startIndex..., in: line)).compactMap {
            Range($0.range(at: 2), in: line).map { String(line[$0]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }.filter { !["md", "json", "csv"].contains($0) }
    }
}

@Suite("README examples run as written",
       .enabled(if: GPTBinary.path != nil && GPTBinary.model != nil, "gpt or the default model is missing: run `make test`"))
struct ReadmeExamplesTests {
    @Test("the README has gpt examples, and the long-running list names real reasons")
    func found() {
        let examples = ReadmeExamples.all()
        #expect(examples.count >= 10, "found \(examples.count) example lines")
        #expect(examples.contains { $0.subcommand == "generate" } && examples.contains { $0.subcommand == "chat" })
    }

    @Test("each fenced gpt line exits 0 and writes only under /tmp", arguments: ReadmeExamples.all())
    func runs(_ example: ReadmeExamples.Example) throws {
        for path in ReadmeExamples.outputs(example.line) {
            #expect(path.hasPrefix("/tmp/"), "\(example.line) writes \(path), inside the repository; use /tmp")
        }
        if let reason = example.skip {
            print("README example skipped (\(example.subcommand): \(reason)): \(example.line)")
            return
        }
        let line = ReadmeExamples.shortened(example)
        // output goes to files (no pipe can fill up and block it); stopped after two minutes
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-readme-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("stdout")
        let errURL = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "gpt='\(GPTBinary.path!)'; " + line]
        p.currentDirectoryURL = GPTBinary.root
        p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let finished = !p.isRunning
        if !finished { p.terminate() }
        p.waitUntilExit()
        let stdout = try Data(contentsOf: outURL)
        let stderr = try Data(contentsOf: errURL)
        #expect(finished, "\(line) ran over two minutes")
        #expect(p.terminationStatus == 0,
                "\(line) exited \(p.terminationStatus): \(String(decoding: stderr, as: UTF8.self))")
        #expect(!stdout.isEmpty || !stderr.isEmpty, "\(line) printed nothing")
    }
}
