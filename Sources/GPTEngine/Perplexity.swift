// Perplexity: llama-perplexity's measurement, so the numbers compare with llama.cpp's on the same text and file.
//
// The text is tokenized once (BOS first when the tokenizer adds one, special tokens not parsed) and cut into chunks
// of nCtx tokens; leftover tokens after the last whole chunk are dropped. Each chunk runs from an empty KV cache with
// its first token replaced by BOS when the model adds BOS. Only the second half is scored: the logits at positions
// first = nCtx/2 ..< nCtx-1 predict the tokens at first+1 ..< nCtx, so every scored token has at least nCtx/2 tokens
// of context. PPL = exp(mean NLL); its uncertainty is ppl * sqrt((mean(NLL²) - mean(NLL)²) / (count - 1)), as
// llama-perplexity prints it ("Final estimate: PPL = … +/- …").
//
// KL divergence against a base run (another format or backend): the base run saves, for every scored token, the
// log-probability of the actual next token plus its top-K distribution (K = `KLDivergenceBase.topK`); the
// second run reports llama.cpp's statistics from it (PPL of both, mean KLD, top-1 agreement, Δp). The file is a
// top-K summary, not llama.cpp's 16-bit log-probabilities of the whole vocabulary: 8 + 8K bytes per token instead
// of 2 * nVocab (520 B instead of 98 KB for SmolLM2's 49152 tokens), so a run over a long text stays small. KL is
// then computed over the base's top-K tokens plus one bucket for the rest of the vocabulary: a lower bound of the
// full sum that misses only the divergence inside the tail (llama.cpp itself skips tokens with log p < -16).
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Running sums of negative log-likelihoods, with llama-perplexity's estimate and uncertainty.
public struct NLLStats: Sendable {
    public private(set) var count = 0
    public private(set) var sum = 0.0
    public private(set) var sumSquares = 0.0

    public init() {}

    public mutating func add(_ nll: Double) {
        count += 1
        sum += nll
        sumSquares += nll * nll
    }

    public var mean: Double { count > 0 ? sum / Double(count) : 0 }
    /// exp(mean NLL).
    public var perplexity: Double { exp(mean) }
    /// Standard error of the mean NLL: sqrt((mean(NLL²) - mean²) / (count - 1)); 0 with fewer than two values.
    public var meanUncertainty: Double {
        guard count > 1 else { return 0 }
        let variance = sumSquares / Double(count) - mean * mean
        return variance > 0 ? (variance / Double(count - 1)).squareRoot() : 0
    }
    /// The perplexity's uncertainty as llama-perplexity prints it: ppl * meanUncertainty.
    public var perplexityUncertainty: Double { perplexity * meanUncertainty }
}

/// One row of logits as log-probabilities.
struct LogSoftmaxRow {
    let maxIndex: Int  // argmax (first index on ties, like llama.cpp)
    let maxLogit: Float
    let logSumExp: Double  // log Σ exp(logit - maxLogit)

    init(_ row: UnsafeBufferPointer<Float>) {
        var m = row[0], mi = 0
        for i in 1..<row.count where row[i] > m {
            m = row[i]
            mi = i
        }
        var sum = 0.0
        for v in row { sum += Double(expf(v - m)) }
        maxIndex = mi
        maxLogit = m
        logSumExp = log(sum)
    }

    func logProb(_ logit: Float) -> Double { Double(logit - maxLogit) - logSumExp }
}

public enum PerplexityError: Error, CustomStringConvertible, Equatable {
    case badContext(Int)
    case tooFewTokens(Int, nCtx: Int)

    public var description: String {
        switch self {
        case .badContext(let n): "perplexity needs an even context of at least 4 tokens, not \(n)"
        case .tooFewTokens(let n, let nCtx):
            "the text has \(n) tokens; perplexity with a context of \(nCtx) needs at least \(2 * nCtx) "
                + "(give a longer text or a smaller --ctx)"
        }
    }
}

public enum Perplexity {
    /// What one finished chunk reports.
    public struct Progress: Sendable {
        public var chunk: Int  // 1-based
        public var chunks: Int
        public var stats: NLLStats  // over every chunk so far
        public var kl: KLDivergenceStats?  // with a base file
        public var seconds: Double  // this chunk's
    }

