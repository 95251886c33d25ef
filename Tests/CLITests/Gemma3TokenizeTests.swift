// `gpt tokenize` on the real Gemma 3 270M file equals llama.cpp's `llama-tokenize`, id for id, on hard strings:
// leading and repeated spaces, newlines and tabs, characters outside the vocabulary (byte fallback), emoji, CJK,
// accented text, code, digits, very long words, the empty string, and raw prompts whose <start_of_turn> /
// <end_of_turn> markers are parsed as special tokens (and, with --no-parse-special, not). Both run with their
// defaults: Gemma's BOS added as its metadata says, the text on stdin.
// Golden/gemma3_tokenize.json is llama-tokenize's output, made by scripts/make_gemma3_tokenize_golden.py (which
// says how); skipped when the 242 MB model is not cached (`gpt pull gemma3-270m` fetches it).
import Foundation
import Testing

enum Gemma3Tokenize {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        var name: String
        var text: String
        var parse_special: Bool
        var ids: [Int]
        var description: String { name }
    }
    struct Golden: Decodable {
        var model: String
        var model_sha256: String
        var cases: [Case]
    }

    static let golden: Golden? = try? JSONDecoder().decode(
        Golden.self,
        from: Data(contentsOf: GPTBinary.root.appendingPathComponent("Tests/CLITests/Golden/gemma3_tokenize.json")))

    static let model: String? = {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? "") + "/.cache")
        let path = cache + "/swiftgpt/models/gemma-3-270m-q4_k_m.gguf"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()
}

@Suite("gpt tokenize on Gemma 3 equals llama-tokenize",
       .enabled(if: GPTBinary.path != nil, "gpt is not built: run `swift build` or `make test`"),
       .enabled(if: Gemma3Tokenize.model != nil,
                "Gemma 3 270M is not cached (242 MB; fetch it with `gpt pull gemma3-270m`)"))
struct Gemma3TokenizeTests {
    @Test("the golden file has the hard cases")
    func hasCases() throws {
        let golden = try #require(Gemma3Tokenize.golden, "Tests/CLITests/Golden/gemma3_tokenize.json is unreadable")
        let names = Set(golden.cases.map(\.name))
        for name in ["empty", "gemma chat prompt", "gemma chat prompt not parsed", "byte fallback", "emoji", "chinese",
                     "accents", "code", "digits", "very long word", "leading spaces", "newlines and tabs"] {
            #expect(names.contains(name), "missing case \(name)")
        }
        // Gemma adds <bos> (2); <start_of_turn> is token 105 when parsed
        let chat = try #require(golden.cases.first { $0.name == "gemma chat prompt" })
        #expect(chat.ids.prefix(2) == [2, 105])
    }

    @Test("ids equal llama-tokenize's", arguments: Gemma3Tokenize.golden?.cases ?? [])
    func matches(_ c: Gemma3Tokenize.Case) throws {
        var arguments = ["tokenize", "-m", Gemma3Tokenize.model!, "--stdin"]
        if !c.parse_special { arguments.append("--no-parse-special") }
        let r = try GPTBinary.run(arguments, stdin: c.text)
        #expect(r.status == 0, "\(c.name): \(r.stderr)")
        let ids = r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        #expect(ids == c.ids, "\(c.name): gpt \(ids.count) ids \(ids), llama-tokenize \(c.ids.count) ids \(c.ids)")
    }
}
