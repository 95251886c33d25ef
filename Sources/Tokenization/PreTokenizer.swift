// PreTokenizer: splits text into the words that BPE merges inside, chosen by GGUF `tokenizer.ggml.pre`.
// Each family is a list of split rules applied in turn, as llama.cpp's `regex_exprs` lists are: every rule splits
// every piece the previous rule left, and keeps all text (matches and the gaps between them both become pieces).
// The rules are hand-written state machines over Unicode scalars (see `ScalarClass`), not regexes. This file does
// not know about vocabularies, merges or special tokens.

/// One split rule. The regex each one implements is quoted; the behaviour (including at piece edges, where the
/// text ends for lookaheads) is llama.cpp's `unicode_regex_split` (src/unicode.cpp).
enum SplitRule: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2; contractions are
    /// lower-case only, so "'VE" splits as "'" + "VE").
    case gpt2Words
    /// `\p{N}`: every number scalar alone (SmolLM2, StarCoder: "1234" -> "1" "2" "3" "4").
    case eachNumber
    /// `\p{N}+`: runs of number scalars.
    case numberRuns
    /// `[\p{P}\$\+<=>\^~\|]+`: runs of punctuation and the ASCII symbols $ + < = > ^ ~ |.
    case punctuationRuns
    /// `[0-9][0-9][0-9]`: ASCII digits in threes from the left ("12345" -> "123" "45").
    case asciiDigitTriples
}

/// A named pre-tokenizer: the split rules for one `tokenizer.ggml.pre` value.
public struct PreTokenizer: Sendable, Equatable {
    /// The name it was made from, as written in the GGUF file.
    public let name: String
    let rules: [SplitRule]

    /// Families by llama.cpp name (src/llama-vocab.cpp, `LLAMA_VOCAB_PRE_TYPE_*`). Only names whose llama.cpp
    /// setup changes nothing else about encoding (no `ignore_merges`, no forced BOS, no per-token strip flags) are
    /// listed. "gpt2" is accepted as an alias of llama.cpp's "gpt-2"; "" (key absent) means "default", as in llama.cpp.
    private static let families: [(names: [String], rules: [SplitRule])] = [
        (
            ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2"],
            [.eachNumber, .gpt2Words]
        ),
        (
            [
                "gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "gigachat",
                "a.x-4.0", "mellum",
            ],
            [.gpt2Words]
        ),
        (["default", ""], [.punctuationRuns, .gpt2Words, .numberRuns, .asciiDigitTriples]),
    ]

    /// Every accepted name, for error messages and `gpt inspect`.
    public static let supportedNames: [String] = families.flatMap { $0.names }.filter { !$0.isEmpty }

    /// The pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre = name`.
    /// - Throws: `TokenizerError.unknownPreTokenizer` for a name not in `supportedNames`.
    public init(named name: String) throws {
        guard let family = Self.families.first(where: { $0.names.contains(name) }) else {
            throw TokenizerError.unknownPreTokenizer(name, supported: Self.supportedNames)
        }
        self.name = name
        self.rules = family.rules
    }

    /// Splits a run of scalars into words.
    /// - Parameters:
    ///   - scalars: (n,) Unicode scalar values of one text fragment.
    ///   - classes: (n,) `ScalarClass.of(scalars[i])`.
    /// - Returns: consecutive, non-empty ranges of scalar indices covering 0..<n.
    func split(_ scalars: [UInt32], classes: [ScalarClass]) -> [Range<Int>] {
        guard !scalars.isEmpty else { return [] }
        var pieces = [0..<scalars.count]
        var next: [Range<Int>] = []
        for rule in rules {
            next.removeAll(keepingCapacity: true)
            for piece in pieces {
                switch rule {
                case .gpt2Words: Self.gpt2Words(scalars, classes, piece, into: &next)
                case .eachNumber: Self.isolate(piece, into: &next, runs: false) { classes[$0] == .number }
                case .numberRuns: Self.isolate(piece, into: &next, runs: true) { classes[$0] == .number }
                case .punctuationRuns:
                    Self.isolate(piece, into: &next, runs: true) {
                        classes[$0] == .punctuation || Self.isDefaultSymbol(scalars[$0])
                    }
                case .asciiDigitTriples: Self.asciiDigitTriples(scalars, piece, into: &next)
                }
            }
            swap(&pieces, &next)
        }
        return pieces
    }