    /// The text's tokens as llama-perplexity takes them: BOS when the tokenizer adds it, special tokens as text.
    public static func tokenize(_ text: String, _ model: LanguageModel) -> [Int32] {
        model.tokenizer.encode(text, parseSpecial: false)
    }

    /// Scores `tokens` in chunks of `nCtx` (the model's KV cache must hold nCtx positions).
    /// - Parameters:
    ///   - chunks: at most this many chunks (nil: all whole chunks).
    ///   - saveBase: writes the base file for a later KL-divergence run.
    ///   - compare: a base file to compare against (its tokens and nCtx are used; `tokens` must be them).
    public static func run(
        _ model: LanguageModel, tokens: [Int32], nCtx: Int, chunks: Int? = nil, saveBase: KLDivergenceBase.Writer? = nil,
        compare: KLDivergenceBase? = nil, progress: (Progress) -> Void = { _ in }
    ) throws -> (stats: NLLStats, kl: KLDivergenceStats?) {
        guard nCtx >= 4, nCtx % 2 == 0 else { throw PerplexityError.badContext(nCtx) }
        // A text needs two contexts' worth (llama-perplexity's rule); a KL-divergence base holds exactly the chunks it
        // scored, so a base made with --chunks 1 has only nCtx tokens and must still be usable.
        guard tokens.count >= (compare == nil ? 2 * nCtx : nCtx) else {
            throw PerplexityError.tooFewTokens(tokens.count, nCtx: nCtx)
        }
        guard nCtx <= model.executor.nCtx else {
            throw EngineError.contextOverflow(needed: nCtx, limit: model.executor.nCtx)
        }
        let nChunks = min(chunks ?? Int.max, tokens.count / nCtx)
        let nVocab = model.config.nVocab
        let first = nCtx / 2
        let bos = model.tokenizer.addBOS ? model.tokenizer.bosID : nil
        var stats = NLLStats()
        var kl = compare.map { _ in KLDivergenceStats() }
        try saveBase?.begin(tokens: Array(tokens[0..<nChunks * nCtx]), nCtx: nCtx, nVocab: nVocab, chunks: nChunks)
        for c in 0..<nChunks {
            let started = Date()
            var chunk = Array(tokens[c * nCtx..<(c + 1) * nCtx])
            if let bos { chunk[0] = bos }
            model.executor.reset()
            let logits = try model.executor.forward(chunk, logitsFrom: first)
            // row r predicts token first + r + 1
            try logits.withUnsafeBufferPointer { all in
                for r in 0..<(nCtx - 1 - first) {
                    let row = UnsafeBufferPointer(rebasing: all[r * nVocab..<(r + 1) * nVocab])
                    let next = Int(tokens[c * nCtx + first + r + 1])
                    let ls = LogSoftmaxRow(row)
                    let logP = ls.logProb(row[next])
                    stats.add(-logP)
                    try saveBase?.add(row, ls, logProbNext: logP)
                    if let compare {
                        kl!.add(compare.record(chunk: c, row: r), row: row, ls, logProbNext: logP)
                    }
                }
            }
            progress(Progress(chunk: c + 1, chunks: nChunks, stats: stats, kl: kl,
                              seconds: Date().timeIntervalSince(started)))
        }
        try saveBase?.finish()
        return (stats, kl)
    }
}

// MARK: - KL divergence

/// A base run's top-K log-probabilities, read from the file `Perplexity.run(saveBase:)` wrote.
///
/// Layout (little-endian): magic "SGPTKLD1"; uint32 nCtx, nVocab, chunks, topK; int32 tokens[chunks * nCtx]; then
/// for each chunk and each scored row (nCtx - 1 - nCtx/2 per chunk): float32 log p(next token), float32 p(rest)
/// (the probability of every token outside the top K), and topK pairs (int32 token, float32 log p), most likely
/// first.
public struct KLDivergenceBase: Sendable {
    public static let magic = Array("SGPTKLD1".utf8)
    /// Tokens kept per position: the top 64 hold nearly all the mass of a language model's next-token distribution.
    public static let topK = 64

    public struct Record: Sendable {
        public var logProbNext: Float
        public var pRest: Float
        public var ids: ArraySlice<Int32>
        public var logProbs: ArraySlice<Float>
    }

    public let nCtx: Int
    public let nVocab: Int
    public let chunks: Int
    public let topK: Int
    public let tokens: [Int32]
    private let logProbNext: [Float]
    private let pRest: [Float]
    private let ids: [Int32]
    private let logProbs: [Float]

