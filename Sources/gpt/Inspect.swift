// gpt inspect: what is in a GGUF file: architecture, hyper-parameters, tokenizer, chat template, tensors.
import ArgumentParser
import Foundation
import SwiftGPT

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's architecture, hyper-parameters, tokenizer, chat template and tensor table.")

    @Argument(help: "The GGUF file (default: $GPT_MODEL or the cached default model).")
    var model: String?
    @Flag(help: "Print every tensor (default: the first 12 and a summary).")
    var all = false

    func run() throws {
        let path = model ?? ModelLocator.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no model file at \(path)") }
        let file = try GGUFFile(path: path)
        let hp = try ModelHyperParameters(file)
        let config = try ModelConfig(hp, path: path)
        var out = "\(path)\n  GGUF v\(file.version), \(file.fileSize) bytes, \(file.tensors.count) tensors, "
            + "\(file.metadata.count) metadata keys, alignment \(file.alignment)\n"
        if let name = file.value("general.name")?.string { out += "  name: \(name)\n" }
        out += "  architecture: \(config.architecture.rawValue): \(config.nLayers) layers, nEmbd \(config.nEmbd), "
            + "nFF \(config.nFF), heads \(config.nHeads) (KV \(config.nKVHeads)), headDim \(config.headDim), "
            + "context \(config.nCtxTrain), vocab \(config.nVocab)\n"
        if config.usesRope { out += "  rope: freq base \(config.ropeFreqBase), \(config.ropeStyle) pairs\n" }
        out += "  norm eps: \(config.normEps)\n"
        let tokenizer = try BPETokenizer(gguf: file)
        out += "  tokenizer: \(file.value("tokenizer.ggml.model")?.string ?? "?") / pre-tokenizer "
            + "\(file.value("tokenizer.ggml.pre")?.string ?? "default"), \(tokenizer.vocabSize) tokens, "
            + "BOS \(tokenizer.bosID.map(String.init) ?? "none"), EOS \(tokenizer.eosID.map(String.init) ?? "none")\n"
        let template = ChatTemplate.detect(file.value("tokenizer.chat_template")?.string)
        out += "  chat template: \(template?.rawValue ?? "none recognised")\n"
        var byFormat: [String: (Int, Int)] = [:]
        for t in file.tensors {
            let elements = t.shape.reduce(1, *)
            byFormat[t.format.rawValue, default: (0, 0)].0 += elements
            byFormat[t.format.rawValue, default: (0, 0)].1 += t.byteCount
        }
        out += "  formats: " + byFormat.sorted { $0.key < $1.key }.map {
            "\($0.key) \($0.value.0) weights in \($0.value.1) bytes"
        }.joined(separator: ", ") + "\n\n"
        out += "| tensor | shape | format | bytes |\n| --- | --- | --- | ---: |\n"
        let shown = all ? file.tensors : Array(file.tensors.prefix(12))
        for t in shown { out += "| \(t.name) | \(t.shape) | \(t.format) | \(t.byteCount) |\n" }
        if shown.count < file.tensors.count { out += "| … \(file.tensors.count - shown.count) more (--all) | | | |\n" }
        out += "\n" + Params.render(try config.parameterCount(tied: file.tensor("output.weight") == nil), title: "parameters")
        Console.out(out)
    }
}
