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
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (Llama 3: contractions in any case, a letter run may take one leading non-letter, numbers in threes).
    case llama3Words
    /// Qwen2's regex: as `llama3Words` but `\p{N}` (every number scalar alone).
    case qwen2Words
    /// `[\r\n]`: every CR and LF alone.
    case eachNewline
    /// `\s?[A-Za-zµÀ-Ö…]+`: DeepSeek LLM's letter ranges (cased scripts), after an optional whitespace.
    case deepSeekLatinWords
    /// `\s?[!-/:-~！-／：-～‘-‟　-。]+`: DeepSeek LLM's punctuation ranges, after an optional whitespace.
    case deepSeekPunctuationWords
    /// `\s+$`: the whitespace run that ends a piece.
    case trailingWhitespace
    /// `[一-龥ࠀ-一가-퟿]+`: runs of U+0800...U+9FA5 and U+AC00...U+D7FF (CJK, and everything between).
    case cjkRuns
    /// `\s?\p{L}+`: a letter run after an optional whitespace (DeepSeek Coder).
    case spaceLetterRuns
    /// `\s?\p{P}+`: a punctuation run after an optional whitespace (DeepSeek Coder).
    case spacePunctuationRuns
    /// `[\p{P}\$\+<=>\^~\|`]+`: as `punctuationRuns`, with the backtick too (Falcon).
    case falconPunctuationRuns
}

/// A named pre-tokenizer: the split rules for one `tokenizer.ggml.pre` value, and the other settings llama.cpp
/// ties to that name.
public struct PreTokenizer: Sendable, Equatable {
    /// The name it was made from, as written in the GGUF file.
    public let name: String
    let rules: [SplitRule]
    /// A word that is itself a vocabulary token is emitted whole, without merging (llama.cpp `ignore_merges`).
    let ignoresMerges: Bool
    /// Whether llama.cpp's detokenizer removes spaces before punctuation (`clean_spaces`) for this name.
    let cleansSpaces: Bool
    /// BOS is added when tokenizer.ggml.add_bos_token is absent (llama.cpp sets `add_bos` for Llama 3).
    public let addsBOSByDefault: Bool

    private struct Family {
        var names: [String]
        var rules: [SplitRule]
        var ignoresMerges = false
        var cleansSpaces = true
        var addsBOS = false
    }

