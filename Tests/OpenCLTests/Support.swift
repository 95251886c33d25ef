// Test support for the OpenCL backend: seeded inputs, quantized weights, guard rows, NMSE, and the CKernels
// scalar references (ck_ref_*, double accumulation) as the oracle.
import BackendOpenCL
import CKernels
import Foundation
import GPTCore
import Testing

/// Whether any OpenCL device exists (the suites are skipped with a reason otherwise).
let openCLAvailable: Bool = ((try? CLDevice.all()) ?? []).isEmpty == false

/// One backend shared by the serialized suites (kernel objects are not thread-safe; making one per test would
/// reload the programs each time). nil when no platform exists.
nonisolated(unsafe) let sharedBackend: OpenCLBackend? = try? OpenCLBackend()

func backend() throws -> OpenCLBackend { try #require(sharedBackend, "no OpenCL backend") }

// MARK: - Inputs

/// SplitMix64: small, seeded, the same sequence on every machine.
struct SeededRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    mutating func float(_ scale: Float = 1) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    mutating func floats(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in float(scale) } }
}

// MARK: - Quantization

/// The formats `encode` can write (the op suite, BackendOpsTests, covers the others with random blocks).
let quantizableFormats = WeightFormat.allCases.filter {
    ck_format_supports(Int32($0.ggmlType), Int32(CK_CAN_QUANTIZE.rawValue)) != 0
}

/// Rows of floats in `format` as GGUF stores them (ggml's reference quantizers, CKernels ck_quantize_row).
func encode(_ values: [Float], _ format: WeightFormat) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: format.byteCount(values.count))
    ck_quantize_row(Int32(format.ggmlType), &out, values, Int64(values.count))
    return out
}

// MARK: - Device helpers

func upload(_ b: OpenCLBackend, _ shape: [Int], _ values: [Float], _ label: String = "input") throws
    -> any DeviceTensor
{
    let t = try b.allocate(shape, .f32, label: label)
    try values.withUnsafeBytes { try b.write(t, from: $0) }
    return t
}

func uploadBytes(_ b: OpenCLBackend, _ shape: [Int], _ format: WeightFormat, _ bytes: [UInt8]) throws
    -> any DeviceTensor
{
    let t = try b.allocate(shape, format, label: "weights \(format)")
    try bytes.withUnsafeBytes { try b.write(t, from: $0) }
    return t
}

func download(_ b: OpenCLBackend, _ t: any DeviceTensor) throws -> [Float] {
    var out = [Float](repeating: .nan, count: t.count)
    try out.withUnsafeMutableBufferPointer { try b.read(t, into: $0) }
    return out
}

/// Guard value written into rows past the ones an op covers; they must come back unchanged.
let sentinel: Float = -1234.5

/// An output of `rows` rows of `cols` plus one guard row of `sentinel`.
func guardedOutput(_ b: OpenCLBackend, rows: Int, cols: Int) throws -> any DeviceTensor {
    try upload(b, [rows + 1, cols], [Float](repeating: sentinel, count: (rows + 1) * cols), "output")
}

// MARK: - Comparison

struct Comparison: CustomStringConvertible {
    var nmse: Double
    var maxAbs: Double
    var finite: Bool
    var guardsIntact: Bool
    var description: String {
        "NMSE \(nmse), max |a-b| \(maxAbs)" + (finite ? "" : ", NOT FINITE") + (guardsIntact ? "" : ", GUARD OVERWRITTEN")
    }
}

/// NMSE = Σ(a-b)² / Σb² (ggml test-backend-ops), after checking NaN/inf; `device` may hold guard elements after
/// the `reference.count` compared ones.
func compare(_ device: [Float], _ reference: [Double]) -> Comparison {
    var err = 0.0, norm = 0.0, maxAbs = 0.0
    var finite = true
    for (i, r) in reference.enumerated() {
        let a = Double(device[i])
        if !a.isFinite { finite = false }
        err += (a - r) * (a - r)
        norm += r * r
        maxAbs = max(maxAbs, abs(a - r))
    }
    let guards = device[reference.count...].allSatisfy { $0 == sentinel }
    return Comparison(nmse: norm > 0 ? err / norm : err, maxAbs: maxAbs, finite: finite, guardsIntact: guards)
}

func expectClose(_ c: Comparison, _ threshold: Double, _ label: String, print p: Bool = ProcessInfo.processInfo.environment["OCL_PRINT_NMSE"] != nil,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    if p { print("\(label): \(c)") }
    #expect(c.finite && c.guardsIntact, "\(label): \(c)", sourceLocation: sourceLocation)
    #expect(c.nmse <= threshold, "\(label): \(c) > \(threshold)", sourceLocation: sourceLocation)
}

// MARK: - References: CKernels' scalar references (ck_ref_*, double accumulation), returned as doubles

enum Reference {
    /// out (T, N) = x (T, K) · w (N, K)ᵀ, w encoded in `format`.
    static func matmul(_ x: [Float], _ w: [UInt8], _ format: WeightFormat, T: Int, K: Int, N: Int) -> [Double] {
        var out = [Float](repeating: 0, count: T * N)
        ck_ref_matmul(Int32(format.ggmlType), &out, x, w, Int64(T), Int64(K), Int64(N))
        return out.map(Double.init)
    }

    static func embedding(_ table: [UInt8], _ format: WeightFormat, tokens: [Int32], n: Int) -> [Double] {
        var out = [Float](repeating: 0, count: tokens.count * n)
        ck_ref_embedding(Int32(format.ggmlType), &out, table, tokens, Int64(tokens.count), Int64(n))
        return out.map(Double.init)
    }

    static func rmsNorm(_ x: [Float], _ w: [Float], T: Int, n: Int, eps: Float) -> [Double] {
        var out = [Float](repeating: 0, count: T * n)
        ck_ref_rms_norm(&out, x, w, Int64(T), Int64(n), eps)
        return out.map(Double.init)
    }

    static func layerNorm(_ x: [Float], _ w: [Float], _ b: [Float], T: Int, n: Int, eps: Float) -> [Double] {
        var out = [Float](repeating: 0, count: T * n)
        ck_ref_layer_norm(&out, x, w, b, Int64(T), Int64(n), eps)
        return out.map(Double.init)
    }

    static func rope(_ x: [Float], T: Int, startPos: Int, nh: Int, hd: Int, base: Float, neox: Bool) -> [Double] {
        var out = x
        ck_ref_rope(&out, Int64(T), Int64(startPos), Int64(nh), Int64(hd), base, nil, neox ? 1 : 0)
        return out.map(Double.init)
    }

    /// Causal attention; k, v (startPos+T, nkv*hd).
    static func attention(_ q: [Float], _ k: [Float], _ v: [Float], T: Int, startPos: Int, nh: Int, nkv: Int,
                          hd: Int, scale: Float) -> [Double] {
        var out = [Float](repeating: 0, count: T * nh * hd)
        ck_ref_attention(&out, q, k, v, Int64(T), Int64(startPos), Int64(nh), Int64(nkv), Int64(hd), scale, 0)
        return out.map(Double.init)
    }

    static func swiglu(_ g: [Float], _ u: [Float]) -> [Double] {
        var out = [Float](repeating: 0, count: g.count)
        ck_ref_swiglu(&out, g, u, Int64(g.count))
        return out.map(Double.init)
    }

    static func gelu(_ x: [Float]) -> [Double] {
        var out = [Float](repeating: 0, count: x.count)
        ck_ref_gelu(&out, x, Int64(x.count))
        return out.map(Double.init)
    }
}
