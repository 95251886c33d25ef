// gpt quantize and gpt inspect as a user runs them: llama.cpp's per-tensor choices (dry run on the default model),
// real conversions of the tiny GPT-2 (a GGUF file and its Hugging Face folder) that then load and generate, and bad
// input. (The quantizers' bytes are checked against ggml's in CKernelsTests/QuantizeGoldenTests.)
import Foundation
import Testing

@Suite("gpt quantize", .enabled(if: GPTBinary.path != nil, "gpt is not built: run `swift build` or `make test`"))
struct QuantizeCLITests {
    static let resources = GPTBinary.root.appendingPathComponent("Tests/GPT2Tests/Resources").path
    static let tinyGGUF = resources + "/tiny-gpt2-f16.gguf.data"
    static let tinyFolder = resources + "/tiny-gpt2"

    func tempFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gpt-quant-\(getpid())-\(name)").path
    }

    @Test("Q4_K_M on the default model: llama.cpp's mix (dry run)",
          .enabled(if: GPTBinary.model != nil, "the default model is missing: run `make model`"))
    func mixDryRun() throws {
        let r = try GPTBinary.run(["quantize", GPTBinary.model!, tempFile("unused.gguf"), "Q4_K_M", "--dry-run"])
        #expect(r.status == 0, "\(r.stderr)")
        // FFN down: Q6_K in the first and last eighth of the layers and every third between, else Q4_K
        #expect(r.stdout.contains("| blk.0.ffn_down.weight | [1536, 576] | Q4_1 | Q6_K |"), "\(r.stdout)")
        #expect(r.stdout.contains("| blk.4.ffn_down.weight | [1536, 576] | Q4_1 | Q4_K |"), "\(r.stdout)")
        #expect(r.stdout.contains("| blk.5.ffn_down.weight | [1536, 576] | Q4_1 | Q6_K |"))
        // counted layer by layer as llama.cpp does (not in the file's blk.0, blk.1, blk.10, ... order)
        #expect(r.stdout.contains("| blk.10.ffn_down.weight | [1536, 576] | Q4_1 | Q4_K |"))
        // rows of 576 are not whole 256-blocks: Q4_K falls back to Q5_0, Q6_K to Q8_0 (attention V, embedding)
        #expect(r.stdout.contains("| blk.0.attn_q.weight | [576, 576] | Q4_1 | Q5_0 |"))
        #expect(r.stdout.contains("| blk.0.attn_v.weight | [576, 192] | Q4_1 | Q8_0 |"))
        #expect(r.stdout.contains("| token_embd.weight | [576, 49152] | Q8_0 | Q8_0 |"))
        #expect(r.stdout.contains("| blk.0.attn_norm.weight | [576] | F32 | F32 |"))
        // Q2_K and Q3_K fall back to Q4_0 (as llama-quantize's file of the same type has it)
        let q2 = try GPTBinary.run(["quantize", GPTBinary.model!, tempFile("unused.gguf"), "Q2_K", "--dry-run"])
        #expect(q2.stdout.contains("| blk.0.attn_q.weight | [576, 576] | Q4_1 | Q4_0 |"), "\(q2.stdout)")
        #expect(q2.stdout.contains("| blk.0.ffn_down.weight | [1536, 576] | Q4_1 | Q3_K |"), "\(q2.stdout)")
    }

    @Test("GGUF file and Hugging Face folder to each file type: the result loads and generates",
          arguments: ["Q8_0", "Q4_K_M", "Q6_K", "BF16"])
    func convertAndRun(_ type: String) throws {
        for (label, input) in [("gguf", Self.tinyGGUF), ("folder", Self.tinyFolder)] {
            let out = tempFile("\(label).\(type).gguf")
            defer { try? FileManager.default.removeItem(atPath: out) }
            let q = try GPTBinary.run(["quantize", input, out, "--type", type, "-t", "2"])
            #expect(q.status == 0, "\(label) \(type): \(q.stderr)")
            #expect(q.stderr.contains("wrote \(out): \(type)"), "\(q.stderr)")
            let i = try GPTBinary.run(["inspect", out])
            #expect(i.status == 0 && i.stdout.contains("runs here on:"), "\(label) \(type): \(i.stdout)")
            let g = try GPTBinary.run(["generate", "-m", out, "-p", "Hello", "-n", "4", "--temperature", "0",
                                       "--quiet"])
            #expect(g.status == 0, "\(label) \(type): \(g.stderr)")
        }
    }

    @Test("requantizing warns")
    func requantizeWarns() throws {
        let q8 = tempFile("q8.gguf"), q4 = tempFile("q4.gguf")
        defer { for f in [q8, q4] { try? FileManager.default.removeItem(atPath: f) } }
        #expect(try GPTBinary.run(["quantize", Self.tinyGGUF, q8, "Q8_0"]).status == 0)
        let r = try GPTBinary.run(["quantize", q8, q4, "Q4_0"])
        #expect(r.status == 0 && r.stderr.contains("warning:") && r.stderr.contains("already quantized (Q8_0)"),
                "\(r.stderr)")
    }

    @Test("bad input: clear message, non-zero exit")
    func badInput() throws {
        let out = tempFile("bad.gguf")
        for (args, message) in [
            (["quantize", Self.tinyGGUF, out, "Q9_X"], "unknown type 'Q9_X'"),
            (["quantize", Self.tinyGGUF, out], "give the file type"),
            (["quantize", Self.tinyGGUF, out, "Q8_0", "--type", "Q4_0"], "once"),
            (["quantize", "/nonexistent.gguf", out, "Q8_0"], "no model at"),
            (["quantize", Self.tinyGGUF, Self.tinyGGUF, "Q8_0"], "replace the input"),
            (["quantize", "/etc/hostname", out, "Q8_0"], "GGUF"),
        ] {
            let r = try GPTBinary.run(args)
            #expect(r.status != 0, "\(args) exited 0")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("inspect shows a file it cannot run, and why")
    func inspectUnrunnable() throws {
        // a GGUF with an architecture SwiftGPT does not run: the tiny GPT-2 with its architecture renamed
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.tinyGGUF))
        var patched = [UInt8](bytes)
        // "gpt2" as a key prefix ("gpt2.block_count") or as a string value (length 4, then the bytes) becomes "gpu2":
        // same length, still a valid GGUF
        let gpt2 = Array("gpt2".utf8), length4: [UInt8] = [4, 0, 0, 0, 0, 0, 0, 0]
        for i in 8..<(patched.count - 4) where Array(patched[i..<i + 4]) == gpt2 {
            if patched[i + 4] == UInt8(ascii: ".") || Array(patched[i - 8..<i]) == length4 { patched[i + 2] = UInt8(ascii: "u") }
        }
        let path = tempFile("gpu2.gguf")
        try Data(patched).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try GPTBinary.run(["inspect", path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("architecture: gpu2"), "\(r.stdout)")
        #expect(r.stdout.contains("cannot run here:") && r.stdout.contains("'gpu2' is not supported"), "\(r.stdout)")
        #expect(r.stdout.contains("F16 11 tensors"), "\(r.stdout)")
    }
}
