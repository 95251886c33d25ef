// PriorityHeap: the binary heap both merge loops (byte-level BPE and SentencePiece) take their next pair from.

/// An element that knows whether it comes out of the heap before another.
protocol Prioritized {
    func precedes(_ other: Self) -> Bool
}

/// A binary heap; `pop` returns the element that precedes all others.
struct PriorityHeap<Element: Prioritized> {
    private var items: [Element] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ item: Element) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < items.count else { break }
                let right = left + 1
                let child = right < items.count && items[right].precedes(items[left]) ? right : left
                guard items[child].precedes(items[parent]) else { break }
                items.swapAt(child, parent)
                parent = child
            }
        }
        return top
    }
}
