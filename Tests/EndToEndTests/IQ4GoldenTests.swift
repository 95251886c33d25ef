// IQ4_NL and IQ4_XS on a real model, against llama.cpp, fast enough for `make test`: the default model (Q4_1)
// requantized by `gpt quantize MODEL OUT IQ4_NL|IQ4_XS` (IQ4_NL: 207 IQ4_NL matrices; IQ4_XS: 27 IQ4_XS, the
// FFN-down matrices, and 180 IQ4_NL, whose rows of 576 are not whole super-blocks of 256; both keep 3 Q5_K FFN-down
// matrices and a Q8_0 token embedding, as llama-quantize chooses without an importance matrix). The rule is
// QuantGoldenTests': on every backend (opencl: one prompt) each file's first `QuantGolden.steps` greedy tokens of
// three prompts equal llama.cpp's up to near-ties (llama.cpp's logit for our token within 0.5 of its top one; the
// comparison of that prompt stops there).
//
// Golden data: Golden/iq4.json, made by `scripts/make_quant_golden.py --types IQ4_NL,IQ4_XS --out
// Tests/EndToEndTests/Golden/iq4.json`: it runs the same `gpt quantize` commands, records each file's SHA-256, then
// runs llama.cpp on exactly those bytes (greedy: libllama through its ctypes bindings, F32 KV cache, flash attention
// off, llama.cpp's five best [token, logit] at every step; plus llama-perplexity, compared with `gpt perplexity` in
// Benchmarks/results/iq4.md). It also records that every tensor's data equals what `llama-quantize --allow-requantize`
// makes from the same input (272/272), so the proof covers llama.cpp's own IQ4 files too.
//
// The files are made by the test itself into the model cache's `variants/swiftgpt/` (QuantVariants.file: reused when
// their SHA-256 matches), so it needs nothing but the default model that `make test` fetches.
import Foundation
import SwiftGPT
import Testing

/// iq4.json (scripts/make_quant_golden.py; quant.json's layout).
enum IQ4Golden {
    static let file = Top5Golden.load("Golden/iq4")
}

@Suite("IQ4 formats on the real model (llama.cpp)", .enabled(if: TestModel.path != nil, TestModel.missingReason),
       .enabled(if: QuantVariants.writable, QuantVariants.unwritableReason), .serialized)
struct IQ4GoldenTests {
    @Test("greedy continuations equal llama.cpp's up to near-ties on every backend",
          arguments: IQ4Golden.file.variants.map(\.type))
    func variant(_ type: String) throws {
        try QuantGolden.check(IQ4Golden.file.variant(type),
                              regenerate: "scripts/make_quant_golden.py --types IQ4_NL,IQ4_XS --out "
                                  + "Tests/EndToEndTests/Golden/iq4.json")
    }
}
