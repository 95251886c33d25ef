// gpt convert: a Hugging Face GPT-2 folder (config.json, model.safetensors, tokenizer files) to one GGUF file with
// llama.cpp's gpt2 names and keys, so `gpt` and llama.cpp both run it. Progress goes to stderr.
import ArgumentParser
import Foundation
import SwiftGPT

extension WeightFormat: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Hugging Face GPT-2 checkpoint folder to a GGUF file (f32, f16, q8_0, q4_0 or q4_1).",
        discussion: """
            Vectors, norms and the position embedding stay F32; the other matrices (the token embedding included) \
            get --type, as llama.cpp's convert_hf_to_gguf.py does. The unembedding is tied to the token embedding \
            and not written twice.
            """)

    @Argument(
        help: "The checkpoint folder (config.json, model.safetensors, vocab.json + merges.txt or tokenizer.json).")
    var folder: String
    @Argument(help: "The GGUF file to write (replaced if it exists).")
    var output: String
    @Option(
        name: [.short, .long],
        help: "Format of the matrices: \(HFModelFolder.outputFormats.map(\.rawValue).joined(separator: ", ")).")
    var type: WeightFormat = .f16
    @Flag(help: "Do not print progress to stderr.")
    var quiet = false

    func validate() throws {
        guard HFModelFolder.outputFormats.contains(type) else {
            throw ValidationError(
                "cannot write \(type) (formats: \(HFModelFolder.outputFormats.map(\.rawValue).joined(separator: ", ")))")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("\(folder) is not a folder (give a Hugging Face model folder)")
        }
        try checkOutputPath(output, "the output")
    }

    func run() throws {
        let started = Date()
        let model = try HFModelFolder(path: folder)
        let c = model.config
        if !quiet {
            Console.err(
                "\(folder): gpt2, \(c.nLayers) layers, nEmbd \(c.nEmbd), \(c.nHeads) heads, context "
                    + "\(c.nCtxTrain), vocab \(c.nVocab) (\(model.vocabulary.merges.count) merges)\n")
        }
        var counts: [WeightFormat: Int] = [:]
        let writer = try model.ggufWriter(type: type) { _, format in counts[format, default: 0] += 1 }
        try writer.write(to: output)
        do {
            try LanguageModel.checkLoadable(gguf: output)  // refuse what `generate` would refuse
        } catch {
            try? FileManager.default.removeItem(atPath: output)
            throw error
        }
        if !quiet {
            let formats = WeightFormat.allCases.compactMap { f in counts[f].map { "\($0) \(f)" } }.joined(
                separator: ", ")
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            Console.err(
                "wrote \(output): \(writer.tensors.count) tensors (\(formats)), \(size) bytes in "
                    + String(format: "%.2f s\n", Date().timeIntervalSince(started)))
        }
    }
}
