// Byte-level helpers shared by encoding and decoding: GPT-2's reversible byte <-> Unicode map, and the
// character classes (\p{L}, \p{N}, \s, \p{P}) the pre-tokenizers split on. No tokenization logic lives here.

// MARK: - GPT-2 byte map

/// GPT-2's byte-to-Unicode map: every byte becomes one printable scalar, so a vocabulary of byte strings can be
/// stored as text. Printable Latin-1 bytes ('!'...'~', '¡'...'¬', '®'...'ÿ') map to themselves; the other 68
/// bytes (controls, space, 0x7F...0xA0, soft hyphen) map to U+0100, U+0101, ... in byte order (space -> 'Ġ' U+0120,
/// '\n' -> 'Ċ' U+010A).
enum GPT2ByteMap {
    /// (256,) byte -> scalar value.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isSelfMapped(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// (324,) scalar value -> byte, -1 where the scalar is not in the map (scalars >= 324 are never in it).
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 256 + 68)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// UTF-8 of each byte's scalar (1 or 2 bytes), used to build byte-encoded vocabulary keys.
    static let utf8ForByte: [[UInt8]] = scalarForByte.map { Array(String(Unicode.Scalar($0)!).utf8) }

    private static func isSelfMapped(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The raw bytes a byte-encoded vocabulary string stands for. A scalar outside the map (a vocabulary
    /// entry that was never byte-encoded) becomes "[UNK_BYTE_0x<utf8 hex><whole text>]", as llama.cpp's
    /// `llama_decode_text` writes it.
    static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let v = Int(scalar.value)
            if v < byteForScalar.count, byteForScalar[v] >= 0 {
                out.append(UInt8(byteForScalar[v]))
            } else {
                out += Array("[UNK_BYTE_0x".utf8)
                for byte in String(scalar).utf8 { out += Array(hex2(byte).utf8) }
                out += Array(text.utf8)
                out.append(UInt8(ascii: "]"))
            }
        }
        return out
    }

    private static func hex2(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
    }
}

// MARK: - Character classes

/// The classes the split rules test, as llama.cpp's unicode tables define them: `letter` = \p{L} (Lu Ll Lt Lm Lo),
/// `number` = \p{N} (Nd Nl No), `whitespace` = the Unicode White_Space property (25 scalars: \t...\r, space, U+0085,
/// U+00A0, U+1680, U+2000...U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; *not* U+001C...U+001F, which Python's
/// \s includes), `punctuation` = \p{P}, `other` = everything else (marks, symbols, controls, format, unassigned).
/// White_Space wins over the category (U+0085 is Cc, U+00A0 is Zs; both are whitespace).
enum ScalarClass: UInt8 {
    case letter, number, whitespace, punctuation, other

    /// The class of a scalar value.
    @inline(__always)
    static func of(_ value: UInt32) -> ScalarClass {
        value < 128 ? ascii[Int(value)] : nonASCII(value)
    }

    private static let ascii: [ScalarClass] = (0..<128).map { nonASCII(UInt32($0)) }

    private static func nonASCII(_ value: UInt32) -> ScalarClass {
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return .punctuation
        default:
            return .other
        }
    }
}
