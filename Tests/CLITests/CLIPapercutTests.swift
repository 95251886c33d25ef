// The papercuts of issue 12 and the CLI values of issue 11, one test per family: flags range-checked before any
// conversion, errors in the user's terms with the subcommand's usage, random seeds, typed JSON, raw prompts with
// special tokens, help text, PNG size and plain-text terminal output.
import Foundation
import Testing

/// The process did not die on a signal and said something on stderr: a clean error.
func expectCleanError(_ r: GPTBinary.Result, _ arguments: [String], containing message: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status != 0, "\(arguments) exited 0", sourceLocation: sourceLocation)
    #expect(r.status < 128 && r.status != 4 && r.status != 5, "\(arguments) died: \(r.status)",
            sourceLocation: sourceLocation)
    #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("NSCocoaErrorDomain"),
            "\(arguments): \(r.stderr)", sourceLocation: sourceLocation)
}

@Suite("gpt flags and help", .enabled(if: GPTBinary.path != nil, "gpt is not built: run `swift build` or `make test`"))
struct CLIFlagTests {
    // Issue 11 families 3, 5, 6, 7: values that used to trap a conversion. Each needs no model (validation runs
    // first) except where the model is named, and each must exit with a message, not a signal.
    @Test("out-of-range numbers are clean errors naming the flag", arguments: [
        (["generate", "--prompt", "hi", "-n", "4", "--threads", "2147483648"], "--threads 2147483648 is out of range"),
        (["generate", "--prompt", "hi", "--threads", "-1"], "--threads -1 is out of range"),
        (["generate", "--prompt", "hi", "--device", "99999999999"], "--device"),
        (["generate", "--prompt", "hi", "--ctx", "9223372036854775807"], "--ctx"),
        (["generate", "--prompt", "hi", "--batch", "0"], "--batch"),
        (["generate", "--prompt", "hi", "-n", "9223372036854775807"], "-n 9223372036854775807 is out of range"),
        (["chat", "-n", "9223372036854775807"], "-n 9223372036854775807 is out of range"),
        (["chat", "-n", "0"], "-n 0 is out of range"),
        (["generate", "--prompt", "hi", "--temperature", "nan"], "--temperature must be a finite number"),
        (["generate", "--prompt", "hi", "--temperature", "inf"], "--temperature must be a finite number"),
        (["chat", "--prompt", "hi", "--temperature", "nan"], "--temperature must be a finite number"),
        (["next", "--prompt", "hi", "--temperature", "nan"], "--temperature must be a finite number"),
        (["next", "--prompt", "hi", "--temperature", "1,0"], "--temperature"),
        (["next", "--prompt", "hi", "--top", "0"], "--top 0 is out of range"),
        (["generate", "--prompt", "hi", "--top-k", "-5"], "--top-k -5 is out of range"),
        (["generate", "--prompt", "hi", "--top-p", "nan"], "--top-p must be a finite number"),
        (["generate", "--prompt", "hi", "--min-p", "1"], "--min-p 1 is out of range"),
        (["generate", "--prompt", "hi", "--repeat-penalty", "-inf"], "--repeat-penalty must be a finite number"),
        (["generate", "--prompt", "hi", "--presence-penalty", "-500"], "--presence-penalty -500 is out of range"),
        (["generate", "--prompt", "hi", "--seed", "-2"], "--seed"),
        (["params", "--layers", "1000000000000", "--dim", "1000000000000", "--heads", "1", "--vocab",
          "1000000000000"], "--layers 1000000000000 is out of range"),
        (["params", "--layers", "2", "--dim", "64", "--heads", "2", "--vocab", "100", "--ff", "9223372036854775807"],
         "--ff 9223372036854775807 is out of range"),
        (["params", "--layers", "2", "--dim", "64", "--heads", "2", "--vocab", "100", "--ctx", "-1"], "--ctx"),
        (["bench", "-t", "4294967297"], "--threads 4294967297 is out of range"),
        (["bench", "-r", "0"], "-r 0 is out of range"),
        (["check", "--threads", "2147483648"], "--threads 2147483648 is out of range"),
        (["backends", "--threads", "2147483648"], "--threads 2147483648 is out of range"),
        (["attention", "--threads", "2147483648"], "--threads 2147483648 is out of range"),
        (["profile", "-p", "0"], "-p 0 is out of range"),
    ])
    func outOfRange(_ arguments: [String], _ message: String) throws {
        let r = try GPTBinary.run(arguments)
        expectCleanError(r, arguments, containing: message)
    }

