// Encoding must equal llama.cpp's, id for id, on the hard strings of Golden/llama_cpp_tokens.json (whitespace runs,
// digits, CJK, emoji ZWJ sequences, contractions, special tokens, ...), for SmolLM2's own pre-tokenizer ("smollm")
// and for "gpt-2" and "default" over the same vocabulary. Decoding must give the text back byte for byte.

import Foundation
import Testing

@testable import Tokenization

@Suite("llama.cpp golden ids")
struct LlamaCppGoldenTests {
    @Test("the golden file has the cases the brief asks for")
    func hasCases() {
        #expect(Golden.cases.count >= 25, "Golden/llama_cpp_tokens.json missing from the test bundle or too small")
        #expect(Golden.cases.contains { $0.text.isEmpty })
        #expect(Golden.cases.contains { $0.parseSpecial })
        for c in Golden.cases { #expect(Set(c.ids.keys) == Set(Golden.preTokenizers), "\(c.name)") }
    }

    @Test(
        "encode equals llama-tokenize", .enabled(if: RealModel.isPresent, RealModel.absentReason),
        arguments: Golden.cases, Golden.preTokenizers)
    func matchesLlamaCpp(_ c: GoldenCase, preTokenizer: String) throws {
        let tokenizer = try RealModel.tokenizer(preTokenizer: preTokenizer)
        let expected = try #require(c.ids[preTokenizer])
        let got = tokenizer.encode(c.text, parseSpecial: c.parseSpecial)
        if got != expected {
            let i =
                zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(got.count, expected.count)
            Issue.record(
                """
                \(c.name) [\(preTokenizer)]: first difference at index \(i)
                  got      \(got.count) ids: \(got)
                  expected \(expected.count) ids: \(expected)
                  got pieces      \(got.map { tokenizer.tokenText($0) ?? "?" })
                  expected pieces \(expected.map { tokenizer.tokenText($0) ?? "?" })
                """)
        }
    }

    @Test(
        "decode(encode(s)) == s byte for byte", .enabled(if: RealModel.isPresent, RealModel.absentReason),
        arguments: Golden.cases)
    func roundTrip(_ c: GoldenCase) throws {
        let tokenizer = try RealModel.tokenizer(preTokenizer: "smollm")
        let ids = tokenizer.encode(c.text, parseSpecial: c.parseSpecial)
        #expect(tokenizer.decodeBytes(ids) == Array(c.text.utf8))
        #expect(tokenizer.decode(ids) == c.text)
        // The golden ids (llama.cpp's) decode to the text too.
        #expect(tokenizer.decodeBytes(c.ids["smollm"] ?? []) == Array(c.text.utf8))
    }
}