    var rowsPerChunk: Int { nCtx - 1 - nCtx / 2 }

    /// Reads and checks a base file (sizes against the file's length; token ids against nVocab).
    public init(path: String) throws {
        func bad(_ detail: String) -> EngineError { .badModel(path: path, "not a KL-divergence base file: \(detail)") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.badModel(path: path, "cannot read the KL-divergence base file")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 24, Array(bytes[0..<8]) == Self.magic else { throw bad("wrong magic") }
        func u32(_ at: Int) -> Int {
            Int(UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
        }
        let nCtx = u32(8), nVocab = u32(12), chunks = u32(16), topK = u32(20)
        guard (4...1 << 20).contains(nCtx), nCtx % 2 == 0 else { throw bad("context \(nCtx)") }
        guard (1...1 << 24).contains(nVocab) else { throw bad("vocabulary \(nVocab)") }
        guard (1...nVocab).contains(topK), topK <= 4096 else { throw bad("top-K \(topK)") }
        let rows = nCtx - 1 - nCtx / 2
        let recordBytes = 8 + 8 * topK
        // chunks is bounded by the file's length before anything is allocated
        guard chunks >= 1, chunks <= (bytes.count - 24) / (nCtx * 4 + rows * recordBytes),
              bytes.count == 24 + chunks * (nCtx * 4 + rows * recordBytes)
        else { throw bad("\(chunks) chunks do not match the file's \(bytes.count) bytes") }
        var offset = 24
        func floats(_ n: Int) -> [Float] {
            defer { offset += 4 * n }
            return (0..<n).map { Float(bitPattern: UInt32(u32(offset + 4 * $0))) }
        }
        let tokens = (0..<chunks * nCtx).map { Int32(truncatingIfNeeded: u32(offset + 4 * $0)) }
        offset += chunks * nCtx * 4
        guard tokens.allSatisfy({ $0 >= 0 && Int($0) < nVocab }) else { throw bad("token id outside the vocabulary") }
        var next: [Float] = [], rest: [Float] = [], ids: [Int32] = [], lps: [Float] = []
        for _ in 0..<chunks * rows {
            next.append(contentsOf: floats(1))
            rest.append(contentsOf: floats(1))
            for _ in 0..<topK {
                let id = Int32(truncatingIfNeeded: u32(offset))
                guard id >= 0 && Int(id) < nVocab else { throw bad("token id \(id) outside the vocabulary") }
                ids.append(id)
                lps.append(Float(bitPattern: UInt32(u32(offset + 4))))
                offset += 8
            }
        }
        (self.nCtx, self.nVocab, self.chunks, self.topK, self.tokens) = (nCtx, nVocab, chunks, topK, tokens)
        logProbNext = next
        pRest = rest
        self.ids = ids
        logProbs = lps
    }

    /// Scored row `row` (0 ..< nCtx-1-nCtx/2) of chunk `chunk`.
    public func record(chunk: Int, row: Int) -> Record {
        let i = chunk * rowsPerChunk + row
        return Record(logProbNext: logProbNext[i], pRest: pRest[i], ids: ids[i * topK..<(i + 1) * topK],
                      logProbs: logProbs[i * topK..<(i + 1) * topK])
    }

    /// Streams a base file out as the run goes.
    public final class Writer {
        public let path: String
        private var handle: FileHandle?
        private var buffer: [UInt8] = []

        public init(path: String) throws {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path)
            else { throw EngineError.badModel(path: path, "cannot create the KL-divergence base file") }
            self.path = path
            handle = h
        }

        func begin(tokens: [Int32], nCtx: Int, nVocab: Int, chunks: Int) throws {
            buffer = KLDivergenceBase.magic
            for v in [nCtx, nVocab, chunks, KLDivergenceBase.topK] { put(UInt32(v)) }
            for t in tokens { put(UInt32(bitPattern: t)) }
            try flush()
        }

        func add(_ row: UnsafeBufferPointer<Float>, _ ls: LogSoftmaxRow, logProbNext: Double) throws {
            let top = Sampler.partialTopK(row, KLDivergenceBase.topK)
            var inTop = 0.0
            for i in top { inTop += exp(ls.logProb(row[i])) }
            put(Float(logProbNext).bitPattern)
            put(Float(max(0, 1 - inTop)).bitPattern)
            for i in top {
                put(UInt32(i))
                put(Float(ls.logProb(row[i])).bitPattern)
            }
            if buffer.count > 1 << 20 { try flush() }
        }

        func finish() throws {
            try flush()
            try handle?.close()
            handle = nil
        }

        private func put(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) } }