    /// Families by llama.cpp name (src/llama-vocab.cpp, `LLAMA_VOCAB_PRE_TYPE_*`). Only names whose llama.cpp
    /// setup is fully described by a family are listed (no per-token strip flags, no special BOS handling).
    /// "gpt2" is accepted as an alias of llama.cpp's "gpt-2"; "" (key absent) means "default", as in llama.cpp.
    private static let families: [Family] = [
        Family(names: ["smollm", "command-r"], rules: [.eachNumber, .gpt2Words], cleansSpaces: false),
        Family(
            names: ["starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"],
            rules: [.eachNumber, .gpt2Words]),
        Family(
            names: [
                "gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "exaone4", "gigachat", "a.x-4.0", "mellum",
            ],
            rules: [.gpt2Words]),
        Family(names: ["trillion", "granite-docling"], rules: [.gpt2Words], cleansSpaces: false),
        Family(names: ["default", ""], rules: [.punctuationRuns, .gpt2Words, .numberRuns, .asciiDigitTriples]),
        Family(
            names: [
                "llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                "jina-v5-nano",
            ],
            rules: [.llama3Words], ignoresMerges: true, addsBOS: true),
        Family(names: ["dbrx", "smaug-bpe"], rules: [.llama3Words]),
        Family(
            names: ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open"], rules: [.qwen2Words],
            cleansSpaces: false),
        Family(names: ["megrez", "stablelm2"], rules: [.qwen2Words]),
        Family(
            names: ["deepseek-llm"],
            rules: [
                .eachNewline, .deepSeekLatinWords, .deepSeekPunctuationWords, .trailingWhitespace, .cjkRuns,
                .numberRuns,
            ],
            cleansSpaces: false),
        Family(
            names: ["deepseek-coder"],
            rules: [.eachNewline, .spaceLetterRuns, .spacePunctuationRuns, .cjkRuns, .eachNumber],
            cleansSpaces: false),
        Family(names: ["falcon"], rules: [.falconPunctuationRuns, .gpt2Words, .asciiDigitTriples]),
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
        self.ignoresMerges = family.ignoresMerges
        self.cleansSpaces = family.cleansSpaces
        self.addsBOSByDefault = family.addsBOS
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
                case .llama3Words: Self.llama3Words(scalars, classes, piece, maxDigits: 3, into: &next)
                case .qwen2Words: Self.llama3Words(scalars, classes, piece, maxDigits: 1, into: &next)
                case .eachNewline:
                    Self.isolate(piece, into: &next, runs: false) { scalars[$0] == 0x0A || scalars[$0] == 0x0D }
                case .deepSeekLatinWords:
                    Self.spacedRuns(classes, piece, into: &next) {
                        Self.inRanges(Self.regexScalar(scalars[$0], classes[$0]), Self.deepSeekLatin)
                    }
                case .deepSeekPunctuationWords:
                    Self.spacedRuns(classes, piece, into: &next) {
                        Self.inRanges(Self.regexScalar(scalars[$0], classes[$0]), Self.deepSeekPunctuation)
                    }
                case .trailingWhitespace: Self.trailingWhitespace(classes, piece, into: &next)
                case .cjkRuns:
                    Self.isolate(piece, into: &next, runs: true) {
                        Self.inRanges(Self.regexScalar(scalars[$0], classes[$0]), Self.cjk)
                    }
                case .spaceLetterRuns: Self.spacedRuns(classes, piece, into: &next) { classes[$0] == .letter }
                case .spacePunctuationRuns:
                    Self.spacedRuns(classes, piece, into: &next) { classes[$0] == .punctuation }
                case .falconPunctuationRuns:
                    Self.isolate(piece, into: &next, runs: true) {
                        classes[$0] == .punctuation || Self.isDefaultSymbol(scalars[$0]) || scalars[$0] == 0x60
                    }
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
        splitAround(piece, into: &out) { i in
            guard matches(i) else { return nil }
            var end = i + 1
            if runs {
                while end < piece.upperBound && matches(end) { end += 1 }
            }
            return end
        }
    }

    /// Splits `piece` around matches of `\s?X+` (X = `member`), leftmost first: a whitespace scalar joins the run
    /// that follows it.
    private static func spacedRuns(
        _ cls: [ScalarClass], _ piece: Range<Int>, into out: inout [Range<Int>], _ member: (Int) -> Bool
    ) {
        splitAround(piece, into: &out) { i in
            var body = i
            if cls[i] == .whitespace && i + 1 < piece.upperBound && member(i + 1) {
                body = i + 1
            } else if !member(i) {
                return nil
            }
            var end = body + 1
            while end < piece.upperBound && member(end) { end += 1 }
            return end
        }
    }

    /// A regex split that keeps everything: scanning left to right, `matchEnd(i)` is the end of the match that
    /// starts at i (nil: none starts there); matches and the gaps between them become pieces.
    private static func splitAround(
        _ piece: Range<Int>, into out: inout [Range<Int>], _ matchEnd: (Int) -> Int?
    ) {
        var gapStart = piece.lowerBound
        var i = piece.lowerBound
        while i < piece.upperBound {
            guard let end = matchEnd(i) else {
                i += 1
                continue
            }
            if gapStart < i { out.append(gapStart..<i) }
            out.append(i..<end)
            gapStart = end
            i = end
        }
        if gapStart < piece.upperBound { out.append(gapStart..<piece.upperBound) }
    }

