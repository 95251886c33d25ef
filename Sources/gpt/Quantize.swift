// gpt quantize: a GGUF file (F32, F16, BF16; an already quantized one is requantized, with a warning) or a Hugging
// Face GPT-2 folder to a GGUF file of one of llama.cpp's file types, with llama-quantize's per-tensor choices
// (Q4_K_M: attention V and FFN down in Q6_K in some layers, the unembedding in Q6_K, ...). Progress to stderr.
import ArgumentParser
import Foundation
import SwiftGPT

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a model to a GGUF file type (Q4_0 ... Q6_K, Q4_K_M, Q5_K_M, IQ4_NL, IQ4_XS, F16, BF16).",
        discussion: """
            Types: \(QuantizationType.allCases.map(\.rawValue).joined(separator: ", ")) (Q3_K, Q4_K, Q5_K mean \
            the _M mixes, as in llama-quantize). Norms and other vectors keep their format; matrices whose rows \
            are not whole blocks of the chosen format fall back as llama.cpp's do (Q4_K -> Q5_0, Q6_K -> Q8_0, \
            IQ4_XS -> IQ4_NL, ...). Quantizing an already quantized file loses quality twice: it is allowed, with a \
            warning.
            """)

    @Argument(help: "The input: a GGUF file or a Hugging Face GPT-2 checkpoint folder.")
    var input: String
    @Argument(help: "The GGUF file to write (replaced if it exists).")
    var output: String
    @Argument(help: "The file type, e.g. Q4_K_M (or give --type).")
    var typeArgument: String?
    @Option(name: [.customLong("type")], help: "The file type (instead of the third argument).")
    var typeOption: String?
    @Option(name: [.short, .long], parsing: .unconditional, help: "Threads; 0 = all cores.")
    var threads: Int = 0
    @Flag(help: "Print the format chosen for each tensor and write nothing.")
    var dryRun = false
    @Flag(help: "Do not print progress to stderr.")
    var quiet = false

    var type: QuantizationType? { (typeOption ?? typeArgument).flatMap(QuantizationType.init(name:)) }

    func validate() throws {
        guard let name = typeOption ?? typeArgument else {
            throw ValidationError("give the file type, e.g. `gpt quantize IN OUT Q4_K_M`")
        }
        if typeOption != nil && typeArgument != nil { throw ValidationError("give the type once (argument or --type)") }
        if type == nil {
            throw ValidationError(
                "unknown type '\(name)'; choose one of \(QuantizationType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try FlagCheck.threads(threads)
        guard FileManager.default.fileExists(atPath: input) else { throw ValidationError("no model at \(input)") }
        if (input as NSString).standardizingPath == (output as NSString).standardizingPath {
            throw ValidationError("the output would replace the input; give another file name")
        }
    }

    func run() throws {
        let started = Date()
        let type = type!
        let quantizer = try GGUFQuantizer(path: input)
        let (steps, fallbacks) = quantizer.plan(type)
        if dryRun {
            var out = "| tensor | shape | from | to |\n| --- | --- | --- | --- |\n"
            for s in steps { out += "| \(s.name) | \(s.shape) | \(s.from.ggmlName) | \(s.to.ggmlName) |\n" }
            Console.out(out)
            return
        }
        let requantized = quantizer.requantized(type)
        if !quiet, let first = requantized.first {
            let from = WeightFormat.names(Set(requantized.map(\.from)))
            Console.err(
                "warning: \(requantized.count) tensors (\(first.name), ...) are already quantized (\(from)): "
                    + "requantizing loses quality twice; quantize from an F32, F16 or BF16 file when you can\n")
        }
        if !quiet {
            // one line per (chosen, fallback) pair, as llama-quantize's fallback warnings summarised
            var groups: [String: [String]] = [:]
            for f in fallbacks { groups["\(f.from.ggmlName) -> \(f.to.ggmlName)", default: []].append(f.tensor) }
            for (pair, tensors) in groups.sorted(by: { $0.key < $1.key }) {
                Console.err("\(tensors.count) tensors with rows that are not whole blocks: \(pair) (\(tensors[0]), ...)\n")
            }
        }
        let cores = threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount
        var done = 0
        try quantizer.write(type, to: output, threads: cores) { step in
            done += 1
            if !quiet && (done % 16 == 0 || done == steps.count) {
                Console.err("[\(done)/\(steps.count)] \(step.name) \(step.from.ggmlName) -> \(step.to.ggmlName)\n")
            }
        }
        if !quiet {
            var counts: [WeightFormat: Int] = [:]
            for s in steps { counts[s.to, default: 0] += 1 }
            let formats = WeightFormat.allCases.compactMap { f in counts[f].map { "\($0) \(f.ggmlName)" } }
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            Console.err(
                "wrote \(output): \(type.rawValue), \(steps.count) tensors (\(formats.joined(separator: ", "))), "
                    + "\(size) bytes in " + String(format: "%.1f s\n", Date().timeIntervalSince(started)))
        }
    }
}
