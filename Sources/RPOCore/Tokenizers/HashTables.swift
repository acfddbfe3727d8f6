// Open-addressing hash tables for the encoder's hot loops: token-id pairs -> merge (rank, new id), and byte
// strings -> values without building a String or Array per lookup (used for the per-thread word cache and
// the raw-bytes vocabulary).
import Foundation

@inline(__always) func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    // FNV-1a over 8-byte words, then a final avalanche (fast for the short pieces tokenizers see).
    var h: UInt64 = 0xcbf29ce484222325 ^ UInt64(n)
    var i = 0
    while i + 8 <= n {
        let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
        h = (h ^ w) &* 0x100000001b3
        h ^= h >> 29
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < n { tail |= UInt64(p[i]) << shift; shift += 8; i += 1 }
    h = (h ^ tail) &* 0x100000001b3
    h ^= h >> 32
    h = h &* 0xd6e8feb86659fd93
    h ^= h >> 32
    return h
}

/// (left id, right id) -> (rank, merged id), as HF BPE's `merges` map.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var ranks: [UInt32]
    private var newIds: [Int32]
    private var mask: Int
    private(set) var count = 0
    static let empty: UInt64 = .max

    init(capacity: Int) {
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: cap)
        ranks = [UInt32](repeating: 0, count: cap)
        newIds = [Int32](repeating: 0, count: cap)
        mask = cap - 1
    }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }
    @inline(__always) func slot(_ k: UInt64) -> Int { Int(truncatingIfNeeded: (k &* 0x9E3779B97F4A7C15) >> 20) & mask }

    /// Inserts unless the pair is already present (the first, lowest-ranked merge of a pair wins, as when
    /// HF builds its map from the merges list and later duplicates overwrite nothing of consequence: ranks
    /// are then compared by the first occurrence).
    mutating func insertIfAbsent(_ a: Int32, _ b: Int32, rank: UInt32, newId: Int32) {
        let k = Self.key(a, b)
        var s = slot(k)
        while keys[s] != Self.empty {
            if keys[s] == k { return }
            s = (s + 1) & mask
        }
        keys[s] = k; ranks[s] = rank; newIds[s] = newId; count += 1
    }

    /// Overwrites an existing entry (HF's map keeps the last duplicate merge).
    mutating func insert(_ a: Int32, _ b: Int32, rank: UInt32, newId: Int32) {
        let k = Self.key(a, b)
        var s = slot(k)
        while keys[s] != Self.empty {
            if keys[s] == k { ranks[s] = rank; newIds[s] = newId; return }
            s = (s + 1) & mask
        }
        keys[s] = k; ranks[s] = rank; newIds[s] = newId; count += 1
    }

    /// Calls `body(a, b, rank, newId)` for every pair, in table order (for export).
    func forEach(_ body: (Int32, Int32, UInt32, Int32) throws -> Void) rethrows {
        for s in 0..<keys.count where keys[s] != Self.empty {
            try body(Int32(bitPattern: UInt32(truncatingIfNeeded: keys[s] >> 32)),
                     Int32(bitPattern: UInt32(truncatingIfNeeded: keys[s])), ranks[s], newIds[s])
        }
    }

    /// (rank, new id) of the pair, rank UInt32.max when the pair does not merge.
    @inline(__always) func lookup(_ a: Int32, _ b: Int32) -> (UInt32, Int32) {
        let k = Self.key(a, b)
        return keys.withUnsafeBufferPointer { kb in
            var s = slot(k)
            while true {
                let x = kb[s]
                if x == k { return (ranks[s], newIds[s]) }
                if x == Self.empty { return (UInt32.max, -1) }
                s = (s + 1) & mask
            }
        }
    }
}

/// Byte strings -> (Int32, Int32) values, keys copied into one arena.
struct BytesTable {
    private var slots: [Int32]          // entry index + 1, 0 = empty
    private var hashes: [UInt64] = []
    private var keyStart: [Int32] = []
    private var keyLen: [Int32] = []
    private(set) var values: [(Int32, Int32)] = []
    private var arena: [UInt8] = []
    private var mask: Int
    var count: Int { values.count }

    init(capacity: Int) {
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        slots = [Int32](repeating: 0, count: cap)
        mask = cap - 1
    }

    mutating func removeAll() {
        for i in 0..<slots.count { slots[i] = 0 }
        hashes.removeAll(keepingCapacity: true); keyStart.removeAll(keepingCapacity: true)
        keyLen.removeAll(keepingCapacity: true); values.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> (Int32, Int32)? {
        let h = hashBytes(p, n)
        var s = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { sl in
            while true {
                let e = Int(sl[s])
                if e == 0 { return nil }
                let i = e - 1
                if hashes[i] == h && Int(keyLen[i]) == n {
                    let same = arena.withUnsafeBufferPointer { a in memcmp(a.baseAddress! + Int(keyStart[i]), p, n) == 0 }
                    if same { return values[i] }
                }
                s = (s + 1) & mask
            }
        }
    }

    /// Inserts a key that is not present (callers look up first). Returns false when the table is full.
    @discardableResult
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, _ v: (Int32, Int32)) -> Bool {
        if (values.count + 1) * 2 > slots.count { return false }
        let h = hashBytes(p, n)
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] != 0 { s = (s + 1) & mask }
        hashes.append(h)
        keyStart.append(Int32(arena.count)); keyLen.append(Int32(n))
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        values.append(v)
        slots[s] = Int32(values.count)
        return true
    }

    /// Calls `body(key, value)` for every entry, in insertion order (for export).
    func forEach(_ body: (UnsafeBufferPointer<UInt8>, (Int32, Int32)) throws -> Void) rethrows {
        try arena.withUnsafeBufferPointer { a in
            for i in 0..<values.count {
                try body(UnsafeBufferPointer(rebasing: a[Int(keyStart[i])..<Int(keyStart[i] + keyLen[i])]), values[i])
            }
        }
    }

    mutating func insert(_ bytes: [UInt8], _ v: (Int32, Int32)) {
        bytes.withUnsafeBufferPointer { b in
            let base = b.baseAddress ?? UnsafePointer(bitPattern: 1)!
            if lookup(base, b.count) == nil { insert(base, b.count, v) }
        }
    }
}
