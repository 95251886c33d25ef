// gpt inspect: what is in a GGUF file: architecture, hyper-parameters, tokenizer, chat template, tensor formats; for
// a file it cannot run (architecture, tokenizer or tensor formats), everything it can read and the reasons why.
import ArgumentParser
import Foundation
import SwiftGPT

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's architecture, hyper-parameters, tokenizer, chat template and tensor table.")

    @Argument(help: "The GGUF file; without one, $GPT_MODEL or the cached default model.")
    var file: String?
    @Option(name: [.short, .long], help: "The GGUF file, as the other commands take it.")
    var model: String?
    @Flag(help: "Print every tensor (default: the first 12 and a summary).")
    var all = false

    func validate() throws {
        if file != nil && model != nil { throw ValidationError("give the model once: as an argument or with --model") }
        try ModelOptions.check(file ?? model)
    }

    func run() throws {
        let path = ModelOptions.path(file ?? model)
        let file = try GGUFFile(path: path)
        // Everything below the header is shown as far as it can be read; what stops the model from running here is
        // collected in `problems` and printed at the end.
        var problems: [String] = []
        var out = "\(path)\n  GGUF v\(file.version), \(file.fileSize) bytes, \(file.tensors.count) tensors, "
            + "\(file.metadataKeys.count) metadata keys, alignment \(file.alignment)\n"
        if let name = file.value("general.name")?.string { out += "  name: \(name)\n" }
        var architecture: (any ModelArchitecture)?
        do {
            let arch = try Architectures.make(file)
            let c = arch.config
            architecture = arch
            out += "  architecture: \(c.architecture): \(c.nLayers) layers, nEmbd \(c.nEmbd), "
                + "nFF \(c.nFF), heads \(c.nHeads) (KV \(c.nKVHeads)), headDim \(c.headDim), "
                + "context \(c.nCtxTrain), vocab \(c.nVocab)\n"
            if file.value("\(c.architecture).rope.freq_base") != nil { out += "  rope: freq base \(c.ropeFreqBase)\n" }
            out += "  norm eps: \(c.normEps)\n"
        } catch {
            out += "  architecture: \(file.value("general.architecture")?.string ?? "not given")\n"
            problems.append("\(error)")
        }
        do {
            let tokenizer = try BPETokenizer(gguf: file)
            out += "  tokenizer: \(file.value("tokenizer.ggml.model")?.string ?? "?") / pre-tokenizer "
                + "\(file.value("tokenizer.ggml.pre")?.string ?? "default"), \(tokenizer.vocabSize) tokens, "
                + "BOS \(tokenizer.bosID.map(String.init) ?? "none"), EOS \(tokenizer.eosID.map(String.init) ?? "none")\n"
        } catch {
            out += "  tokenizer: \(file.value("tokenizer.ggml.model")?.string ?? "none")\n"
            problems.append("\(error)")
        }
        let template = ChatTemplate.detect(file.value("tokenizer.chat_template")?.string)
        out += "  chat template: \(template?.rawValue ?? "none recognised")\n"
        var byFormat: [WeightFormat: (tensors: Int, weights: Int, bytes: Int)] = [:]
        for t in file.tensors {
            byFormat[t.format, default: (0, 0, 0)].tensors += 1
            byFormat[t.format, default: (0, 0, 0)].weights += t.elementCount
            byFormat[t.format, default: (0, 0, 0)].bytes += t.byteCount
        }
        out += "  formats: " + (file.tensors.isEmpty ? "none" : WeightFormat.allCases.compactMap { f in
            byFormat[f].map { "\(f.ggmlName) \($0.tensors) tensors (\($0.weights) weights, \($0.bytes) bytes)" }
        }.joined(separator: ", ")) + "\n"
        if file.tensors.isEmpty { problems.append("the file has no tensors (a vocabulary-only file)") }
        // which backends here can compute with every matrix's format (vectors are read as F32 by all)
        let matrixFormats = Set(file.tensors.filter { $0.shape.count >= 2 }.map(\.format))
        var runnable: [String] = [], backendProblems: [String] = []
        for name in BackendRegistry.standard.availableNames() {
            guard let backend = try? BackendRegistry.standard.make(name) else { continue }
            let missing = matrixFormats.filter { !backend.supports(.matmul, $0) || !backend.supports(.embedding, $0) }
            if missing.isEmpty {
                runnable.append(name)
            } else {
                backendProblems.append("backend \(name) cannot compute with \(WeightFormat.names(missing)) tensors")
            }
        }
        if problems.isEmpty && !runnable.isEmpty {
            out += "  runs here on: \(runnable.joined(separator: ", "))"
                + (backendProblems.isEmpty ? "" : " (not elsewhere: \(backendProblems.joined(separator: "; ")))") + "\n"
        } else {
            out += "  cannot run here: \((problems + backendProblems).joined(separator: "; "))\n"
        }
        out += "\n| tensor | shape | format | bytes |\n| --- | --- | --- | ---: |\n"
        let shown = all ? file.tensors : Array(file.tensors.prefix(12))
        for t in shown { out += "| \(t.name) | \(t.shape) | \(t.format) | \(t.byteCount) |\n" }
        if shown.count < file.tensors.count { out += "| … \(file.tensors.count - shown.count) more (--all) | | | |\n" }
        if problems.isEmpty, let name = runnable.first,
           let model = try? LanguageModel.open(path: path, backend: BackendRegistry.standard.make(name),
                                               nCtx: min(architecture?.config.nCtxTrain ?? 4096, 4096))
        {
            out += "\n" + (try memoryBudgetText(model))
        }
        if let architecture {
            out += "\n" + Params.render(try architecture.parameterCount(file), title: "parameters")
        }
        Console.out(out)
    }
}
