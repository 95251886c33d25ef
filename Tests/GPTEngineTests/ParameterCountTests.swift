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
}
