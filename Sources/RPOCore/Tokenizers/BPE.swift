// Byte-pair encoding: HF `BPE` (merges ranked by their line in the merges list, byte fallback, unk fusing,
// ignore_merges, continuing-subword prefix / end-of-word suffix) and, through a generated merge table,
// SentencePiece-BPE with scores (llama.cpp's SPM tokenizer).
// Merge order: repeatedly the lowest-ranked adjacent pair, ties to the leftmost — what HF's heap
// (`Word::merge_all`, models/bpe/word.rs: ordered by (rank, position)) and llama.cpp's bigram queue do.
// Two implementations of that loop: a linear scan over a compact array (short pieces, the common case) and a
// heap over a linked list (long pieces); each is the other's test oracle.
// Byte-level models run on raw bytes: each byte's initial symbol is the id of its GPT-2 alphabet character.
import Foundation

struct BPEModel: Sendable {
    /// Initial symbol of each byte (byte-level models), -1 when the vocabulary lacks it.
    let byteIds: [Int32]
    /// Initial symbol of each character (character-level models).
    let charIds: [UInt32: Int32]
    /// `<0xXX>` tokens for byte fallback, -1 when absent.
    let fallbackIds: [Int32]
    let byteLevel: Bool
    let byteFallback: Bool
    let unkId: Int32?
    let fuseUnk: Bool
    let ignoreMerges: Bool
    /// Vocabulary keyed by the raw bytes each token stands for (byte-level: decoded from the alphabet).
    let rawVocab: UncheckedSendable<BytesTable>
    let merges: PairTable
    /// HF `continuing_subword_prefix` / `end_of_word_suffix` (rare; handled on a slower path).
    let prefix: String?
    let suffix: String?
    let vocab: Vocabulary

    /// Pieces longer than this many initial symbols use the heap merge loop.
    static let linearLimit = 96
    /// Pieces up to this many bytes are cached (HF: MAX_LENGTH 256).
    static let cacheMaxBytes = 256

    /// Encodes one piece (`p[start..<end]`), appending ids to `out`.
    func encode(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ out: inout [Int32], _ s: inout BPEScratch) {
        let n = end - start
        if n == 0 { return }
        if ignoreMerges, let (id, _) = rawVocab.value.lookup(p + start, n) { out.append(id); return }
        let cacheable = n <= Self.cacheMaxBytes
        if cacheable, let (off, len) = s.cache.lookup(p + start, n) {
            out.append(contentsOf: s.cacheIds[Int(off)..<Int(off + len)])
            return
        }
        s.symbols.removeAll(keepingCapacity: true)
        initialSymbols(p, start, end, &s.symbols)
        if s.symbols.count > 1 {
            if s.symbols.count <= Self.linearLimit { mergeLinear(&s.symbols, &s.ranks) } else { mergeHeap(&s) }
        }
        out.append(contentsOf: s.symbols)
        if cacheable {
            if s.cache.count >= BPEScratch.cacheEntries || s.cacheIds.count > BPEScratch.cacheIdLimit {
                s.cache.removeAll(); s.cacheIds.removeAll(keepingCapacity: true)
            }
            let off = Int32(s.cacheIds.count)
            s.cacheIds.append(contentsOf: s.symbols)
            s.cache.insert(p + start, n, (off, Int32(s.symbols.count)))
        }
    }

    /// HF `merge_word`: one symbol per character (byte, for byte-level), with byte fallback, then unk
    /// (fused when `fuse_unk`), else the character is dropped.
    func initialSymbols(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ out: inout [Int32]) {
        if byteLevel && prefix == nil && suffix == nil {
            var pendingUnk = false
            for i in start..<end {
                let id = byteIds[Int(p[i])]
                if id >= 0 {
                    if pendingUnk { out.append(unkId!); pendingUnk = false }
                    out.append(id)
                } else if let u = unkId {
                    if pendingUnk && !fuseUnk { out.append(u) }
                    pendingUnk = true
                }
            }
            if pendingUnk { out.append(unkId!) }
            return
        }
        var pendingUnk = false
        var i = start
        while i < end {
            let (v, len) = decodeUTF8(p, i)
            let isFirst = i == start, isLast = i + len == end
            var id: Int32 = -1
            if prefix == nil && suffix == nil {
                id = byteLevel ? (len == 1 ? byteIds[Int(p[i])] : -1) : (charIds[v] ?? -1)
            } else {
                var str = byteLevel
                    ? String(decoding: ByteLevelAlphabet.encode(UnsafeBufferPointer(start: p + i, count: len)), as: UTF8.self)
                    : String(decoding: UnsafeBufferPointer(start: p + i, count: len), as: UTF8.self)
                if !isFirst, let pre = prefix { str = pre + str }
                if isLast, let suf = suffix { str += suf }
                id = vocab.id(str).map(Int32.init) ?? -1
            }
            if id >= 0 {
                if pendingUnk { out.append(unkId!); pendingUnk = false }
                out.append(id)
            } else {
                var handled = false
                if byteFallback {
                    var all = true
                    for k in i..<(i + len) where fallbackIds[Int(p[k])] < 0 { all = false }
                    if all {
                        // HF adds the fallback bytes without flushing a pending unk first.
                        for k in i..<(i + len) { out.append(fallbackIds[Int(p[k])]) }
                        handled = true
                    }
                }
                if !handled, let u = unkId {
                    if pendingUnk && !fuseUnk { out.append(u) }
                    pendingUnk = true
                }
            }
            i += len
        }
        if pendingUnk { out.append(unkId!) }
    }

