// ChromeTrace: writes profiled ops as Chrome trace-event JSON ("X" complete events, microseconds), which Perfetto
// and chrome://tracing open: one slice per kernel, so the time line of each token is visible.
import Foundation

public enum ChromeTrace {
    public static func write(_ events: [OpEvent], backend: String, to path: String) throws {
        var out = "{\"traceEvents\":[\n"
        for (i, e) in events.enumerated() {
            let name = e.key.replacingOccurrences(of: "\"", with: "'")
            let ts = String(format: "%.3f", Double(e.startNanoseconds) / 1000)
            let dur = String(format: "%.3f", Double(e.durationNanoseconds) / 1000)
            out += "{\"name\":\"\(name)\",\"cat\":\"\(backend)\",\"ph\":\"X\",\"ts\":\(ts),\"dur\":\(dur),"
                + "\"pid\":1,\"tid\":1,\"args\":{\"op\":\"\(e.op.rawValue)\"}}"
            out += i + 1 < events.count ? ",\n" : "\n"
        }
        out += "],\"displayTimeUnit\":\"ms\"}\n"
        try out.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
