// GGUFQuantizer: `gpt quantize`: a GGUF file (F32, F16, BF16, or already quantized: requantized, with a warning) or
// a Hugging Face GPT-2 folder to a GGUF file of a QuantizationType, written with GGUFWriter. Metadata is copied;
// general.file_type and general.quantization_version are set as llama-quantize sets them.
// Each tensor is dequantized to F32 (CKernels' reference dequantizers) and quantized again (ck_quantize_row: CKernels/quants.c and quantize.c),
// rows in parallel; a tensor already in its target format is copied unchanged.
import CKernels
import Foundation
import GGUF
import GPTCore
import GPTEngine
import HFCheckpoint

public enum QuantizeError: Error, CustomStringConvertible {
    case unsupportedSource(path: String, tensor: String, format: WeightFormat)
    case badInput(path: String, String)

    public var description: String {
        switch self {
        case .unsupportedSource(let path, let tensor, let format):
            "\(path): tensor '\(tensor)' is \(format.ggmlName), which SwiftGPT cannot dequantize"
        case .badInput(let path, let detail): "\(path): \(detail)"
        }
    }
}

public struct GGUFQuantizer {
    /// A tensor to convert: name, ggml shape, format and bytes.
    struct Source {
        var name: String
        var shape: [Int]
        var format: WeightFormat
        var bytes: () -> [UInt8]
    }

    /// What was done to one tensor.
    public struct Step: Sendable {
        public var name: String
        public var shape: [Int]
        public var from: WeightFormat
        public var to: WeightFormat
    }

    public let inputPath: String
    let metadata: [(String, GGUFValue)]
    /// In llama.cpp's order (its model loader's): tensors outside the layers first, then layer by layer, by name within
    /// each. The attention-V and FFN-down rules count tensors in this order, and the output is written in it.
    let sources: [Source]
    let alignment: Int
    let nLayers: Int, nHeads: Int, nKVHeads: Int

    /// Opens a GGUF file or a Hugging Face GPT-2 checkpoint folder.
    public init(path: String) throws {
        inputPath = path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            let folder = try HFModelFolder(path: path)
            let writer = try folder.ggufWriter(type: .f32)
            metadata = writer.metadata.map { ($0.key, $0.value) }
            sources = writer.tensors.sorted { Self.loaderOrder($0.name, $1.name) }.map { t in
                Source(name: t.name, shape: t.shape, format: t.format) { t.data }
            }
            alignment = writer.alignment
            (nLayers, nHeads, nKVHeads) = (folder.config.nLayers, folder.config.nHeads, folder.config.nKVHeads)
        } else {
            let file = try GGUFFile(path: path)
            metadata = file.metadataKeys.compactMap { key in file.value(key).map { (key, $0) } }
            sources = file.tensors.sorted { Self.loaderOrder($0.name, $1.name) }.map { t in
                Source(name: t.name, shape: t.shape, format: t.format) { Array(file.bytes(of: t)) }
            }
            alignment = file.alignment
            let hp = try ModelHyperParameters(file)
            (nLayers, nHeads, nKVHeads) = (hp.nLayers, hp.nHeads, hp.nKVHeads)
        }
    }

    /// llama_model_loader's weight order: by layer number ("blk.N."; -1 for tensors outside the layers), then name.
    static func loaderOrder(_ a: String, _ b: String) -> Bool {
        func layer(_ name: String) -> Int {
            guard name.hasPrefix("blk.") else { return -1 }
            return Int(name.dropFirst(4).prefix { $0.isNumber }) ?? -1
        }
        let (la, lb) = (layer(a), layer(b))
        return la != lb ? la < lb : a < b
    }

    /// The format each tensor gets in `type`, in file order, plus the fallbacks (rows not whole blocks).
    public func plan(_ type: QuantizationType) -> (steps: [Step], fallbacks: [(tensor: String, from: WeightFormat, to: WeightFormat)]) {
        var plan = QuantizationPlan(type: type, tensorNames: sources.map(\.name), nLayers: nLayers, nHeads: nHeads,
                                    nKVHeads: nKVHeads)
        let steps = sources.map { s in
            Step(name: s.name, shape: s.shape, from: s.format, to: plan.format(s.name, shape: s.shape, current: s.format))
        }
        return (steps, plan.fallbacks)
    }

    /// Tensors that would be quantized again from an already quantized format (quality is lost twice).
    public func requantized(_ type: QuantizationType) -> [Step] {
        plan(type).steps.filter { $0.from.isQuantized && $0.from != $0.to }
    }

    /// Converts every tensor and writes `output`.
    /// - Parameters:
    ///   - threads: rows are quantized on this many threads.
    ///   - progress: called after each tensor.
    public func write(_ type: QuantizationType, to output: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                      progress: (Step) -> Void = { _ in }) throws {
        var writer = GGUFWriter(alignment: alignment)
        for (key, value) in metadata where key != "general.alignment" { writer.set(key, value) }
        writer.set("general.quantization_version", .uint32(2))
        writer.set("general.file_type", .uint32(type.fileType))
        let steps = plan(type).steps
        for (source, step) in zip(sources, steps) {
            let data = source.format == step.to
                ? source.bytes() : try Self.convert(source, to: step.to, path: inputPath, threads: threads)
            try writer.addTensor(source.name, shape: source.shape, format: step.to, data: data)
            progress(step)
        }
        try writer.write(to: output)
    }

    /// The tensor's rows dequantized to F32 and quantized to `format`.
    static func convert(_ source: Source, to format: WeightFormat, path: String, threads: Int) throws -> [UInt8] {
        let rowLength = source.shape[0]
        let rows = source.shape.dropFirst().reduce(1, *)
        let inRow = Int(ck_row_bytes(Int32(source.format.ggmlType), Int64(rowLength)))
        let outRow = format.byteCount(rowLength)
        guard inRow > 0, Self.canDequantize(source.format) else {
            throw QuantizeError.unsupportedSource(path: path, tensor: source.name, format: source.format)
        }
        let input = source.bytes()
        guard input.count == inRow * rows else {
            throw QuantizeError.badInput(path: path, "tensor '\(source.name)' has \(input.count) bytes, expected \(inRow * rows)")
        }
        var out = [UInt8](repeating: 0, count: outRow * rows)
        let chunk = max(1, rows / max(1, threads * 4))
        let srcType = Int32(source.format.ggmlType)
        input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                // addresses as integers: the chunks write disjoint rows
                let srcBase = Int(bitPattern: src.baseAddress!), dstBase = Int(bitPattern: dst.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: (rows + chunk - 1) / chunk) { c in
                    var floats = [Float](repeating: 0, count: rowLength)
                    floats.withUnsafeMutableBufferPointer { f in
                        for r in c * chunk..<min(rows, (c + 1) * chunk) {
                            ck_dequantize_row(srcType, f.baseAddress!, UnsafeRawPointer(bitPattern: srcBase + r * inRow),
                                              Int64(rowLength))
                            ck_quantize_row(Int32(format.ggmlType), UnsafeMutableRawPointer(bitPattern: dstBase + r * outRow),
                                            f.baseAddress!, Int64(rowLength))
                        }
                    }
                }
            }
        }
        return out
    }

    /// Whether CKernels dequantizes `format` (the source of a requantization).
    static func canDequantize(_ format: WeightFormat) -> Bool {
        ck_format_supports(Int32(format.ggmlType), Int32(CK_CAN_DEQUANTIZE.rawValue)) != 0
    }
}
