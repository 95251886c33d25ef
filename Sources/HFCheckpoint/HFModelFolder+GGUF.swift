// HFModelFolder+GGUF: the folder as a GGUF file with llama.cpp's gpt2 names and keys, as convert_hf_to_gguf.py
// writes it, so llama.cpp and SwiftGPT both read the result. Quantization is CKernels' ck_quantize_row (the ggml
// reference rounding). Used by `gpt convert`.
//
// Which tensors get the requested type (convert_hf_to_gguf.py's rules): vectors, norm weights and the position
// embedding stay F32; every other matrix (the token embedding included) gets `type`. A matrix whose rows are not
// a multiple of the 32-element block falls back to F16, as gguf-py does for quantized types.
// The tied unembedding is not written twice: llama.cpp's gpt2 loader takes token_embd when output.weight is absent.
import CKernels
import GGUF
import GPTCore
import GPTEngine

extension HFModelFolder {
    /// The GGUF `general.file_type` (llama_ftype) of a whole-model conversion to `type`.
    public static func fileType(_ type: WeightFormat) -> UInt32 {
        switch type {
        case .f32: 0  // ALL_F32
        case .f16: 1  // MOSTLY_F16
        case .q4_0: 2  // MOSTLY_Q4_0
        case .q4_1: 3  // MOSTLY_Q4_1
        case .q8_0: 7  // MOSTLY_Q8_0
        case .q5_0: 8  // MOSTLY_Q5_0
        case .q5_1: 9  // MOSTLY_Q5_1
        case .q2_K: 10  // MOSTLY_Q2_K
        case .q3_K: 12  // MOSTLY_Q3_K_M
        case .q4_K: 15  // MOSTLY_Q4_K_M
        case .q5_K: 17  // MOSTLY_Q5_K_M
        case .q6_K: 18  // MOSTLY_Q6_K
        case .bf16: 32  // MOSTLY_BF16
        case .iq4_nl: 25  // MOSTLY_IQ4_NL
        case .iq4_xs: 30  // MOSTLY_IQ4_XS
        }
    }

    /// The formats a conversion can write: those CKernels has a quantizer for.
    public static var outputFormats: [WeightFormat] {
        WeightFormat.allCases.filter { ck_format_supports(Int32($0.ggmlType), Int32(CK_CAN_QUANTIZE.rawValue)) != 0 }
    }

    /// The format tensor `name` (with ggml `shape`) is stored in when converting to `type`.
    public static func storedFormat(_ name: String, shape: [Int], type: WeightFormat) -> WeightFormat {
        if shape.count < 2 || name.hasSuffix("_norm.weight") || name == "position_embd.weight" { return .f32 }
        if type.isQuantized && shape[0] % type.blockSize != 0 { return .f16 }
        return type
    }

    /// A GGUF image of the model: metadata, tokenizer and every weight in the formats `storedFormat` picks.
    /// - Parameters:
    ///   - type: f32, f16, q8_0, q4_0 or q4_1 for the matrices.
    ///   - progress: called after each tensor with (name, stored format).
    public func ggufWriter(type: WeightFormat, progress: (String, WeightFormat) -> Void = { _, _ in }) throws
        -> GGUFWriter
    {
        let c = config
        var w = GGUFWriter()
        w.set("general.architecture", .string("gpt2"))
        w.set("general.name", .string(name))
        w.set("general.file_type", .uint32(Self.fileType(type)))
        w.set("gpt2.context_length", .uint32(UInt32(c.nCtxTrain)))
        w.set("gpt2.embedding_length", .uint32(UInt32(c.nEmbd)))
        w.set("gpt2.feed_forward_length", .uint32(UInt32(c.nFF)))
        w.set("gpt2.block_count", .uint32(UInt32(c.nLayers)))
        w.set("gpt2.attention.head_count", .uint32(UInt32(c.nHeads)))
        w.set("gpt2.attention.layer_norm_epsilon", .float32(c.normEps))
        let v = vocabulary
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string(HFVocabulary.preTokenizer))
        w.set("tokenizer.ggml.tokens", .array(v.tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(v.tokenTypes.map { .int32(Int32($0)) }))
        w.set("tokenizer.ggml.merges", .array(v.merges.map { .string($0) }))
        if let bos = v.bos { w.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos))) }
        if let eos = v.eos { w.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos))) }

        for name in tensorNames {
            guard let layout = tensorLayout(name) else { continue }
            let format = Self.storedFormat(name, shape: layout.shape, type: type)
            let data = try Self.encode(try floats(name), rowLength: layout.shape[0], format: format)
            try w.addTensor(name, shape: layout.shape, format: format, data: data)
            progress(name, format)
        }
        return w
    }

    /// Rows of `rowLength` floats in `format` (ck_quantize_row, one row at a time).
    static func encode(_ values: [Float], rowLength: Int, format: WeightFormat) throws -> [UInt8] {
        let rows = values.count / rowLength
        let rowBytes = format.byteCount(rowLength)
        var out = [UInt8](repeating: 0, count: rows * rowBytes)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBytes { dst in
                for r in 0..<rows {
                    ck_quantize_row(
                        Int32(format.ggmlType), dst.baseAddress! + r * rowBytes,
                        src.baseAddress! + r * rowLength, Int64(rowLength))
                }
            }
        }
        return out
    }
}
