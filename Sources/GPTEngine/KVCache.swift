// KVCache: the keys and values of several sequences, one slot per sequence, owned outside the executor so that one
// forward call can carry rows of many sequences (a server's continuous batching) and a single sequence (generate,
// chat) is the one-slot case. Each slot holds nCtx positions of every layer; its length is how many are valid.
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
    // keys[slot][layer], values[slot][layer]: (nCtx, width) each
    let keys: [[any DeviceTensor]]
    let values: [[any DeviceTensor]]
    /// Valid positions per slot.
    public private(set) var lengths: [Int]
    private var inUse: [Bool]

    /// Allocates every slot now (the memory is fixed: slots * nLayers * 2 * nCtx * width values).
    public init(backend: any Backend, slots: Int, nCtx: Int, nLayers: Int, width: Int, format: WeightFormat) throws {
        guard slots >= 1, nCtx >= 1, nLayers >= 1, width >= 1 else {
            throw EngineError.badCache("\(slots) slots of \(nCtx) positions, \(nLayers) layers of width \(width)")
        }
        try Self.checkFits(slots: slots, nCtx: nCtx, nLayers: nLayers, width: width, format: format)
        self.backend = backend
        self.slots = slots
        self.nCtx = nCtx
        self.nLayers = nLayers
        self.width = width
        self.format = format
        keys = try (0..<slots).map { s in
            try (0..<nLayers).map { try backend.allocate([nCtx, width], format, label: "k_cache.\(s).\($0)") }
        }
        values = try (0..<slots).map { s in
            try (0..<nLayers).map { try backend.allocate([nCtx, width], format, label: "v_cache.\(s).\($0)") }
        }
        lengths = Array(repeating: 0, count: slots)
        inUse = Array(repeating: false, count: slots)
    }

    /// Refuses a cache larger than the machine (with `besides` bytes of other buffers) rather than dying in the
    /// allocator (a 16M-position --ctx): overflow-checked, against the physical memory.
    public static func checkFits(slots: Int, nCtx: Int, nLayers: Int, width: Int, format: WeightFormat,
                                 besides: Int = 0) throws {
        do {
            let kvBytes = try CheckedSize.product([2, slots, nLayers, nCtx, width, format.byteCount(1)],
                                                  "KV cache bytes")
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
    public var byteCount: Int { slots * nLayers * 2 * format.byteCount(nCtx * width) }

    // MARK: - Slots

    /// Takes a free slot (empty); nil when every slot is in use.
    public func allocate() -> Int? {
        guard let s = inUse.firstIndex(of: false) else { return nil }
        inUse[s] = true
        lengths[s] = 0
        return s
    }

    /// Returns `slot` to the free list.
    public func free(_ slot: Int) {
        guard (0..<slots).contains(slot) else { return }
        inUse[slot] = false
        lengths[slot] = 0
    }

    public func isAllocated(_ slot: Int) -> Bool { (0..<slots).contains(slot) && inUse[slot] }

    /// Keeps only the first `length` positions of `slot` (reuse of a shared prefix; 0 empties it).
    public func truncate(_ slot: Int, to length: Int) {
        guard (0..<slots).contains(slot) else { return }
        lengths[slot] = max(0, min(lengths[slot], length))
    }

    /// Copies the first `count` positions of `source` into `destination` (a shared prompt prefix), which then
    /// holds exactly those positions. A device-side copy of count rows per layer.
    public func copyPrefix(from source: Int, to destination: Int, count: Int) throws {
        guard isAllocated(source), isAllocated(destination), source != destination else {
            throw EngineError.badCache("copy from slot \(source) to slot \(destination): both must be allocated, distinct")
        }
        guard count >= 0, count <= lengths[source] else {
            throw EngineError.badCache("copy of \(count) positions from slot \(source), which holds \(lengths[source])")
        }
        if count > 0 {
            for l in 0..<nLayers {
                try backend.run(.copyRows(dst: keys[destination][l], dstRow: 0, src: keys[source][l], srcRow: 0,
                                          rows: count))
                try backend.run(.copyRows(dst: values[destination][l], dstRow: 0, src: values[source][l], srcRow: 0,
                                          rows: count))
            }
        }
        lengths[destination] = count
    }

    /// Records that `slot` now holds `length` positions (the executor, after storing them).
    func setLength(_ slot: Int, _ length: Int) { lengths[slot] = length }

    /// Marks `slot` allocated without the free list (the executor's own one-slot cache).
    func claim(_ slot: Int) { inUse[slot] = true }
}
