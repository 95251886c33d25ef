// ByteStringTable: an exact byte-string -> id map for vocabulary lookups. Swift's `String` compares by canonical
// equivalence ("é" == "e\u{301}"), but a vocabulary can hold both spellings as different tokens (Gemma does), and
// llama.cpp's `token_to_id` compares bytes. This table compares bytes, and looks up a slice of a byte buffer
// without allocating (the SentencePiece merge loop asks for every adjacent pair).

/// An immutable open-addressing hash table from byte strings to ids (FNV-1a hash, linear probing).
struct ByteStringTable: Sendable {
    /// Every key's bytes, concatenated; key k is keyBytes[keyStart[k]..<keyStart[k + 1]].
    private let keyBytes: [UInt8]
    /// (nKeys + 1,) offsets into `keyBytes`.
    private let keyStart: [Int]
    /// (nKeys,) the id stored for each key.
    private let keyID: [Int32]
    /// (capacity,) key index + 1 in each slot, 0 when empty; capacity is a power of two >= 2 * nKeys.
    private let slots: [Int32]

    /// Builds the table; a repeated key keeps the id given last (as llama.cpp's `token_to_id[text] = id` does).
    /// - Parameter entries: (bytes, id) pairs.
    init(_ entries: [(bytes: [UInt8], id: Int32)]) {
        var capacity = 16
        while capacity < 2 * entries.count { capacity *= 2 }
        var bytes: [UInt8] = []
        var starts: [Int] = [0]
        var ids: [Int32] = []
        var slots = [Int32](repeating: 0, count: capacity)
        bytes.reserveCapacity(entries.reduce(0) { $0 + $1.bytes.count })
        for (key, id) in entries {
            var slot = Int(Self.hash(key) & UInt64(capacity - 1))
            var replaced = false
            while slots[slot] != 0 {
                let k = Int(slots[slot]) - 1
                if bytes[starts[k]..<starts[k + 1]].elementsEqual(key) {
                    ids[k] = id
                    replaced = true
                    break
                }
                slot = (slot + 1) & (capacity - 1)
            }
            if replaced { continue }
            bytes += key
            starts.append(bytes.count)
            ids.append(id)
            slots[slot] = Int32(ids.count)
        }
        self.keyBytes = bytes
        self.keyStart = starts
        self.keyID = ids
        self.slots = slots
    }

    /// The id of the key equal to `bytes`, or nil.
    func id(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        let mask = slots.count - 1
        var slot = Int(Self.hash(bytes) & UInt64(mask))
        while slots[slot] != 0 {
            let k = Int(slots[slot]) - 1
            let start = keyStart[k]
            if keyStart[k + 1] - start == bytes.count {
                var equal = true
                for i in 0..<bytes.count where keyBytes[start + i] != bytes[i] {
                    equal = false
                    break
                }
                if equal { return keyID[k] }
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// The id of the key equal to `bytes`, or nil.
    func id<C: Collection<UInt8>>(_ bytes: C) -> Int32? {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { id($0) }
    }

    @inline(__always)
    private static func hash<C: Sequence<UInt8>>(_ bytes: C) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64-bit offset basis and prime
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
