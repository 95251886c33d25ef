// Gemma 3 270M (Q4_K_M, the real weights) against llama.cpp, on every backend: greedy continuations and logits of
// prompts given as llama.cpp's token ids (Golden/gemma3, made by scripts/make_golden.py --prompt-set gemma3; see
// Golden/README.md). "count" is about 900 tokens long, past the 512-key sliding window of the local layers.
// Skipped when the file is absent: it is 242 MB (`make test` does not fetch it; issue 14 says where it comes from).
import Foundation
import SwiftGPT
import Testing

enum Gemma3Model {
    static let path = (ModelLocator.defaultModelPath as NSString).deletingLastPathComponent
        + "/gemma-3-270m-q4_k_m.gguf"
    static let present = FileManager.default.fileExists(atPath: path)
    static let missingReason: Comment = "Gemma 3 270M is not at \(path) (242 MB; fetch it with `gpt pull gemma3-270m`)"

    /// The executor alone: prompts come as token ids, so no tokenizer is needed.
    static func executor(_ backend: String, nCtx: Int = 1024, maxBatch: Int = 512) throws -> TransformerExecutor {
        let be = try BackendRegistry.standard.make(backend, options: BackendOptions(threads: 2))
        let file = try GGUFFile(path: path)
        return try TransformerExecutor(architecture: try Architectures.make(file), source: file, backend: be,
                                       nCtx: nCtx, maxBatch: maxBatch, kvFormat: .f32)
    }
}

@Suite("Gemma 3 270M (llama.cpp)", .enabled(if: Gemma3Model.present, Gemma3Model.missingReason), .serialized)
struct Gemma3Tests {
    static let greedy = GoldenGreedy.load("Golden/gemma3/greedy")
    static let logits = GoldenLogits.load("Golden/gemma3/logits")

    @Test("the file reads as gemma3: head size 256, window 512, every sixth layer global")
    func hyperParameters() throws {
        let arch = try #require(try Architectures.make(GGUFFile(path: Gemma3Model.path)) as? Gemma3)
        #expect(arch.config.headDim == 256 && arch.config.nHeads == 4 && arch.config.nKVHeads == 1)
        #expect(arch.window == 512 && arch.localRopeBase == 10000 && arch.config.ropeFreqBase == 1_000_000)
        #expect((0..<18).filter { !arch.isLocal($0) } == [5, 11, 17])
    }

    @Test("the parameter count covers every tensor: 268,098,176 as llama.cpp reports (268 M)")
    func parameterCount() throws {
        let file = try GGUFFile(path: Gemma3Model.path)
        try expectCountsEveryTensor(file)
        let count = try Architectures.make(file).parameterCount(file)
        // the model card's 268,098,176: post-norms and per-head norms included
        #expect(count.total + count.leftOutTotal == 268_098_176)
    }

    @Test("greedy continuation equals llama.cpp's", arguments: TestModel.backends)
    func greedyTokens(backend: String) throws {
        let ex = try Gemma3Model.executor(backend)
        for golden in Self.greedy.prompts {
            ex.reset()
            var logits = try ex.forward(golden.prompt_tokens)
            var produced: [Int32] = []
            for _ in 0..<golden.n_predict {
                produced.append(Int32(Sampler.argmax(logits)))
                if produced.count < golden.n_predict { logits = try ex.forward([produced.last!]) }
            }
            if let mismatch = GoldenGreedy.firstMismatch(produced, golden) {
                Issue.record("\(golden.name) on \(backend): \(mismatch)")
            }
        }
    }