    // MARK: - Rules

    /// Splits `piece` around matches of a one-scalar class (`runs`: maximal runs of it, else each scalar alone);
    /// matches and the gaps between them become pieces, as a regex split that keeps everything does.
    private static func isolate(
        _ piece: Range<Int>, into out: inout [Range<Int>], runs: Bool, _ matches: (Int) -> Bool
    ) {
        var gapStart = piece.lowerBound
        var i = piece.lowerBound
        while i < piece.upperBound {
            guard matches(i) else {
                i += 1
                continue
            }
            var end = i + 1
            if runs {
                while end < piece.upperBound && matches(end) { end += 1 }
            }
            if gapStart < i { out.append(gapStart..<i) }
            out.append(i..<end)
            gapStart = end
            i = end
        }
        if gapStart < piece.upperBound { out.append(gapStart..<piece.upperBound) }
    }

    /// $ + < = > ^ ~ | (the ASCII symbols the "default" family groups with punctuation).
    private static func isDefaultSymbol(_ v: UInt32) -> Bool {
        v == 0x24 || v == 0x2B || v == 0x3C || v == 0x3D || v == 0x3E || v == 0x5E || v == 0x7E || v == 0x7C
    }

    private static func asciiDigitTriples(_ scalars: [UInt32], _ piece: Range<Int>, into out: inout [Range<Int>]) {
        func isDigit(_ i: Int) -> Bool { scalars[i] >= 0x30 && scalars[i] <= 0x39 }
        var gapStart = piece.lowerBound
        var i = piece.lowerBound
        while i + 3 <= piece.upperBound {
            if isDigit(i) && isDigit(i + 1) && isDigit(i + 2) {
                if gapStart < i { out.append(gapStart..<i) }
                out.append(i..<(i + 3))
                i += 3
                gapStart = i
            } else {
                i += 1
            }
        }
        if gapStart < piece.upperBound { out.append(gapStart..<piece.upperBound) }
    }

    /// The GPT-2 word rule, alternatives tried in order at each position (first match wins, each greedy):
    /// 1. a contraction `'s 't 'm 'd 're 've 'll` (lower case only);
    /// 2. an optional space then a run of letters, or of numbers, or of "other" (not whitespace, letter, number);
    /// 3. whitespace: a run of n > 1 followed by a non-space keeps its last scalar for the next word
    ///    (`\s+(?!\S)`, so " \t\n  x" -> " \t\n " + " x"); otherwise the whole run (`\s+`). The end of the piece
    ///    counts as the end of the text.
    private static func gpt2Words(
        _ cps: [UInt32], _ cls: [ScalarClass], _ piece: Range<Int>, into out: inout [Range<Int>]
    ) {
        let end = piece.upperBound
        var pos = piece.lowerBound
        @inline(__always) func isOther(_ c: ScalarClass) -> Bool { c == .punctuation || c == .other }

        while pos < end {
            let c = cps[pos]

            // 's 't 'm 'd | 're 've 'll
            if c == 0x27 && pos + 1 < end {
                let n1 = cps[pos + 1]
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {  // s t m d
                    out.append(pos..<(pos + 2))
                    pos += 2
                    continue
                }
                if pos + 2 < end {
                    let n2 = cps[pos + 2]
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                        out.append(pos..<(pos + 3))  // re ve ll
                        pos += 3
                        continue
                    }
                }
            }

            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the class after an optional leading space decides.
            let body = c == 0x20 ? pos + 1 : pos
            if body < end {
                let bodyClass = cls[body]
                if bodyClass == .letter || bodyClass == .number || isOther(bodyClass) {
                    var stop = body + 1
                    if isOther(bodyClass) {
                        while stop < end && isOther(cls[stop]) { stop += 1 }
                    } else {
                        while stop < end && cls[stop] == bodyClass { stop += 1 }
                    }
                    out.append(pos..<stop)
                    pos = stop
                    continue
                }
            }

            // `\s+(?!\S)` then `\s+`
            var run = 0
            while pos + run < end && cls[pos + run] == .whitespace { run += 1 }
            if run > 1 && pos + run < end {
                out.append(pos..<(pos + run - 1))
                pos += run - 1
            } else {
                let stop = pos + max(run, 1)  // run == 0 cannot happen: every scalar has a class
                out.append(pos..<stop)
                pos = stop
            }
        }
    }
}