    /// `\s+$`: the piece's trailing whitespace run becomes a piece of its own.
    private static func trailingWhitespace(_ cls: [ScalarClass], _ piece: Range<Int>, into out: inout [Range<Int>]) {
        var start = piece.upperBound
        while start > piece.lowerBound && cls[start - 1] == .whitespace { start -= 1 }
        if piece.lowerBound < start { out.append(piece.lowerBound..<start) }
        if start < piece.upperBound { out.append(start..<piece.upperBound) }
    }

    /// The scalar a character-range regex compares: llama.cpp hands std::wregex the text with every non-ASCII
    /// whitespace scalar replaced by U+000B, so U+3000 is `\s` there and not in "　-。".
    @inline(__always)
    private static func regexScalar(_ v: UInt32, _ c: ScalarClass) -> UInt32 {
        v > 0x7F && c == .whitespace ? 0x0B : v
    }

    @inline(__always)
    private static func inRanges(_ v: UInt32, _ ranges: [ClosedRange<UInt32>]) -> Bool {
        for r in ranges where r.contains(v) { return true }
        return false
    }

    /// The ranges of DeepSeek LLM's letter class, in the regex's order.
    private static let deepSeekLatin: [ClosedRange<UInt32>] = [
        0x41...0x5A, 0x61...0x7A, 0xB5...0xB5, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x1BA, 0x1BC...0x1BF,
        0x1C4...0x293, 0x295...0x2AF, 0x370...0x373, 0x376...0x377, 0x37B...0x37D, 0x37F...0x37F, 0x386...0x386,
        0x388...0x38A, 0x38C...0x38C, 0x38E...0x3A1, 0x3A3...0x3F5, 0x3F7...0x481, 0x48A...0x52F, 0x531...0x556,
        0x10A0...0x10C5, 0x13A0...0x13F5, 0x13F8...0x13FD, 0x1C90...0x1CBA, 0x1CBD...0x1CBF, 0x1D00...0x1D2B,
        0x1D6B...0x1D77, 0x1D79...0x1D9A, 0x1E00...0x1F15, 0x1F18...0x1F1D, 0x1F20...0x1F45, 0x1F48...0x1F4D,
        0x1F50...0x1F57, 0x1F59...0x1F59, 0x1F5B...0x1F5B, 0x1F5D...0x1F5D, 0x1F5F...0x1F7D, 0x1F80...0x1FB4,
        0x1FB6...0x1FBC, 0x1FBE...0x1FBE, 0x1FC2...0x1FC4, 0x1FC6...0x1FCC, 0x1FD0...0x1FD3, 0x1FD6...0x1FDB,
        0x1FE0...0x1FEC, 0x1FF2...0x1FF4, 0x1FF6...0x1FFC, 0x2102...0x2102, 0x2107...0x2107, 0x210A...0x2113,
        0x2115...0x2115, 0x2119...0x211D, 0x2124...0x2124, 0x2126...0x2126, 0x2128...0x2128, 0x212A...0x212D,
        0x212F...0x2134, 0x2139...0x2139, 0x213C...0x213F, 0x2145...0x2149, 0x214E...0x214E, 0x2183...0x2184,
        0x2C00...0x2C7B, 0x2C7E...0x2CE4, 0x2CEB...0x2CEE, 0x2CF2...0x2CF3, 0xA640...0xA66D, 0xA680...0xA69B,
        0xA722...0xA76F, 0xA771...0xA787, 0xA78B...0xA78E, 0xAB70...0xABBF, 0xFB00...0xFB06, 0xFB13...0xFB17,
        0xFF21...0xFF3A, 0xFF41...0xFF5A, 0x10400...0x1044F, 0x104B0...0x104D3, 0x104D8...0x104FB,
        0x10C80...0x10CB2, 0x10CC0...0x10CF2, 0x118A0...0x118DF, 0x1E900...0x1E943,
    ]

