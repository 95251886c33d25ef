// CheckedSize: size arithmetic on numbers that come from files, flags or requests. Products and sums report
// overflow as an error naming what was being computed, instead of trapping; nothing here allocates.

/// A size computation that overflowed `Int`.
public struct SizeOverflow: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was being computed, with its factors ("KV cache bytes 1000000 × 4096 × ...").
    public let what: String
    public var description: String { "\(what) overflows a 64-bit integer" }
}

public enum CheckedSize {
    /// The product of `factors` (1 for none), or `SizeOverflow` naming `what` and the factors.
    public static func product(_ factors: [Int], _ what: String) throws(SizeOverflow) -> Int {
        var result = 1
        for f in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow { throw SizeOverflow(what: "\(what) \(factors.map(String.init).joined(separator: " × "))") }
            result = value
        }
        return result
    }

    /// The sum of `terms`, or `SizeOverflow` naming `what`.
    public static func sum(_ terms: [Int], _ what: String) throws(SizeOverflow) -> Int {
        var result = 0
        for t in terms {
            let (value, overflow) = result.addingReportingOverflow(t)
            if overflow { throw SizeOverflow(what: "\(what) \(terms.map(String.init).joined(separator: " + "))") }
            result = value
        }
        return result
    }

    /// `value` as an `Int`, or nil when it is not finite, not integral or out of `Int`'s range (never traps, unlike
    /// `Int(_:)` on a Double).
    public static func int(exactly value: Double) -> Int? {
        guard value.isFinite, value == value.rounded(), abs(value) < 9.2e18 else { return nil }
        return Int(value)
    }

    /// Bytes of physical memory on this machine (nil where the system does not say).
    public static var physicalMemory: Int? {
        #if canImport(Glibc)
            let pages = sysconf(Int32(_SC_PHYS_PAGES))
            let pageSize = sysconf(Int32(_SC_PAGESIZE))
            guard pages > 0, pageSize > 0 else { return nil }
            return pages.multipliedReportingOverflow(by: pageSize).overflow ? Int.max : pages * pageSize
        #else
            return nil
        #endif
    }
}

#if canImport(Glibc)
    import Glibc
#endif
