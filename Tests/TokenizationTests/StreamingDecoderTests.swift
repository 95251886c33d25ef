// StreamingDecoder never emits half a character: fed token by token, every chunk is whole characters and the
// chunks concatenate to the full text.

import Testing

@testable import Tokenization

@Suite("Streaming decoder")
struct StreamingDecoderTests {
    /// Feeds `ids` one at a time; returns the chunks (flush included).
    func chunks(_ ids: [Int32], _ tokenizer: BPETokenizer) -> [String] {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        return ids.map { decoder.append($0) } + [decoder.flush()]
    }

    @Test(
        "multi-byte text streamed token by token", .enabled(if: RealModel.isPresent, RealModel.absentReason),
        arguments: ["👨‍👩‍👧‍👦 🇯🇵🇺🇸 🏳️‍🌈 👍🏽", "你好，世界 日本語のテキスト 안녕하세요", "I ❤️ 🍕 and 😀😃😄 café"])
    func wholeCharacters(_ text: String) throws {
        let tokenizer = try #require(RealModel.loaded).tokenizer
        let ids = tokenizer.encode(text)
        let parts = chunks(ids, tokenizer)
        for part in parts { #expect(!part.contains("\u{FFFD}"), "chunk \(Array(part.utf8)) has a broken character") }
        #expect(parts.joined() == text)
        #expect(parts.last == "", "flush had bytes left over")
        // The test means something only if some token ends inside a character.
        let cut = ids.contains { String(validating: tokenizer.decodeBytes([$0]), as: UTF8.self) == nil }
        #expect(cut, "no token of \(text) ends inside a character")
        #expect(parts.dropLast().contains(""), "nothing was ever held back")
    }

    @Test("every golden string streams back whole", .enabled(if: RealModel.isPresent, RealModel.absentReason))
    func goldenStrings() throws {
        let tokenizer = try #require(RealModel.loaded).tokenizer
        for c in Golden.cases {
            let parts = chunks(tokenizer.encode(c.text, parseSpecial: c.parseSpecial), tokenizer)
            #expect(parts.joined() == c.text, "\(c.name)")
            #expect(!parts.joined().unicodeScalars.contains("\u{FFFD}"), "\(c.name)")
        }
    }

    @Test("incomplete tails are held, invalid bytes are not")
    func tailLength() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let face: [UInt8] = [0xF0, 0x9F, 0x98, 0x80]
        #expect(StreamingDecoder.incompleteTailLength([]) == 0)
        #expect(StreamingDecoder.incompleteTailLength([0x41]) == 0)
        #expect(StreamingDecoder.incompleteTailLength(euro) == 0)
        #expect(StreamingDecoder.incompleteTailLength([0x41] + euro.prefix(1)) == 1)
        #expect(StreamingDecoder.incompleteTailLength([0x41] + euro.prefix(2)) == 2)
        #expect(StreamingDecoder.incompleteTailLength(Array(face.prefix(3))) == 3)
        #expect(StreamingDecoder.incompleteTailLength(face) == 0)
        #expect(StreamingDecoder.incompleteTailLength([0x80, 0x80]) == 0)  // no lead byte: never completes
        #expect(StreamingDecoder.incompleteTailLength([0xFF]) == 0)
    }

    @Test("flush returns a held-back tail as U+FFFD and resets")
    func flush() throws {
        let tokenizer = try TinyVocab.tokenizer()
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        // Byte tokens of "€" (E2 82 AC): ids are the byte values in TinyVocab.
        #expect(decoder.append(0xE2) == "")
        #expect(decoder.append(0x82) == "")
        #expect(decoder.append(0xAC) == "€")
        #expect(decoder.append(0xE2) == "")
        #expect(decoder.flush() == "\u{FFFD}")
        #expect(decoder.append(Int32(UInt8(ascii: "a"))) == "a")
    }
}
