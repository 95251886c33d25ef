// Roofline: this machine's measured ceilings (peak FP32 FMA GFLOP/s and streaming read GB/s), measured once by
// `gpt profile --calibrate` and cached, so each op can be placed against them.
import CKernels
import Foundation

public struct Roofline: Codable, Sendable {
    public var threads: Int
    public var peakGFLOPS: Double
    public var bandwidthGBps: Double
    public var simd: String
    public var measuredAt: String

    /// Measures both ceilings on `threads` threads (takes about two seconds).
    public static func measure(threads: Int) -> Roofline {
        // FMA peak: best of 3 runs of ~0.3 s each
        var peak = 0.0
        for _ in 0..<3 { peak = max(peak, ck_calibrate_fma_gflops(Int32(threads), 50_000_000)) }
        // Bandwidth: 512 MiB, far beyond any cache, best of 3
        let bytes = 512 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        memset(buffer, 1, bytes)
        var gbps = 0.0
        for _ in 0..<3 { gbps = max(gbps, ck_calibrate_read_gbps(buffer, Int64(bytes), Int32(threads), 2)) }
        let simd = String(cString: ck_simd_name(ck_simd_level()))
        return Roofline(threads: threads, peakGFLOPS: peak, bandwidthGBps: gbps, simd: simd,
                        measuredAt: ISO8601DateFormatter().string(from: Date()))
    }

    public static func cachePath(threads: Int) -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? "/tmp") + "/.cache")
        return "\(base)/swiftgpt/roofline-t\(threads).json"
    }

    public static func cached(threads: Int) -> Roofline? {
        guard let data = FileManager.default.contents(atPath: cachePath(threads: threads)) else { return nil }
        return try? JSONDecoder().decode(Roofline.self, from: data)
    }

    public func save() throws {
        let path = Roofline.cachePath(threads: threads)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// Share of the roofline an op reached: achieved FLOP/s over min(peak, intensity × bandwidth).
    public func share(flops: Double, bytes: Double, seconds: Double) -> Double {
        guard seconds > 0, flops > 0 || bytes > 0 else { return 0 }
        let attainable = flops > 0 && bytes > 0 ? min(peakGFLOPS * 1e9, flops / bytes * bandwidthGBps * 1e9) : 0
        if flops > 0 && attainable > 0 { return flops / seconds / attainable }
        return bytes / seconds / (bandwidthGBps * 1e9)
    }
}