        private func flush() throws {
            try handle?.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }
}

/// llama-perplexity's KL-divergence statistics (its kl_divergence_result), from a base file's top-K summary.
public struct KLDivergenceStats: Sendable {
    public private(set) var nll = NLLStats()  // this run
    public private(set) var nllBase = NLLStats()  // the base run
    public private(set) var sumNLLProduct = 0.0
    public private(set) var kld = NLLStats()  // KL(base ‖ this) per token, in the same running sums
    public private(set) var sameTop = 0
    /// Δp = p(next token) - p_base(next token)
    public private(set) var sumDeltaP = 0.0
    public private(set) var sumDeltaP2 = 0.0
    public private(set) var sumDeltaP4 = 0.0
    public private(set) var maxAbsDeltaP = 0.0
    public private(set) var kldValues: [Float] = []

    public init() {}

    mutating func add(_ base: KLDivergenceBase.Record, row: UnsafeBufferPointer<Float>, _ ls: LogSoftmaxRow,
                      logProbNext: Double) {
        nll.add(-logProbNext)
        nllBase.add(-Double(base.logProbNext))
        sumNLLProduct += logProbNext * Double(base.logProbNext)
        // KL over the base's top K plus one bucket for the rest of the vocabulary
        var kl = 0.0, qTop = 0.0
        for (id, lp) in zip(base.ids, base.logProbs) {
            let lq = ls.logProb(row[Int(id)])
            qTop += exp(lq)
            kl += exp(Double(lp)) * (Double(lp) - lq)
        }
        let pRest = Double(base.pRest), qRest = max(1 - qTop, 1e-30)
        if pRest > 0 { kl += pRest * log(pRest / qRest) }
        kld.add(kl)
        kldValues.append(Float(kl))
        if base.ids.first.map(Int.init) == ls.maxIndex { sameTop += 1 }
        let dp = exp(logProbNext) - exp(Double(base.logProbNext))
        sumDeltaP += dp
        sumDeltaP2 += dp * dp
        sumDeltaP4 += dp * dp * dp * dp
        maxAbsDeltaP = max(maxAbsDeltaP, abs(dp))
    }

    public var count: Int { nll.count }
    /// Fraction of tokens whose most likely next token is the base's.
    public var sameTopFraction: Double { count > 0 ? Double(sameTop) / Double(count) : 0 }
    public var sameTopUncertainty: Double {
        let p = sameTopFraction
        return count > 1 ? (p * (1 - p) / Double(count - 1)).squareRoot() : 0
    }
    /// Covariance of the two runs' mean NLLs (llama.cpp's, 0 under 10 tokens).
    public var nllCovariance: Double {
        guard count >= 10 else { return 0 }
        let n = Double(count)
        return (sumNLLProduct / n - nll.mean * nllBase.mean) / (n - 1)
    }
    /// ln(PPL / PPL_base) and its uncertainty.
    public var logPerplexityRatio: (value: Double, uncertainty: Double) {
        let u = nll.meanUncertainty, ub = nllBase.meanUncertainty
        return (nll.mean - nllBase.mean, max(0, u * u + ub * ub - 2 * nllCovariance).squareRoot())
    }
    /// Root mean square of Δp and its uncertainty.
    public var rmsDeltaP: (value: Double, uncertainty: Double) {
        guard count > 1 else { return (0, 0) }
        let n = Double(count), mse = sumDeltaP2 / n
        let v = sumDeltaP4 / n - mse * mse
        let mseU = v > 0 && count > 10 ? (v / (n - 1)).squareRoot() : 0
        let rms = mse.squareRoot()
        return (rms, rms > 0 ? 0.5 / rms * mseU : 0)
    }
    public var medianKLD: Double {
        let s = kldValues.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 0 ? Double(s[s.count / 2] + s[s.count / 2 - 1]) / 2 : Double(s[s.count / 2])
    }
    public var maxKLD: Double { Double(kldValues.max() ?? 0) }
}