    @Test("a flag error shows the subcommand's usage, not the top-level one")
    func subcommandUsage() throws {
        let r = try GPTBinary.run(["generate", "--prompt", "hi", "--threads", "2147483648"])
        #expect(r.stderr.contains("Usage: gpt generate"), "\(r.stderr)")
        let p = try GPTBinary.run(["params", "--preset", "gpt5"])
        #expect(p.stderr.contains("Usage: gpt params"), "\(p.stderr)")
    }

    @Test("GPT_MODEL pointing nowhere is named in the error")
    func gptModelEnvironment() throws {
        let r = try GPTBinary.run(["generate", "--prompt", "Hello"], environment: ["GPT_MODEL": "/nonexistent.gguf"])
        expectCleanError(r, ["GPT_MODEL=/nonexistent.gguf"], containing: "GPT_MODEL is set to /nonexistent.gguf")
        let inspect = try GPTBinary.run(["inspect"], environment: ["GPT_MODEL": "/nonexistent.gguf"])
        expectCleanError(inspect, ["inspect"], containing: "GPT_MODEL")
    }

    @Test("gpt --version prints a version; gpt alone prints the help")
    func versionAndBareHelp() throws {
        let v = try GPTBinary.run(["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, "\(v.stdout)")
        let bare = try GPTBinary.run([])
        #expect(bare.status == 0)
        #expect(bare.stdout.contains("SUBCOMMANDS") && bare.stdout.contains("generate"), "\(bare.stdout)")
        #expect(bare.stdout.contains("--generate-completion-script"), "shell completion is not documented")
    }

    @Test("a misspelled subcommand is an error with a suggestion, not a chat message", arguments: [
        ("generat", "did you mean 'generate'"), ("chta", "did you mean 'chat'"), ("tokenise", "did you mean 'tokenize'"),
    ])
    func misspelledSubcommand(_ word: String, _ suggestion: String) throws {
        let r = try GPTBinary.run([word, "--prompt", "hi"])
        expectCleanError(r, [word], containing: suggestion)
    }

    /// Every subcommand's help, for the checks below.
    static let subcommands = ["chat", "generate", "tokenize", "backends", "check", "bench", "profile", "params",
                              "inspect", "convert", "attention", "next"]

    @Test("no option's help says its default twice", arguments: subcommands)
    func noDuplicateDefaults(_ subcommand: String) throws {
        let r = try GPTBinary.run([subcommand, "--help"])
        #expect(r.status == 0)
        // An option's description runs from its flag to the next flag; one "(default" per description.
        let options = r.stdout.components(separatedBy: "\n  -")
        for option in options {
            let n = option.components(separatedBy: "default").count - 1
            #expect(n <= 1, "\(subcommand): \(option)")
        }
    }

    @Test("inspect takes -m like the other commands; params explains what its table leaves out")
    func inspectModelFlagAndParamsWording() throws {
        let r = try GPTBinary.run(["inspect", "-m", "/nonexistent.gguf"])
        expectCleanError(r, ["inspect", "-m"], containing: "no model file at /nonexistent.gguf")
        #expect(!r.stderr.contains("Unknown option"))
        let p = try GPTBinary.run(["params", "--preset", "gpt2"])
        #expect(!p.stdout.contains("lessons leave them out"))
        #expect(p.stdout.contains("all weights: 124,439,808"), "\(p.stdout)")
    }

    @Test("params with GPT-2's flags and --tied gives GPT-2's 124M; the help says what the flags assume")
    func paramsMatchesGPT2() throws {
        let r = try GPTBinary.run(["params", "--layers", "12", "--dim", "768", "--heads", "12", "--vocab", "50257",
                                   "--ctx", "1024", "--tied"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("all weights: 124,439,808"), "\(r.stdout)")
        let help = try GPTBinary.run(["params", "--help"])
        #expect(help.stdout.contains("--tied") && help.stdout.contains("learned position"))
    }

    @Test("a file that cannot be written is a plain sentence")
    func unwritableOutput() throws {
        let r = try GPTBinary.run(["attention", "--out", "/missing/dir/x.png"])
        expectCleanError(r, ["attention", "--out"], containing: "the folder /missing/dir does not exist")
        let trace = try GPTBinary.run(["profile", "--trace", "/missing/dir/t.json"])
        expectCleanError(trace, ["profile", "--trace"], containing: "the folder /missing/dir does not exist")
    }

    @Test("the committed attention picture is compressed and small")
    func committedPicture() throws {
        let path = GPTBinary.root.appendingPathComponent("docs/attention-layer3.png").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count < 100_000, "docs/attention-layer3.png is \(bytes.count) bytes")
        #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
    }
}

@Suite("gpt papercuts on the default model",
       .enabled(if: GPTBinary.path != nil && GPTBinary.model != nil, "gpt or the default model is missing: run `make test`"))
struct CLIPapercutModelTests {
    static func seed(in stderr: String) -> String? {
        guard let r = stderr.range(of: #"seed \d+"#, options: .regularExpression) else { return nil }
        return String(stderr[r])
    }

    @Test("the seed is random by default and printed; a printed seed reproduces the text; --seed -1 is random")
    func seeds() throws {
        let args = ["generate", "--prompt", "Once upon a time", "-n", "12", "--temperature", "1.5", "--top-k", "0",
                    "--min-p", "0", "--top-p", "1"]
        let a = try GPTBinary.run(args)
        let b = try GPTBinary.run(args + ["--seed", "-1"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\(b.stderr)")
        let seedA = try #require(Self.seed(in: a.stderr), "no seed in: \(a.stderr)")
        let seedB = try #require(Self.seed(in: b.stderr))
        #expect(seedA != seedB, "two runs drew the same seed \(seedA)")
        let again = try GPTBinary.run(args + ["--seed", String(seedA.dropFirst(5))])
        #expect(again.stdout == a.stdout, "the printed seed does not reproduce the text")
    }

    @Test("--ctx beyond the training context advises lowering it to that context")
    func contextAdvice() throws {
        let r = try GPTBinary.run(["generate", "--prompt", "hi", "-n", "4", "--ctx", "100000"])
        expectCleanError(r, ["--ctx 100000"], containing: "lower --ctx to 8192 or less")
        #expect(!r.stderr.contains("raise --ctx"))
        #expect(r.stderr.contains("Usage: gpt generate"))
    }

    @Test("special tokens in raw prompts are parsed by default (llama.cpp's default); --no-parse-special turns it off")
    func parseSpecialByDefault() throws {
        // <|im_start|> is id 1 in SmolLM2's vocabulary; "user" is 4093 (llama-tokenize gives "1 4093")
        let parsed = try GPTBinary.run(["tokenize", "<|im_start|>user"])
        #expect(parsed.stdout == "1 4093\n", "\(parsed.stdout)")
        let plain = try GPTBinary.run(["tokenize", "--no-parse-special", "<|im_start|>user"])
        #expect(plain.stdout.split(separator: " ").count > 2, "\(plain.stdout)")
        let kept = try GPTBinary.run(["tokenize", "--parse-special", "<|im_start|>user"])
        #expect(kept.stdout == "1 4093\n")
        // A ChatML prompt pasted from llama.cpp's docs gets an answer, not "Grapheter" repeated.
        let chatml = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
        let g = try GPTBinary.run(["generate", "--prompt", chatml, "-n", "8", "--temperature", "0", "--quiet"])
        #expect(g.stdout.contains("Paris"), "\(g.stdout)")
    }

    @Test("tokenize: stdin input, --no-bos, --detokenize")
    func tokenizeFlags() throws {
        let stdin = try GPTBinary.run(["tokenize"], stdin: "The capital of France is")
        #expect(stdin.stdout == "504 3575 282 4649 314\n", "\(stdin.stdout)")
        let back = try GPTBinary.run(["tokenize", "--detokenize", "504 3575 282 4649 314"])
        #expect(back.stdout == "The capital of France is\n")
        let bad = try GPTBinary.run(["tokenize", "--detokenize", "504 99999999"])
        expectCleanError(bad, ["--detokenize"], containing: "'99999999' is not a token id")
        // SmolLM2's metadata adds no BOS, so --no-bos changes nothing here; it must still be accepted.
        let noBOS = try GPTBinary.run(["tokenize", "--no-bos", "The capital of France is"])
        #expect(noBOS.stdout == "504 3575 282 4649 314\n")
    }

    @Test("a bare argument is a chat message; -n cut-offs are announced on stderr")
    func bareMessageAndCutOff() throws {
        let r = try GPTBinary.run(["What is the capital of France?", "-n", "4", "--temperature", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.isEmpty)
        #expect(r.stderr.contains("cut off at -n 4 tokens"), "\(r.stderr)")
        let g = try GPTBinary.run(["generate", "The capital of France is", "-n", "3", "--temperature", "0"])
        #expect(g.stdout.hasPrefix(" Paris"), "\(g.stdout)")
        #expect(g.stderr.contains("cut off at -n 3 tokens"), "\(g.stderr)")
    }

    @Test("generate reads a prompt piped on stdin; an empty one is a clear error")
    func generateFromStdin() throws {
        let r = try GPTBinary.run(["generate", "-n", "2", "--temperature", "0", "--quiet"],
                                  stdin: "The capital of France is")
        #expect(r.stdout.hasPrefix(" Paris"), "\(r.stdout) \(r.stderr)")
        let empty = try GPTBinary.run(["generate", "-n", "2"], stdin: "")
        expectCleanError(empty, ["generate"], containing: "no prompt on stdin")
    }

    @Test("chat --json writes numbers as numbers and a finish_reason")
    func typedJSON() throws {
        let r = try GPTBinary.run(["chat", "--temperature", "0", "-n", "4", "--json", "--prompt", "Hi"])
        #expect(r.status == 0, "\(r.stderr)")
        let events = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let stats = try #require(events.first { $0["event"] as? String == "stats" })
        for key in ["prompt_tokens", "generated_tokens", "decode_steps", "prompt_tokens_per_second",
                    "generation_tokens_per_second", "seed"] {
            #expect(stats[key] is NSNumber, "\(key) is not a number: \(String(describing: stats[key]))")
        }
        #expect(stats["generated_tokens"] as? Int == 4)
        #expect(stats["finish_reason"] as? String == "length")
        let answer = try #require(events.first { $0["event"] as? String == "answer" })
        #expect(answer["finish_reason"] as? String == "length")
        let long = try GPTBinary.run(["chat", "--temperature", "0", "-n", "64", "--json", "--prompt", "Say hi."])
        #expect(long.stdout.contains("\"finish_reason\":\"stop\""), "\(long.stdout)")
    }

    @Test("generate and chat print the same statistics lines; chat prints the load line once")
    func consistentStats() throws {
        let g = try GPTBinary.run(["generate", "--prompt", "Hi", "-n", "3", "--temperature", "0"])
        let c = try GPTBinary.run(["chat", "--temperature", "0", "-n", "3"], stdin: "Hi\nHello\n")
        for r in [g, c] {
            #expect(r.stderr.contains("prompt: ") && r.stderr.contains("generation: 3 tokens, "), "\(r.stderr)")
        }
        #expect(c.stderr.components(separatedBy: "generation: ").count == 3, "two answers: \(c.stderr)")
        #expect(!c.stderr.contains("load: "), "the load line is reprinted per answer: \(c.stderr)")
    }

    @Test("chat /set checks values, says why, keeps the old value; /set alone shows the settings")
    func chatSetValidation() throws {
        let lines = ["/set", "/set top-k nan", "/set top-k 1e300", "/set n inf", "/set n 1e19", "/set seed inf",
                     "/set seed 1e30", "/set n -5", "/set top-k -5", "/set top-k 5.5", "/set temperature 0.5",
                     "/set", "/set seed 7", "/set nonsense 1", "/set n abc"]
        let r = try GPTBinary.run(["chat", "--quiet", "-n", "16"], stdin: lines.joined(separator: "\n") + "\n")
        #expect(r.status == 0, "\(r.stderr)")
        for text in ["top-k 40", "top-k must be a finite number, not nan; top-k stays 40",
                     "top-k 1e+300 is out of range", "n must be a finite number, not inf",
                     "n 1e+19 is out of range", "seed must be a finite number", "seed 1e+30 is out of range",
                     "n -5 is out of range", "top-k -5 is out of range", "top-k 5.5 is out of range",
                     "[temperature = 0.5]", "temperature 0.5", "[seed = 7]", "unknown setting 'nonsense'",
                     "n takes a number, not 'abc'", "n 16"] {
            #expect(r.stderr.contains(text), "missing \(text) in:\n\(r.stderr)")
        }
    }

    @Test("attention in a pipe writes plain text (no ANSI codes) with axis labels")
    func attentionPlainText() throws {
        let r = try GPTBinary.run(["attention", "--layer", "0", "--head", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\u{1B}["), "ANSI codes in a pipe")
        #expect(r.stdout.contains("rows: queries, columns: keys") && r.stdout.contains("keys: 0 a, 1 ·fluffy"))
    }

    @Test("the all-heads PNG is a compressed grid")
    func attentionGrid() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-grid-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("a.png").path
        let r = try GPTBinary.run(["attention", "--layer", "3", "--head", "all", "--out", png])
        #expect(r.status == 0, "\(r.stderr)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
        func be32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        let (width, height) = (be32(16), be32(20))
        // 9 heads in 3 × 3 panels: about as tall as wide (the old strip was 2088 × 246)
        #expect(Double(width) / Double(height) < 1.5 && Double(height) / Double(width) < 1.5, "\(width)×\(height)")
        #expect(bytes.count < width * height * 3 / 10, "\(bytes.count) bytes for \(width)×\(height): not compressed")
    }
}
