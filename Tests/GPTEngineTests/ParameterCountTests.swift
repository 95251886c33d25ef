// Parameter counts in the lessons' form: GPT-3's 175,181,291,520 weights in 27,938 matrices, GPT-2 small's 124M.
import GPTEngine
import Testing

@Suite("Parameter counts")
struct ParameterCountTests {
    @Test("GPT-3 by group, as the lessons count it")
    func gpt3() throws {
        let c = try #require(ParameterCount.preset("gpt3"))
        #expect(c.total == 175_181_291_520)
        #expect(c.matrices == 27_938)
        let groups = Dictionary(uniqueKeysWithValues: c.groups.map { ($0.name, $0.count) })
        #expect(groups["embedding"] == 617_558_016)
        #expect(groups["unembedding"] == 617_558_016)
        for name in ["key", "query", "value", "output"] { #expect(groups[name] == 14_495_514_624) }
        for name in ["up", "down"] { #expect(groups[name] == 57_982_058_496) }
    }

    @Test("GPT-2 small with biases, norms and position embeddings is 124,439,808")
    func gpt2() throws {
        let c = try #require(ParameterCount.preset("gpt2"))
        #expect(c.total + c.leftOutTotal == 124_439_808)
    }

    @Test("SmolLM2-135M: grouped-query attention and a gated MLP")
    func smollm2() throws {
        let c = try #require(ParameterCount.preset("smollm2-135m"))
        // 30 layers of (576² q + 2·576·192 kv + 576² o + 3·576·1536 mlp) + 49152·576 tied embedding
        #expect(c.total == 30 * (576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536) + 49152 * 576)
        #expect(c.groups.contains { $0.name == "gate" })
    }

    @Test("Gemma 3 270M: the head size (256) is not the width over the heads (640 / 4)")
    func gemma3() throws {
        let c = try ParameterCount(nLayers: 18, nEmbd: 640, nFF: 2048, nHeads: 4, nKVHeads: 1, nVocab: 262_144,
                                   nCtx: 32768, gated: true, tied: true, biases: false, learnedPositions: false,
                                   headDim: 256)
        let groups = Dictionary(uniqueKeysWithValues: c.groups.map { ($0.name, $0.count) })
        #expect(groups["query"] == 18 * 640 * 1024 && groups["output"] == 18 * 1024 * 640)
        #expect(groups["key"] == 18 * 640 * 256 && groups["value"] == 18 * 640 * 256)
        // the model card's 268,098,176 less the norm gains (18 · (4 · 640 + 2 · 256) + 640 = 55,936)
        #expect(c.total == 268_042_240)
        #expect(throws: EngineError.self) {
            try ParameterCount(nLayers: 1, nEmbd: 640, nFF: 1, nHeads: 4, nKVHeads: 1, nVocab: 1, nCtx: 1,
                               gated: true, tied: true, biases: false, learnedPositions: false, headDim: 0)
        }
    }
}
