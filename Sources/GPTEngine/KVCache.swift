// KVCache: the keys and values of several sequences, one slot per sequence, owned outside the executor so that one
// forward call can carry rows of many sequences (a server's continuous batching) and a single sequence (generate,
// chat) is the one-slot case. Each slot holds nCtx positions of every global layer; a sliding-window layer (Gemma
// 3's local layers) keeps only a ring of window + rowsPerForward positions, position p at row p % rows, which is
// all its attention reads (llama.cpp's SWA cache). A slot's length is how many positions are valid; a ring cannot
// go back to a position whose window it has overwritten (`canResume`).
import GPTCore

public final class KVCache {
    public let backend: any Backend
    /// Sequences the cache holds at once.
    public let slots: Int
    /// Positions per slot.
    public let nCtx: Int
    public let nLayers: Int
    /// Width of a key or value row (nKVHeads * headDim).
    public let width: Int
    /// F16 (half the memory and bandwidth, llama.cpp's default) or F32.
    public let format: WeightFormat
    /// Sliding window of each layer (0: a global layer, it sees every earlier position).
    public let windows: [Int]
    /// Most positions of one slot a forward pass stores (the executor's rows per pass): a ring holds its window
    /// plus these, so a pass never overwrites a key that its own earliest row still sees.
    public let rowsPerForward: Int
    /// Rows of each layer: nCtx, or min(nCtx, window + rowsPerForward) for a sliding-window layer (a ring).
    public let layerRows: [Int]
    // keys[slot][layer], values[slot][layer]: (layerRows[layer], width) each
    let keys: [[any DeviceTensor]]
    let values: [[any DeviceTensor]]
    /// Valid positions per slot.
    public private(set) var lengths: [Int]
    /// Per slot, the first position every ring layer still holds (0 until a ring has wrapped): the keys of
    /// positions before it were overwritten by later ones.
    private var held: [Int]
    private var inUse: [Bool]
    /// The fewest rows of a ring layer and the largest window (nil without a window).
    private let ring: (rows: Int, window: Int)?

    /// Allocates every slot now (the memory is fixed: slots * 2 * width * the sum of layerRows values).
    /// - Parameters:
    ///   - windows: each layer's sliding window (0: global); empty: every layer global.
    ///   - rowsPerForward: most positions of a slot one forward pass stores (needed with a window).
    public init(backend: any Backend, slots: Int, nCtx: Int, nLayers: Int, width: Int, format: WeightFormat,
                windows: [Int] = [], rowsPerForward: Int = 0) throws {
        guard slots >= 1, nCtx >= 1, nLayers >= 1, width >= 1 else {
            throw EngineError.badCache("\(slots) slots of \(nCtx) positions, \(nLayers) layers of width \(width)")
        }
        let windows = windows.isEmpty ? Array(repeating: 0, count: nLayers) : windows
        guard windows.count == nLayers, windows.allSatisfy({ $0 >= 0 }),
              rowsPerForward >= 1 || windows.allSatisfy({ $0 == 0 }) else {
            throw EngineError.badCache("windows \(windows) for \(nLayers) layers, \(rowsPerForward) rows per forward")
        }
        let layerRows = Self.layerRows(nCtx: nCtx, windows: windows, rowsPerForward: rowsPerForward)
        try Self.checkFits(slots: slots, layerRows: layerRows, width: width, format: format)
        self.backend = backend
        self.slots = slots
        self.nCtx = nCtx
        self.nLayers = nLayers
        self.width = width
        self.format = format
        self.windows = windows
        self.rowsPerForward = rowsPerForward
        self.layerRows = layerRows
        keys = try (0..<slots).map { s in
            try (0..<nLayers).map { try backend.allocate([layerRows[$0], width], format, label: "k_cache.\(s).\($0)") }
        }
        values = try (0..<slots).map { s in
            try (0..<nLayers).map { try backend.allocate([layerRows[$0], width], format, label: "v_cache.\(s).\($0)") }
        }
        lengths = Array(repeating: 0, count: slots)
        held = Array(repeating: 0, count: slots)
        let ringLayers = (0..<nLayers).filter { windows[$0] > 0 }
        ring = ringLayers.isEmpty ? nil : (ringLayers.map { layerRows[$0] }.min()!, ringLayers.map { windows[$0] }.max()!)
        inUse = Array(repeating: false, count: slots)
    }

    /// Rows of each layer's cache: nCtx, or a ring of window + rowsPerForward for a sliding-window layer.
    public static func layerRows(nCtx: Int, windows: [Int], rowsPerForward: Int) -> [Int] {
        windows.map { $0 > 0 ? min(nCtx, $0 + max(1, rowsPerForward)) : nCtx }
    }

    /// Refuses a cache larger than the machine (with `besides` bytes of other buffers) rather than dying in the
    /// allocator (a 16M-position --ctx): overflow-checked, against the physical memory.
    public static func checkFits(slots: Int, layerRows: [Int], width: Int, format: WeightFormat,
                                 besides: Int = 0) throws {
        let nCtx = layerRows.max() ?? 0
        do {
            let rows = try CheckedSize.sum(layerRows, "KV cache rows")
            let kvBytes = try CheckedSize.product([2, slots, rows, width, format.byteCount(1)], "KV cache bytes")
            if let memory = CheckedSize.physicalMemory, kvBytes > memory - min(memory, max(0, besides)) {
                throw EngineError.badModel(
                    path: "", "a KV cache of \(slots) x \(nCtx) positions needs \(kvBytes >> 20) MiB, more than this "
                        + "machine's \(memory >> 20) MiB of memory (lower --ctx)")
            }
        } catch let overflow as SizeOverflow {
            throw EngineError.badModel(path: "", overflow.description)
        }
    }

