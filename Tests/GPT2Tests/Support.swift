// Shared helpers of the GPT-2 tests: the tiny model in Resources/ (made by scripts/make_tiny_gpt2.py, see
// Resources/README.md), its numpy reference, the model variants the tests derive from it, and NMSE.
import Foundation
import SwiftGPT

/// Resources/reference.json: the numpy float64 forward pass of tiny-gpt2 (F32 weights).
struct Reference: Decodable {
    struct Step: Decodable {
        var token: Int32
        /// top-1 minus top-2 logit of the reference at this step.
        var margin: Double
    }
    var prompt: String
    var prompt_tokens: [Int32]
    var n_vocab: Int
    /// (T, nVocab): logits at every prompt position.
    var logits: [[Double]]
    /// Greedy continuation of the prompt.
    var greedy: [Step]

    static let file: Reference = {
        let url = Resources.url.appendingPathComponent("reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()
}

enum Resources {
    static let url = Bundle.module.url(forResource: "Resources", withExtension: nil)!
    /// The Hugging Face folder (F32 safetensors).
    static let folder = url.appendingPathComponent("tiny-gpt2").path
    /// The same weights written by llama.cpp's gguf-py (F16 matrices, duplicated output.weight).
    static let llamaGGUF = url.appendingPathComponent("tiny-gpt2-f16.gguf.data").path
}

/// One way of storing the tiny model, with the NMSE it must reach against the numpy reference.
///
/// Thresholds are about 30x the NMSE measured on the openmp and blas backends (see the report in
/// Resources/README.md), so a real error (a wrong transpose, a missing bias: NMSE near 1) fails by orders of
/// magnitude while kernel changes in summation order do not.
enum ModelFormat: String, CaseIterable, CustomStringConvertible, Sendable {
    case folderF32 = "folder-f32"  // the committed safetensors, F32
    case folderF16 = "folder-f16"  // safetensors rewritten here with F16 tensors (served as F16 matrices)
    case folderBF16 = "folder-bf16"  // safetensors rewritten here with BF16 tensors (widened to F32)
    case ggufF32 = "gguf-f32"  // HFModelFolder.ggufWriter(type: .f32)
    case ggufF16 = "gguf-f16"
    case ggufQ8_0 = "gguf-q8_0"
    case ggufQ4_0 = "gguf-q4_0"
    case llamaF16 = "llama.cpp-f16"  // Resources/tiny-gpt2-f16.gguf.data from gguf-py

    var description: String { rawValue }

    /// Largest NMSE of any position's logits against the float64 reference. Measured on openmp, blas and opencl
    /// (pocl, CPU) in the worst position of the 19: the thresholds leave 3x to 2000x of room for other kernels
    /// and summation orders, while a real error (a wrong transpose, a missing bias) gives NMSE near 1.
    var maxNMSE: Double {
        switch self {
        // float32 arithmetic alone: measured 5.2e-14 to 6.0e-14
        case .folderF32, .ggufF32: 1e-10
        // F16 weights (relative rounding <= 2^-11): measured 2.7e-7 (gguf-f16), 3.5e-7 (llama.cpp-f16), 5.7e-7
        // (folder-f16, whose vectors and position embedding are rounded to F16 too)
        case .folderF16, .ggufF16, .llamaF16: 2e-6
        // BF16 weights (8-bit mantissa, 8x the F16 rounding): measured 3.8e-5
        case .folderBF16: 3e-4
        // 8-bit blocks: measured 1.7e-4 (blas and opencl dequantize the weights) and 3.7e-4 (openmp also rounds the
        // activations to 8 bits, as ggml's vec_dot_q8_0_q8_0 does)
        case .ggufQ8_0: 2e-3
        // 4-bit blocks: measured 3.6e-2; this checks that the path runs and is roughly right, not its accuracy
        case .ggufQ4_0: 0.1
        }
    }

    /// Whether the greedy continuation must equal the reference's at every step.
    var exactGreedy: Bool { self != .ggufQ4_0 }
}

/// Model files derived from the committed folder, made once per test process in a temporary folder.
enum Variants {
    /// `$TMPDIR/swiftgpt-gpt2-tests-PID`; folders of earlier runs whose process is gone are removed first.
    static let folder: String = {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory.path
        let prefix = "swiftgpt-gpt2-tests-"
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0 && errno == ESRCH {
                try? fm.removeItem(atPath: tmp + "/" + name)
            }
        }
        let dir = tmp + "/" + prefix + "\(getpid())"
        try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Path of the model in `format`, building it on first use.
    static func path(_ format: ModelFormat) throws -> String {
        try lock.withLock {
            if let path = made[format] { return path }
            let path = try make(format)
            made[format] = path
            return path
        }
    }

    nonisolated(unsafe) private static var made: [ModelFormat: String] = [:]  // guarded by `lock`
    private static let lock = NSLock()

    private static func make(_ format: ModelFormat) throws -> String {
        let out = folder + "/" + format.rawValue
        switch format {
        case .folderF32: return Resources.folder
        case .llamaF16: return Resources.llamaGGUF
        case .folderF16: try copyFolder(to: out, dtype: .f16)
        case .folderBF16: try copyFolder(to: out, dtype: .bf16)
        case .ggufF32: try HFModelFolder(path: Resources.folder).ggufWriter(type: .f32).write(to: out + ".gguf")
        case .ggufF16: try HFModelFolder(path: Resources.folder).ggufWriter(type: .f16).write(to: out + ".gguf")
        case .ggufQ8_0: try HFModelFolder(path: Resources.folder).ggufWriter(type: .q8_0).write(to: out + ".gguf")
        case .ggufQ4_0: try HFModelFolder(path: Resources.folder).ggufWriter(type: .q4_0).write(to: out + ".gguf")
        }
        return format.rawValue.hasPrefix("gguf") ? out + ".gguf" : out
    }

    /// The committed folder with model.safetensors rewritten in `dtype` (all float tensors).
    static func copyFolder(
        to out: String, dtype: SafeTensorsDType, dropping: Set<String> = [],
        keepFiles: Set<String> = ["config.json", "vocab.json", "merges.txt", "tokenizer.json"]
    ) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: out)
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        for name in keepFiles {
            try fm.copyItem(atPath: Resources.folder + "/" + name, toPath: out + "/" + name)
        }
        let source = try SafeTensorsFile(path: Resources.folder + "/model.safetensors")
        var tensors: [SafeTensorsBuilder.Tensor] = []
        for t in source.tensors where !dropping.contains(t.name) {
            tensors.append(.init(name: t.name, shape: t.shape, values: try source.floats(t.name), dtype: dtype))
        }
        try Data(SafeTensorsBuilder.build(tensors)).write(to: URL(fileURLWithPath: out + "/model.safetensors"))
    }
}

