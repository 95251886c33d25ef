// Test support for CKernelsTests: a seeded RNG, NMSE (ggml test-backend-ops' measure), buffers with guard words on
// both sides, the SIMD levels to run every kernel at, and the weight formats.
//
// Thresholds used by the suites, and where they come from:
//   1e-7  ggml test-backend-ops' default max_nmse_err, for ops that are exact up to float rounding (norms, rope,
//         activations, attention on f32 K/V, matmul with f32 / f16 weights, which keeps the activations in f32).
//   5e-4  ggml's max_nmse_err for MUL_MAT with quantized weights: the kernels quantize the activations to 8 bits
//         (blocks of 32, d = absmax / 127) as llama.cpp does, so they differ from the exact reference by about
//         (d / sqrt(12))^2 / E[x^2] = 2e-5 for uniform inputs; 5e-4 leaves a 25x margin.
//   0     operations that copy or add without rounding differences (embedding lookup, add, add_bias).

import CKernels
import GPTCore
import Testing

/// All CKernels suites nest in this one. ck_simd_set_level is process-wide, so they run one test at a time.
@Suite("CKernels", .serialized)
struct CKernelsSuite {}

// MARK: - Seeded random numbers

// (SplitMix64 comes from GPTCore.)

// MARK: - Error measures

/// Σ(a-b)² and Σb² of a against the reference b, in double (the two halves of ggml's nmse).
func squaredErrors(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> (err: Double, ref: Double) {
    precondition(a.count == b.count)
    var err = 0.0
    var ref = 0.0
    for i in 0..<a.count {
        let d = Double(a[i]) - Double(b[i])
        err += d * d
        ref += Double(b[i]) * Double(b[i])
    }
    return (err, ref)
}

/// Normalised mean squared error Σ(a-b)² / Σb² (ggml test-backend-ops: mse(a, b) / mse(b, 0)); Σ(a-b)² if b is 0.
func nmse(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
    let (err, ref) = squaredErrors(a, b)
    return ref == 0 ? err : err / ref
}

func nmse(_ a: [Float], _ b: [Float]) -> Double {
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in nmse(pa, pb) } }
}

// MARK: - Guarded buffers

/// Floats with `guardCount` sentinel words before and after (test-backend-ops' sentinel tensors): a kernel that
/// writes out of bounds changes them.
final class GuardedFloats {
    static let guardCount = 16
    static let sentinel: Float = -7.0e30
    let count: Int
    private let storage: UnsafeMutablePointer<Float>

    init(count: Int, fill: Float = .nan) {
        self.count = count
        storage = .allocate(capacity: count + 2 * Self.guardCount)
        storage.initialize(repeating: Self.sentinel, count: count + 2 * Self.guardCount)
        (storage + Self.guardCount).update(repeating: fill, count: count)
    }
    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }
    deinit { storage.deallocate() }

    var pointer: UnsafeMutablePointer<Float> { storage + Self.guardCount }
    var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }
    var values: [Float] { Array(buffer) }
    var guardsIntact: Bool {
        (0..<Self.guardCount).allSatisfy {
            storage[$0] == Self.sentinel && storage[Self.guardCount + count + $0] == Self.sentinel
        }
    }
    var allFinite: Bool { buffer.allSatisfy { $0.isFinite } }
}

/// Scratch memory of exactly the size a *_scratch_bytes function asked for, followed by 64 guard bytes: a kernel
/// that uses more scratch than it declared changes them.
final class GuardedScratch {
    static let guardBytes = 64
    static let sentinel: UInt8 = 0xA5
    let size: Int
    private let storage: UnsafeMutableRawPointer

    init(bytes: Int) {
        size = bytes
        storage = .allocate(byteCount: bytes + Self.guardBytes, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: Self.sentinel, count: bytes + Self.guardBytes)
    }
    deinit { storage.deallocate() }

    var pointer: UnsafeMutableRawPointer { storage }
    var guardsIntact: Bool {
        (0..<Self.guardBytes).allSatisfy { storage.load(fromByteOffset: size + $0, as: UInt8.self) == Self.sentinel }
    }
}

// MARK: - SIMD levels

/// Every SIMD level this CPU can run, portable first: each kernel is checked at each of them.
let simdLevels: [Int32] = Array(0...ck_simd_detect())

/// Runs `body` at each level in `simdLevels` (ck_simd_set_level is process-wide: CKernelsSuite is `.serialized`),
/// then restores the detected level.
func atEachLevel(_ body: (Int32) throws -> Void) rethrows {
    defer { ck_simd_set_level(ck_simd_detect()) }
    for level in simdLevels {
        ck_simd_set_level(level)
        try body(level)
    }
}

func levelName(_ level: Int32) -> String { String(cString: ck_simd_name(level)) }

// MARK: - Formats

/// The weight formats of ckernels.h, by ggml type id.
enum Format: Int32, CaseIterable, CustomStringConvertible, Sendable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8

    var description: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .q4_0: "q4_0"
        case .q4_1: "q4_1"
        case .q8_0: "q8_0"
        }
    }
    var isQuantized: Bool { self == .q4_0 || self == .q4_1 || self == .q8_0 }
    /// Largest NMSE a matmul with these weights may show against the exact reference (see the file header).
    var matmulMaxNMSE: Double { isQuantized ? 5e-4 : 1e-7 }

    /// `rows` rows of `cols` floats quantized with ck_quantize_row.
    func quantize(_ values: [Float], rows: Int, cols: Int) -> [UInt8] {
        let rowBytes = ck_row_bytes(rawValue, Int64(cols))
        var bytes = [UInt8](repeating: 0, count: rowBytes * rows)
        bytes.withUnsafeMutableBytes { dst in
            values.withUnsafeBufferPointer { src in
                for r in 0..<rows {
                    ck_quantize_row(rawValue, dst.baseAddress! + r * rowBytes, src.baseAddress! + r * cols, Int64(cols))
                }
            }
        }
        return bytes
    }
}