    /// Bytes the cache holds on the backend.
    public var byteCount: Int { slots * 2 * layerRows.reduce(0) { $0 + format.byteCount($1 * width) } }

    /// Whether a forward pass of `slot` may start at `position` (<= its length): a ring layer must still hold the
    /// window before it (the positions from position - window + 1 on), not overwritten by later ones.
    public func canResume(_ slot: Int, at position: Int) -> Bool {
        guard (0..<slots).contains(slot), position >= 0, position <= lengths[slot] else { return false }
        guard let ring else { return true }
        return max(0, position - ring.window + 1) >= held[slot]
    }

    // MARK: - Slots

    /// Takes a free slot (empty); nil when every slot is in use.
    public func allocate() -> Int? {
        guard let s = inUse.firstIndex(of: false) else { return nil }
        inUse[s] = true
        (lengths[s], held[s]) = (0, 0)
        return s
    }

    /// Returns `slot` to the free list.
    public func free(_ slot: Int) {
        guard (0..<slots).contains(slot) else { return }
        inUse[slot] = false
        (lengths[slot], held[slot]) = (0, 0)
    }

    public func isAllocated(_ slot: Int) -> Bool { (0..<slots).contains(slot) && inUse[slot] }

    /// Keeps only the first `length` positions of `slot` (reuse of a shared prefix; 0 empties it) and returns how
    /// many it kept: `length` (at most what the slot holds), or 0 where a ring layer has already overwritten the
    /// window before `length` (the caller feeds the tokens again).
    @discardableResult
    public func truncate(_ slot: Int, to length: Int) -> Int {
        guard (0..<slots).contains(slot) else { return 0 }
        let kept = max(0, min(lengths[slot], length))
        if !canResume(slot, at: kept) { (lengths[slot], held[slot]) = (0, 0) } else { lengths[slot] = kept }
        return lengths[slot]
    }

    /// Copies the first `count` positions of `source` into `destination` (a shared prompt prefix), which then
    /// holds exactly those positions. A device-side copy of count rows per layer (of the ring's rows holding them
    /// for a sliding-window layer: throws when the source's ring no longer holds the window before `count`).
    public func copyPrefix(from source: Int, to destination: Int, count: Int) throws {
        guard isAllocated(source), isAllocated(destination), source != destination else {
            throw EngineError.badCache("copy from slot \(source) to slot \(destination): both must be allocated, distinct")
        }
        guard count >= 0, count <= lengths[source], canResume(source, at: count) else {
            throw EngineError.badCache("copy of \(count) positions from slot \(source), which holds \(lengths[source])"
                + (count <= lengths[source] ? " (its sliding-window layers no longer hold them)" : ""))
        }
        if count > 0 {
            for l in 0..<nLayers {
                // positions first..<count, at the same rows in both slots (p % rows): one or two runs
                let rows = layerRows[l], first = max(0, count - rows)
                for (p, n) in ringRuns(from: first, count: count - first, rows: rows) {
                    try backend.run(.copyRows(dst: keys[destination][l], dstRow: p % rows, src: keys[source][l],
                                              srcRow: p % rows, rows: n))
                    try backend.run(.copyRows(dst: values[destination][l], dstRow: p % rows, src: values[source][l],
                                              srcRow: p % rows, rows: n))
                }
            }
        }
        lengths[destination] = count
        held[destination] = ring.map { max(held[source], count - $0.rows, 0) } ?? 0
    }

    /// Stores rows srcRow..<srcRow+count of `k` and `v` (one sequence's new keys and values, count <=
    /// rowsPerForward) at positions position..<position+count of `slot` in `layer`: at row p % rows, so a ring's
    /// rows are written in up to two runs.
    func store(_ slot: Int, layer: Int, position: Int, k: any DeviceTensor, v: any DeviceTensor, srcRow: Int,
               count: Int) throws {
        var src = srcRow
        for (p, n) in ringRuns(from: position, count: count, rows: layerRows[layer]) {
            let row = p % layerRows[layer]
            try backend.run(.copyRows(dst: keys[slot][layer], dstRow: row, src: k, srcRow: src, rows: n))
            try backend.run(.copyRows(dst: values[slot][layer], dstRow: row, src: v, srcRow: src, rows: n))
            src += n
        }
    }

    /// Positions from..<from+count cut where p % rows wraps to 0: (first position, count) of each contiguous run.
    private func ringRuns(from: Int, count: Int, rows: Int) -> [(Int, Int)] {
        var runs: [(Int, Int)] = []
        var p = from
        while p < from + count {
            let n = min(from + count - p, rows - p % rows)
            runs.append((p, n))
            p += n
        }
        return runs
    }

    /// Records that `slot` now holds `length` positions (the executor, after storing them from a position it could
    /// resume at): a ring keeps the last ring.rows of them.
    func setLength(_ slot: Int, _ length: Int) {
        lengths[slot] = length
        if let ring { held[slot] = max(held[slot], length - ring.rows, 0) }
    }

    /// Marks `slot` allocated without the free list (the executor's own one-slot cache).
    func claim(_ slot: Int) { inUse[slot] = true }
}