/// Writes safetensors images for the tests (the format is simple enough to write by hand).
enum SafeTensorsBuilder {
    struct Tensor {
        var name: String
        var shape: [Int]
        var values: [Float]
        var dtype: SafeTensorsDType = .f32
    }

    /// Element bytes of `values` in `dtype` (F32, F16 round-to-nearest, BF16 round-to-nearest-even).
    static func encode(_ values: [Float], _ dtype: SafeTensorsDType) -> [UInt8] {
        var out: [UInt8] = []
        for v in values {
            switch dtype {
            case .f16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out += $0 }
            case .bf16:
                let b = v.bitPattern
                let rounded = UInt16((b + 0x7FFF + ((b >> 16) & 1)) >> 16)
                withUnsafeBytes(of: rounded.littleEndian) { out += $0 }
            default: withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
            }
        }
        return out
    }

    static func build(_ tensors: [Tensor], metadata: [String: String] = ["format": "pt"]) -> [UInt8] {
        var entries: [String] = []
        var data: [UInt8] = []
        for t in tensors {
            let bytes = encode(t.values, t.dtype)
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\"\(t.name)\":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(data.count),\(data.count + bytes.count)]}")
            data += bytes
        }
        if !metadata.isEmpty {
            let pairs = metadata.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
            entries.insert("\"__metadata__\":{\(pairs)}", at: 0)
        }
        return image(header: "{" + entries.joined(separator: ",") + "}", data: data)
    }

    /// Header length, header (space-padded to 8 bytes), data.
    static func image(header: String, data: [UInt8]) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
        return out + h + data
    }
}

/// mse(a, b) / mse(b, 0), as test-backend-ops computes it; infinity when `a` has a NaN or infinity.
func nmse(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var err = 0.0
    var ref = 0.0
    for (x, y) in zip(a, b) {
        guard x.isFinite else { return .infinity }
        err += (Double(x) - y) * (Double(x) - y)
        ref += y * y
    }
    return err / ref
}

/// Backends available here; the tests run on each.
let backends = BackendRegistry.standard.availableNames()

func openModel(_ format: ModelFormat, backend: String, nCtx: Int = 64) throws -> LanguageModel {
    let be = try BackendRegistry.standard.make(backend, options: BackendOptions(threads: 2))
    // F32 KV cache: the numpy reference is exact to ~1e-13 only with it
    return try LanguageModel.open(path: try Variants.path(format), backend: be, nCtx: nCtx, kvFormat: .f32)
}
