// CPUInfo: physical core count and CPU model name, read from /proc/cpuinfo (Linux), for thread defaults.
import Foundation

public enum CPUInfo {
    /// Distinct (physical id, core id) pairs; falls back to the logical processor count.
    public static let physicalCores: Int = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return ProcessInfo.processInfo.activeProcessorCount
        }
        var cores = Set<String>()
        var physical = "0"
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "physical id" { physical = parts[1] }
            if parts[0] == "core id" { cores.insert("\(physical)/\(parts[1])") }
        }
        let logical = ProcessInfo.processInfo.activeProcessorCount
        return cores.isEmpty ? logical : min(cores.count, logical)
    }()

    public static let modelName: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
                ?? "CPU"
        }
        return "CPU"
    }()

    /// Threads to use for a requested count (0 = one per physical core).
    public static func threads(_ requested: Int) -> Int { requested > 0 ? requested : physicalCores }
}
