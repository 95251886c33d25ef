// Pre-tokenizer splits on known strings (no model needed): the GPT-2 word rule, SmolLM2's digit isolation, the
// "default" family, the character classes, and the names accepted or refused.

import Foundation
import Testing

@testable import Tokenization

@Suite("Pre-tokenizer")
struct PreTokenizerTests {
    /// The words `name` splits `text` into.
    func words(_ text: String, _ name: String) throws -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        let pieces = try PreTokenizer(named: name).split(scalars, classes: scalars.map(ScalarClass.of))
        return pieces.map { r in String(String.UnicodeScalarView(scalars[r].map { Unicode.Scalar($0)! })) }
    }

    @Test(
        "GPT-2 words, including \\s+(?!\\S) and lower-case contractions",
        arguments: [
            ("Hello world", ["Hello", " world"]),
            (" \t\n  x", [" \t\n ", " x"]),
            ("a   b", ["a", "  ", " b"]),
            ("trailing   ", ["trailing", "   "]),
            ("\n\n\n", ["\n\n\n"]),
            ("I'm we'll We'VE", ["I", "'m", " we", "'ll", " We", "'", "VE"]),
            ("x!!! ??", ["x", "!!!", " ??"]),
            ("abc123 45", ["abc", "123", " 45"]),
            ("café 你好，世界", ["café", " 你好", "，", "世界"]),
            ("e\u{301}x", ["e", "\u{301}", "x"]),  // a combining mark is not \p{L}
        ])
    func gpt2(_ text: String, _ expected: [String]) throws {
        #expect(try words(text, "gpt-2") == expected)
    }

    @Test("smollm isolates every digit first; the lookahead stops at the digit")
    func smollmDigits() throws {
        #expect(try words("x 1234 y", "smollm") == ["x", " ", "1", "2", "3", "4", " y"])
        #expect(try words("a  1", "smollm") == ["a", "  ", "1"])  // "  " is a whole piece: nothing follows it there
        #expect(try words("½ ٣", "smollm") == ["½", " ", "٣"])  // \p{N} includes No and other scripts' Nd
    }

    @Test("default: punctuation runs, number runs, ASCII digits in threes")
    func defaultFamily() throws {
        #expect(try words("1234567", "default") == ["123", "456", "7"])
        #expect(try words("a+=b", "default") == ["a", "+=", "b"])
        #expect(try words("x 12", "default") == ["x", " ", "12"])
    }

    @Test("character classes follow llama.cpp's tables")
    func classes() {
        #expect(ScalarClass.of(0x20) == .whitespace)
        #expect(ScalarClass.of(0x85) == .whitespace)  // NEL is White_Space although Cc
        #expect(ScalarClass.of(0xA0) == .whitespace)
        #expect(ScalarClass.of(0x1C) == .other)  // Python's \s has it; llama.cpp's does not
        #expect(ScalarClass.of(0x200B) == .other)  // zero-width space is Cf
        #expect(ScalarClass.of(0x4F60) == .letter)  // 你
        #expect(ScalarClass.of(0x2163) == .number)  // Ⅳ (Nl)
        #expect(ScalarClass.of(0x301) == .other)  // combining acute (Mn)
        #expect(ScalarClass.of(0xFF0C) == .punctuation)  // fullwidth comma
        #expect(ScalarClass.of(0x1F600) == .other)  // 😀 (So)
        #expect(ScalarClass.of(0x1C89) == .other)  // a Unicode 16 letter: unassigned in llama.cpp's 15.1 tables
        #expect(ScalarClass.of(0x105C0) == .other)  // Todhri (Unicode 16)
        #expect(ScalarClass.of(0x31350) == .letter)  // CJK Extension H (Unicode 15.0)
    }

    @Test("character classes equal llama.cpp's for every code point (Golden/llama_cpp_scalar_classes.txt)")
    func allCodePoints() throws {
        let url = try #require(
            Bundle.module.url(forResource: "llama_cpp_scalar_classes", withExtension: "txt", subdirectory: "Golden"))
        let classOf: [Character: ScalarClass] = [
            "W": .whitespace, "L": .letter, "N": .number, "P": .punctuation,
            "O": .other,
        ]
        var runs: [(start: UInt32, cls: ScalarClass)] = []
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            runs.append((try #require(UInt32(fields[0], radix: 16)), try #require(classOf[fields[1].first!])))
        }
        #expect(runs.count > 1000 && runs.first?.start == 0)
        var mismatches: [String] = []
        for (k, run) in runs.enumerated() {
            let end = k + 1 < runs.count ? runs[k + 1].start : 0x110000
            for v in run.start..<end where ScalarClass.of(v) != run.cls {
                mismatches.append(String(v, radix: 16))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) code points differ, first: \(mismatches.prefix(20))")
    }

    @Test("an unknown name throws, naming it and the supported ones")
    func unknownName() {
        #expect(throws: TokenizerError.self) { try PreTokenizer(named: "qwen35") }
        do {
            _ = try PreTokenizer(named: "no-such-pre")
        } catch {
            let text = "\(error)"
            #expect(text.contains("no-such-pre") && text.contains("smollm") && text.contains("gpt-2"))
        }
        for name in PreTokenizer.supportedNames { #expect((try? PreTokenizer(named: name)) != nil) }
    }
}
