// StopScanner: finds stop strings in streamed text. Text that might be the start of a stop string is held back
// until the next piece shows whether it is, so a stop string is never sent, even split over several tokens.

struct StopScanner {
    private let stops: [[Unicode.Scalar]]
    /// Text received but not yet released (it could begin a stop string).
    private var held: [Unicode.Scalar] = []

    init(_ stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }.map { Array($0.unicodeScalars) }
    }

    /// Adds `text`; returns what may be sent now and whether a stop string was found (the text before it is
    /// returned, the stop string and everything after it are dropped).
    mutating func feed(_ text: String) -> (text: String, stopped: Bool) {
        held += text.unicodeScalars
        guard !stops.isEmpty else { return (release(held.count), false) }
        // the earliest complete stop string
        var first: Int?
        for stop in stops {
            if let i = Self.find(stop, in: held), i < (first ?? .max) { first = i }
        }
        if let first {
            let out = release(first)
            held = []
            return (out, true)
        }
        // keep the longest suffix that is a proper prefix of a stop string
        var keep = 0
        for stop in stops {
            for n in stride(from: min(stop.count - 1, held.count), to: keep, by: -1)
            where held.suffix(n).elementsEqual(stop.prefix(n)) {
                keep = n
                break
            }
        }
        return (release(held.count - keep), false)
    }

    /// Everything still held (at the end of generation).
    mutating func flush() -> String { release(held.count) }

    private mutating func release(_ count: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: held.prefix(count))
        held.removeFirst(count)
        return String(s)
    }

    private static func find(_ needle: [Unicode.Scalar], in haystack: [Unicode.Scalar]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}