    /// DeepSeek LLM's punctuation class `[!-/:-~！-／：-～‘-‟　-。]` (":-~" includes the ASCII letters).
    private static let deepSeekPunctuation: [ClosedRange<UInt32>] = [
        0x21...0x2F, 0x3A...0x7E, 0xFF01...0xFF0F, 0xFF1A...0xFF5E, 0x2018...0x201F, 0x3000...0x3002,
    ]

    /// `[一-龥ࠀ-一가-퟿]`.
    private static let cjk: [ClosedRange<UInt32>] = [0x4E00...0x9FA5, 0x800...0x4E00, 0xAC00...0xD7FF]

    /// Llama 3's and Qwen2's word rule, alternatives tried in order at each position (llama.cpp's hand-written
    /// `unicode_regex_split_custom_llama3` / `_qwen2`, which this follows step for step):
    /// 1. a contraction `'s 't 'm 'd 're 've 'll`, either case;
    /// 2. a letter run, taking one leading scalar that is not CR, LF, a number or a letter (" hello", "(hello");
    /// 3. numbers, `maxDigits` at a time;
    /// 4. an optional space, a run of "other" scalars (not whitespace, letter, number), then any CR/LF after it;
    /// 5. whitespace: up to and including the last CR/LF of the run if it has one; else a run of n > 1 before a
    ///    non-space keeps its last scalar for the next word; else the whole run.
    private static func llama3Words(
        _ cps: [UInt32], _ cls: [ScalarClass], _ piece: Range<Int>, maxDigits: Int, into out: inout [Range<Int>]
    ) {
        let end = piece.upperBound
        var pos = piece.lowerBound
        @inline(__always) func isNewline(_ v: UInt32) -> Bool { v == 0x0A || v == 0x0D }
        @inline(__always) func isOther(_ i: Int) -> Bool {
            i < end && (cls[i] == .punctuation || cls[i] == .other)
        }
        @inline(__always) func lower(_ v: UInt32) -> UInt32 { v >= 0x41 && v <= 0x5A ? v + 0x20 : v }

        while pos < end {
            let c = cps[pos]
            let cl = cls[pos]

            // (?i:'s|'t|'m|'d|'re|'ve|'ll)
            if c == 0x27 && pos + 1 < end {
                let n1 = lower(cps[pos + 1])
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {  // s t m d
                    out.append(pos..<(pos + 2))
                    pos += 2
                    continue
                }
                if pos + 2 < end {
                    let n2 = lower(cps[pos + 2])
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                        out.append(pos..<(pos + 3))  // re ve ll
                        pos += 3
                        continue
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !isNewline(c) && cl != .number && (cl == .letter || (pos + 1 < end && cls[pos + 1] == .letter)) {
                var stop = pos + 1
                while stop < end && cls[stop] == .letter { stop += 1 }
                out.append(pos..<stop)
                pos = stop
                continue
            }

            // \p{N}{1,maxDigits}
            if cl == .number {
                var stop = pos
                while stop < end && cls[stop] == .number && stop - pos < maxDigits { stop += 1 }
                out.append(pos..<stop)
                pos = stop
                continue
            }

            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let body = c == 0x20 ? pos + 1 : pos
            if isOther(body) {
                var stop = body + 1
                while isOther(stop) { stop += 1 }
                while stop < end && isNewline(cps[stop]) { stop += 1 }
                out.append(pos..<stop)
                pos = stop
                continue
            }

            // `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`
            var run = 0
            var afterLastNewline = 0
            while pos + run < end && cls[pos + run] == .whitespace {
                if isNewline(cps[pos + run]) { afterLastNewline = pos + run + 1 }
                run += 1
            }
            let stop: Int
            if afterLastNewline > 0 {
                stop = afterLastNewline
            } else if run > 1 && pos + run < end {
                stop = pos + run - 1
            } else {
                stop = pos + max(run, 1)  // run == 0 cannot happen: every scalar has a class
            }
            out.append(pos..<stop)
            pos = stop
        }
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