    /// Linear-scan merge: `ranks[k]` is the rank of pair (k, k+1).
    @inline(__always)
    func mergeLinear(_ sym: inout [Int32], _ ranks: inout [UInt32]) {
        var n = sym.count
        ranks.removeAll(keepingCapacity: true)
        for k in 0..<(n - 1) { ranks.append(merges.lookup(sym[k], sym[k + 1]).0) }
        sym.withUnsafeMutableBufferPointer { sp in
            ranks.withUnsafeMutableBufferPointer { rp in
                while n > 1 {
                    var best = UInt32.max, bk = -1
                    for k in 0..<(n - 1) where rp[k] < best { best = rp[k]; bk = k }
                    if bk < 0 { break }
                    sp[bk] = merges.lookup(sp[bk], sp[bk + 1]).1
                    // Remove symbol bk+1 and pair-rank bk+1.
                    var k = bk + 1
                    while k < n - 1 { sp[k] = sp[k + 1]; k += 1 }
                    k = bk + 1
                    while k < n - 2 { rp[k] = rp[k + 1]; k += 1 }
                    n -= 1
                    if bk > 0 { rp[bk - 1] = merges.lookup(sp[bk - 1], sp[bk]).0 }
                    if bk < n - 1 { rp[bk] = merges.lookup(sp[bk], sp[bk + 1]).0 }
                }
            }
        }
        sym.removeLast(sym.count - n)
    }

    /// Heap merge over a linked list (HF `Word::merge_all`): entries (rank, position), stale ones skipped.
    func mergeHeap(_ s: inout BPEScratch) {
        var sym = s.symbols
        defer { s.symbols = sym }
        let n = sym.count
        s.next.removeAll(keepingCapacity: true); s.prev.removeAll(keepingCapacity: true)
        s.alive.removeAll(keepingCapacity: true)
        for k in 0..<n { s.next.append(Int32(k + 1)); s.prev.append(Int32(k - 1)); s.alive.append(true) }
        s.heap.removeAll(keepingCapacity: true)
        for k in 0..<(n - 1) {
            let (r, nid) = merges.lookup(sym[k], sym[k + 1])
            if r != UInt32.max { s.heap.push(HeapEntry(rank: r, pos: Int32(k), newId: nid)) }
        }
        while let top = s.heap.pop() {
            let pos = Int(top.pos)
            guard s.alive[pos] else { continue }
            let nx = Int(s.next[pos])
            guard nx < n else { continue }
            // Stale unless the pair still merges into the same id.
            let (r, nid) = merges.lookup(sym[pos], sym[nx])
            guard r != UInt32.max && nid == top.newId else { continue }
            sym[pos] = nid
            s.alive[nx] = false
            let nn = Int(s.next[nx])
            s.next[pos] = Int32(nn)
            if nn < n { s.prev[nn] = Int32(pos) }
            let pv = Int(s.prev[pos])
            if pv >= 0 {
                let (r2, id2) = merges.lookup(sym[pv], sym[pos])
                if r2 != UInt32.max { s.heap.push(HeapEntry(rank: r2, pos: Int32(pv), newId: id2)) }
            }
            if nn < n {
                let (r3, id3) = merges.lookup(sym[pos], sym[nn])
                if r3 != UInt32.max { s.heap.push(HeapEntry(rank: r3, pos: Int32(pos), newId: id3)) }
            }
        }
        var w = 0
        for k in 0..<n where s.alive[k] { sym[w] = sym[k]; w += 1 }
        sym.removeLast(n - w)
    }
}

struct HeapEntry {
    var rank: UInt32
    var pos: Int32
    var newId: Int32
    @inline(__always) static func < (a: HeapEntry, b: HeapEntry) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos
    }
}

/// A binary min-heap of merge candidates.
struct MergeHeap {
    var items: [HeapEntry] = []
    mutating func removeAll(keepingCapacity: Bool) { items.removeAll(keepingCapacity: keepingCapacity) }
    mutating func push(_ e: HeapEntry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[i] < items[parent] { items.swapAt(i, parent); i = parent } else { break }
        }
    }
    mutating func pop() -> HeapEntry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && items[l] < items[m] { m = l }
            if r < n && items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m); i = m
        }
        return first
    }
}

/// Per-thread working memory of the BPE encoder, including its word cache.
struct BPEScratch {
    static let cacheEntries = 32_768
    static let cacheIdLimit = 1 << 20
    var symbols: [Int32] = []
    var ranks: [UInt32] = []
    var next: [Int32] = [], prev: [Int32] = []
    var alive: [Bool] = []
    var heap = MergeHeap()
    var cache = BytesTable(capacity: cacheEntries)
    var cacheIds: [Int32] = []
}
