// ByteStringTable: an exact byte-string -> id map for vocabulary lookups. Swift's `String` compares by canonical
// equivalence ("é" == "e\u{301}"), but a vocabulary can hold both spellings as different tokens (Gemma does), and
// llama.cpp's `token_to_id` compares bytes. This table compares bytes, and looks up a slice of a byte buffer
// without allocating (the SentencePiece merge loop asks for every adjacent pair).

#if canImport(Glibc)
    import Glibc  // memcmp
#endif

/// An immutable open-addressing hash table from byte strings to ids (FNV-1a hash, linear probing).
struct ByteStringTable: Sendable {
    /// Every key's bytes, concatenated; key k is keyBytes[keyStart[k]..<keyStart[k + 1]].
    private let keyBytes: [UInt8]
    /// (nKeys + 1,) offsets into `keyBytes`.
    private let keyStart: [Int]
    /// (nKeys,) the id stored for each key (its index, or a later index holding the same bytes).
    private let keyID: [Int32]
    /// (capacity,) key index + 1 in each slot, 0 when empty; capacity is a power of two >= 2 * nKeys.
    private let slots: [Int32]

    /// Builds the table from `keys[i]` -> i; a repeated key keeps the last index (as llama.cpp's
    /// `token_to_id[text] = id` does).
    init(_ keys: [String]) {
        var capacity = 16
        while capacity < 2 * keys.count { capacity *= 2 }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(keys.count * 8)
        var starts: [Int] = [0]
        starts.reserveCapacity(keys.count + 1)
        for key in keys {
            bytes.append(contentsOf: key.utf8)
            starts.append(bytes.count)
        }
        var ids = (0..<keys.count).map { Int32($0) }
        var slots = [Int32](repeating: 0, count: capacity)
        bytes.withUnsafeBufferPointer { all in
            for k in 0..<keys.count {
                let key = UnsafeBufferPointer(rebasing: all[starts[k]..<starts[k + 1]])
                var slot = Int(Self.hash(key) & UInt64(capacity - 1))
                while slots[slot] != 0 {
                    let other = Int(slots[slot]) - 1
                    if Self.equal(UnsafeBufferPointer(rebasing: all[starts[other]..<starts[other + 1]]), key) {
                        ids[other] = Int32(k)  // the earlier key's slot now answers with the later id
                        break
                    }
                    slot = (slot + 1) & (capacity - 1)
                }
                if slots[slot] == 0 { slots[slot] = Int32(k + 1) }
            }
        }
        self.keyBytes = bytes
        self.keyStart = starts
        self.keyID = ids
        self.slots = slots
    }

    /// Number of keys.
    var count: Int { keyID.count }

    /// Key `k`'s text (0 <= k < count).
    func key(_ k: Int) -> String {
        keyBytes.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[keyStart[k]..<keyStart[k + 1]]), as: UTF8.self)
        }
    }

    /// The id of the key equal to `bytes`, or nil.
    func id(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        let mask = slots.count - 1
        var slot = Int(Self.hash(bytes) & UInt64(mask))
        while slots[slot] != 0 {
            let k = Int(slots[slot]) - 1
            let equal = keyBytes.withUnsafeBufferPointer {
                Self.equal(UnsafeBufferPointer(rebasing: $0[keyStart[k]..<keyStart[k + 1]]), bytes)
            }
            if equal { return keyID[k] }
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
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64-bit offset basis and prime
        var i = 0
        while i < bytes.count {
            h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01B3
            i += 1
        }
        return h
    }

    @inline(__always)
    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }
}