    @Test("last-position logits are close to llama.cpp's", arguments: TestModel.backends)
    func lastLogits(backend: String) throws {
        let ex = try Gemma3Model.executor(backend)
        for golden in Self.logits.prompts {
            ex.reset()
            let ours = try ex.forward(golden.prompt_tokens)
            let theirs = golden.logits  // the first n_stored token ids
            let e = nmse(Array(ours.prefix(theirs.count)), theirs)
            // 3e-2 as for SmolLM2 (GoldenTests.logits): 8-bit activations on both sides make the logits chaotic at
            // the 1e-2 level; a wrong norm, window or RoPE base gives NMSE > 0.1.
            #expect(e < 3e-2, "\(golden.name) on \(backend): NMSE \(e)")
            let top = Sampler.argmax(ours)
            #expect(top == golden.argmax || (golden.max - golden.second_value < 0.5 && top == golden.second),
                    "\(golden.name) on \(backend): argmax \(top), llama.cpp \(golden.argmax)")
        }
    }

    @Test("a local layer over a long context gives the same logits windowed as a batch and one token at a time")
    func windowSteps() throws {
        let ex = try Gemma3Model.executor("blas", nCtx: 700)
        let prompt = Array(Self.greedy.prompts.first { $0.name == "count" }!.prompt_tokens.prefix(600))
        let batched = try ex.forward(prompt)
        ex.reset()
        _ = try ex.forward(Array(prompt.prefix(590)))
        var stepped: [Float] = []
        for id in prompt.suffix(10) { stepped = try ex.forward([id]) }
        #expect(nmse(stepped, batched) < 1e-8, "NMSE \(nmse(stepped, batched))")
    }

    @Test("the local layers' ring of window + batch positions gives the full cache's logits", arguments: TestModel.backends)
    func ringEqualsFullCache(backend: String) throws {
        // Passes of 64 rows: the 15 local layers keep 512 + 64 = 576 positions; the 900-token prompt wraps them.
        let ex = try Gemma3Model.executor(backend, nCtx: 1024, maxBatch: 64)
        #expect(ex.layerWindows == (0..<18).map { $0 % 6 == 5 ? 0 : 512 })
        let ring = try ex.makeCache(slots: 1, nCtx: 1024), full = try ex.makeCache(slots: 1, nCtx: 1024, rings: false)
        #expect(ring.layerRows == ex.layerWindows.map { $0 > 0 ? 576 : 1024 } && full.layerRows.allSatisfy { $0 == 1024 })
        #expect(ring.byteCount == 2 * (15 * 576 + 3 * 1024) * 256 * 4 && full.byteCount == 2 * 18 * 1024 * 256 * 4)
        let prompt = Self.greedy.prompts.first { $0.name == "count" }!.prompt_tokens
        #expect(prompt.count > 512 + 64)
        var logits: [[Float]] = []
        for cache in [ring, full] {
            _ = cache.allocate()
            var out = try ex.forward([SequenceChunk(slot: 0, startPosition: 0, tokens: prompt)], cache: cache)[0]
            var steps = [out]
            for _ in 0..<4 {  // greedy decode after the chunked prefill
                let next = Int32(Sampler.argmax(out))
                out = try ex.forward([SequenceChunk(slot: 0, startPosition: cache.lengths[0], tokens: [next])],
                                     cache: cache)[0]
                steps.append(out)
            }
            logits.append(steps.flatMap { $0 })
        }
        // The same sums, key blocks cut at the ring's wrap: float noise only, which openmp's 8-bit activations turn
        // into ~1e-3 (as different batch shapes do: BatchTests.limit); blas and opencl stay at ~1e-12.
        let limit = backend == "openmp" ? 3e-2 : 1e-9
        #expect(nmse(logits[0], logits[1]) < limit, "\(backend): NMSE \(nmse(logits[0], logits[1]))")

        // Going back: within the ring's reach the prefix is kept; farther, the ring reports it lost (the caller
        // feeds the tokens again) and the executor refuses a chunk there rather than attend to overwritten keys.
        let end = ring.lengths[0]
        #expect(ring.canResume(0, at: end - 60) && !ring.canResume(0, at: end - 100) && full.canResume(0, at: 10))
        let other = try ex.makeCache(slots: 2, nCtx: 1024)
        _ = other.allocate()
        _ = other.allocate()
        _ = try ex.forward([SequenceChunk(slot: 0, startPosition: 0, tokens: prompt, logits: .none)], cache: other)
        #expect(throws: EngineError.self) { try other.copyPrefix(from: 0, to: 1, count: 200) }
        try other.copyPrefix(from: 0, to: 1, count: prompt.count - 40)
        #expect(throws: EngineError.self) {
            try ex.forward([SequenceChunk(slot: 0, startPosition: 200, tokens: [prompt[200]])], cache: other)
        }
        #expect(other.truncate(0, to: 200) == 0 && other.truncate(1, to: prompt.count - 41) == prompt.count - 41)
        // the copied prefix continues as the original would
        let resumed = try ex.forward([SequenceChunk(slot: 1, startPosition: prompt.count - 41,
                                                    tokens: Array(prompt.suffix(41)))], cache: other)[0]
        #expect(nmse(resumed, Array(logits[1].prefix(resumed.count))) < limit)
    }
}
