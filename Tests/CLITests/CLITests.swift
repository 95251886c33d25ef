// The `gpt` tool as a user runs it: help, exit codes and messages for bad input, and outputs on the real model.
// Runs the binary that `make test` builds (.build/release/gpt), or the debug one, whichever is newer.
import Foundation
import Testing

enum GPTBinary {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let path: String? = {
        let candidates = [".build/release/gpt", ".build/debug/gpt"].map { root.appendingPathComponent($0).path }
        let existing = candidates.filter { FileManager.default.isExecutableFile(atPath: $0) }
        func modified(_ p: String) -> Date {
            (try? FileManager.default.attributesOfItem(atPath: p)[.modificationDate] as? Date) ?? .distantPast
        }
        return existing.max { modified($0) < modified($1) }
    }()

    static let model: String? = {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? "") + "/.cache")
        let path = env["GPT_MODEL"] ?? cache + "/swiftgpt/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("gpt command line", .enabled(if: GPTBinary.path != nil, "gpt is not built: run `swift build` or `make test`"))
struct CLITests {
    @Test("help lists every subcommand")
    func help() throws {
        let r = try GPTBinary.run(["--help"])
        #expect(r.status == 0)
        for sub in ["generate", "chat", "tokenize", "backends", "check", "bench", "profile", "params", "inspect",
                    "attention", "next", "convert"] {
            #expect(r.stdout.contains(sub), "help does not list \(sub)")
        }
    }

    @Test("bad input gives a clear message and a non-zero exit", arguments: [
        (["generate", "--model", "/nonexistent.gguf", "--prompt", "hi"], "no model file"),
        (["generate", "--prompt", "hi", "--backend", "cuda"], "unknown backend"),
        (["generate"], "--prompt"),
        (["generate", "--prompt", "hi", "-n", "-3"], "-n"),
        (["generate", "--prompt", "hi", "--temperature", "-1"], "temperature"),
        (["params", "--preset", "gpt5"], "unknown preset"),
        (["check", "--op", "conv2d"], "unknown op"),
        (["tokenize", "--model", "/etc/hostname", "x"], "GGUF"),
    ])
    func badInput(_ arguments: [String], _ message: String) throws {
        let r = try GPTBinary.run(arguments)
        #expect(r.status != 0, "\(arguments) exited 0")
        #expect((r.stderr + r.stdout).contains(message), "\(arguments): \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"), "\(arguments) crashed: \(r.stderr)")
    }

    @Test("params --preset gpt3 reproduces the lessons' count")
    func gpt3Parameters() throws {
        let r = try GPTBinary.run(["params", "--preset", "gpt3"])
        #expect(r.status == 0)
        for text in ["175,181,291,520", "27,938", "617,558,016", "14,495,514,624", "57,982,058,496"] {
            #expect(r.stdout.contains(text), "missing \(text) in:\n\(r.stdout)")
        }
    }
}

@Suite("gpt on the default model",
       .enabled(if: GPTBinary.path != nil && GPTBinary.model != nil, "gpt or the default model is missing: run `make test`"))
struct CLIModelTests {
    @Test("tokenize prints ids like llama.cpp's tool")
    func tokenize() throws {
        // ids from llama.cpp (Tests/EndToEndTests/Golden/greedy.json, prompt "capital")
        let r = try GPTBinary.run(["tokenize", "The capital of France is"])
        #expect(r.status == 0)
        #expect(r.stdout == "504 3575 282 4649 314\n")
    }

    @Test("generate streams only the continuation to stdout; timings go to stderr")
    func generate() throws {
        let r = try GPTBinary.run(["generate", "--prompt", "The capital of France is", "-n", "4", "--temperature", "0",
                                   "--backend", "openmp"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix(" Paris."), "stdout: \(r.stdout)")
        #expect(r.stderr.contains("tokens/s"))
        let echo = try GPTBinary.run(["generate", "--prompt", "The capital of France is", "-n", "2", "--temperature",
                                      "0", "--echo", "--quiet"])
        #expect(echo.stdout.hasPrefix("The capital of France is Paris"))
        #expect(echo.stderr.isEmpty)
    }

    @Test("a prompt longer than the context is a clear error")
    func contextOverflow() throws {
        let r = try GPTBinary.run(["generate", "--prompt", String(repeating: "word ", count: 100), "--ctx", "32"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("context"))
    }

    @Test("chat reads one message per line from stdin and keeps the conversation")
    func scriptedChat() throws {
        let r = try GPTBinary.run(["chat", "--temperature", "0", "-n", "24", "--quiet"],
                                  stdin: "What is the capital of France?\n/set n 8\nAnd of Italy?\n")
        #expect(r.status == 0, "\(r.stderr)")
        let answers = r.stdout.split(separator: "\n", omittingEmptySubsequences: true)
        // two answers (the /set command prints nothing to stdout), each on its own line
        #expect(answers.count >= 2, "stdout: \(r.stdout)")
    }

    @Test("chat --json writes one JSON object per event")
    func chatJSON() throws {
        let r = try GPTBinary.run(["chat", "--temperature", "0", "-n", "8", "--json", "--prompt", "Hi"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["event"] != nil, "not an event: \(line)")
        }
        #expect(lines.contains { $0.contains("\"stats\"") })
    }

    @Test("backends lists each backend with its availability")
    func backends() throws {
        let r = try GPTBinary.run(["backends"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("openmp") && r.stdout.contains("blas") && r.stdout.contains("opencl"))
    }

    @Test("attention writes a PNG and an SVG heat map labelled with the tokens")
    func attentionFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-attn-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("a.png").path
        let svg = dir.appendingPathComponent("a.svg").path
        #expect(try GPTBinary.run(["attention", "--layer", "3", "--head", "all", "--out", png]).status == 0)
        #expect(try GPTBinary.run(["attention", "--layer", "3", "--head", "0", "--out", svg]).status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.contains("fluffy") && text.contains("forest"))
    }
}
