// Pre-tokenizers: split normalized text into pieces the model encodes one by one. Pieces are byte spans of
// one UTF-8 buffer; only Metaspace and ByteLevel(add_prefix_space) rewrite the bytes.
// Reference: huggingface/tokenizers tokenizers/src/pre_tokenizers/*.rs and NormalizedString::split
// (tokenizer/normalizer.rs) for the delimiter behaviours, including their folds' exact quirks.
import Foundation

/// How a split treats the matched delimiters (HF `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
}

/// When Metaspace prepends its replacement character.
enum PrependScheme: String, Sendable { case always, first, never }

/// Characters tested one by one (each matching character is its own match).
enum CharPredicate: Sendable {
    case whitespace      // Rust char::is_whitespace
    case bertPunctuation // ASCII punctuation or Unicode P*
    case numeric         // Rust char::is_numeric (N*)

    @inline(__always) func test(_ c: UInt8) -> Bool {
        switch self {
        case .whitespace: return c & CharClass.space != 0
        case .bertPunctuation: return c & (CharClass.punct | CharClass.asciiPunct) != 0
        case .numeric: return c & CharClass.number != 0
        }
    }
}

/// Pieces of text: spans of `bytes`. `atStart` marks the piece that begins the original input (offset 0),
/// which Metaspace's `prepend_scheme: first` needs.
struct Pieces {
    var bytes: [UInt8] = []
    var spans: [ByteSpan] = []
    var atStart: [Bool] = []

    mutating func reset() { bytes.removeAll(keepingCapacity: true); spans.removeAll(keepingCapacity: true); atStart.removeAll(keepingCapacity: true) }
}

/// Scratch arrays reused across calls (one set per encoding thread).
struct PreTokenizerScratch {
    var matches: [ByteSpan] = []
    var segments: [(ByteSpan, Bool)] = []
    var spans: [ByteSpan] = []
    var atStart: [Bool] = []
    var bytes: [UInt8] = []
}

enum PreTokenizerStep: Sendable {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case chars(CharPredicate, SplitBehavior)
    case bert
    case metaspace(replacement: UInt32, prependScheme: PrependScheme, split: Bool)
}

struct PreTokenizer: Sendable {
    let steps: [PreTokenizerStep]

    /// True when the pieces leave as GPT-2 byte-level text (the model then works on raw bytes).
    var isByteLevel: Bool {
        if case .byteLevel = steps.last { return true }
        return false
    }

    func apply(_ p: inout Pieces, _ s: inout PreTokenizerScratch) {
        for step in steps {
            switch step {
            case .byteLevel(let addPrefixSpace, let useRegex):
                if addPrefixSpace { prependToPieces(&p, &s, [0x20], onlyIf: { _ in true }) }
                if useRegex { splitSpans(&p, &s, .isolated, invert: false) { a, b, c, o in SplitPattern.gpt2.findMatches(a, b, c, into: &o) } }
            case .split(let pattern, let behavior, let invert):
                splitSpans(&p, &s, behavior, invert: invert) { a, b, c, o in pattern.findMatches(a, b, c, into: &o) }
            case .chars(let pred, let behavior):
                splitSpans(&p, &s, behavior, invert: false) { a, b, c, o in Self.charMatches(a, b, c, pred, &o) }
            case .bert:
                splitSpans(&p, &s, .removed, invert: false) { a, b, c, o in Self.charMatches(a, b, c, .whitespace, &o) }
                splitSpans(&p, &s, .isolated, invert: false) { a, b, c, o in Self.charMatches(a, b, c, .bertPunctuation, &o) }
            case .metaspace(let rep, let scheme, let split):
                metaspace(&p, &s, rep, scheme)
                if split {
                    var lit: [UInt8] = []
                    appendUTF8(rep, to: &lit)
                    splitSpans(&p, &s, .mergedWithNext, invert: false) { a, b, c, o in Scanners.literal(a, b, c, lit, &o) }
                }
            }
        }
    }

    static func charMatches(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ pred: CharPredicate,
                            _ out: inout [ByteSpan]) {
        var i = start
        while i < end {
            let (c, n, _) = Scanners.classAt(p, i)
            if pred.test(c) { out.append(ByteSpan(i, i + n)) }
            i += n
        }
    }

    /// Replaces every span by its splits under `behavior` (HF `NormalizedString::split`); empty pieces drop.
    @inline(__always)
    func splitSpans(_ p: inout Pieces, _ s: inout PreTokenizerScratch, _ behavior: SplitBehavior, invert: Bool,
                    _ find: (UnsafePointer<UInt8>, Int, Int, inout [ByteSpan]) -> Void) {
        s.spans.removeAll(keepingCapacity: true)
        s.atStart.removeAll(keepingCapacity: true)
        p.bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            for (k, span) in p.spans.enumerated() {
                let start = Int(span.start), end = Int(span.end)
                s.matches.removeAll(keepingCapacity: true)
                find(base, start, end, &s.matches)
                let first = s.spans.count
                if behavior == .isolated && !invert {
                    // Fast path: matches and the gaps between them, in order.
                    var prev = start
                    for m in s.matches {
                        if Int(m.start) > prev { s.spans.append(ByteSpan(prev, Int(m.start))) }
                        if m.end > m.start { s.spans.append(m) }
                        prev = Int(m.end)
                    }
                    if prev < end { s.spans.append(ByteSpan(prev, end)) }
                } else {
                    // (segment, isMatch) covering the whole span, as HF's Pattern::find_matches returns.
                    s.segments.removeAll(keepingCapacity: true)
                    var prev = start
                    for m in s.matches {
                        if Int(m.start) > prev { s.segments.append((ByteSpan(prev, Int(m.start)), invert)) }
                        s.segments.append((m, !invert))
                        prev = Int(m.end)
                    }
                    if prev < end || s.segments.isEmpty { s.segments.append((ByteSpan(prev, end), invert)) }
                    Self.applyBehavior(behavior, s.segments, &s.spans)
                }
                let startFlag = p.atStart[k]
                for j in first..<s.spans.count { s.atStart.append(startFlag && s.spans[j].start == span.start) }
            }
        }
        // Drop empty pieces.
        var w = 0
        for r in 0..<s.spans.count where s.spans[r].end > s.spans[r].start {
            s.spans[w] = s.spans[r]; s.atStart[w] = s.atStart[r]; w += 1
        }
        s.spans.removeLast(s.spans.count - w); s.atStart.removeLast(s.atStart.count - w)
        swap(&p.spans, &s.spans)
        swap(&p.atStart, &s.atStart)
    }

    /// The folds of `NormalizedString::split`, kept exactly (e.g. MergedWithPrevious does not merge a
    /// match that follows another match).
    static func applyBehavior(_ behavior: SplitBehavior, _ segs: [(ByteSpan, Bool)], _ out: inout [ByteSpan]) {
        let base = out.count
        switch behavior {
        case .isolated:
            for (r, _) in segs { out.append(r) }
        case .removed:
            for (r, m) in segs where !m { out.append(r) }
        case .contiguous:
            var previous = false
            for (r, m) in segs {
                if m == previous, out.count > base { out[out.count - 1].end = r.end } else { out.append(r) }
                previous = m
            }
        case .mergedWithPrevious:
            var previous = false
            for (r, m) in segs {
                if m && !previous, out.count > base { out[out.count - 1].end = r.end } else { out.append(r) }
                previous = m
            }
        case .mergedWithNext:
            var previous = false
            var rev: [ByteSpan] = []
            for (r, m) in segs.reversed() {
                if m && !previous, !rev.isEmpty { rev[rev.count - 1].start = r.start } else { rev.append(r) }
                previous = m
            }
            out.append(contentsOf: rev.reversed())
        }
    }

    /// Rewrites every piece as `prefix + piece` when `onlyIf(piece)` holds and the piece does not already
    /// start with the prefix (ByteLevel's add_prefix_space; HF `prepend` leaves empty pieces alone).
    func prependToPieces(_ p: inout Pieces, _ s: inout PreTokenizerScratch, _ prefix: [UInt8],
                         onlyIf: (Int) -> Bool) {
        s.bytes.removeAll(keepingCapacity: true)
        s.spans.removeAll(keepingCapacity: true)
        for (k, span) in p.spans.enumerated() {
            let start = Int(span.start), end = Int(span.end)
            let newStart = s.bytes.count
            let has = end - start >= prefix.count && Array(p.bytes[start..<(start + prefix.count)]) == prefix
            if end > start && !has && onlyIf(k) { s.bytes.append(contentsOf: prefix) }
            s.bytes.append(contentsOf: p.bytes[start..<end])
            s.spans.append(ByteSpan(newStart, s.bytes.count))
        }
        swap(&p.bytes, &s.bytes)
        swap(&p.spans, &s.spans)
    }

    /// Metaspace: spaces become the replacement character, then the replacement is prepended per scheme.
    func metaspace(_ p: inout Pieces, _ s: inout PreTokenizerScratch, _ rep: UInt32, _ scheme: PrependScheme) {
        var repBytes: [UInt8] = []
        appendUTF8(rep, to: &repBytes)
        s.bytes.removeAll(keepingCapacity: true)
        s.spans.removeAll(keepingCapacity: true)
        for (k, span) in p.spans.enumerated() {
            let newStart = s.bytes.count
            for i in Int(span.start)..<Int(span.end) {
                if p.bytes[i] == 0x20 { s.bytes.append(contentsOf: repBytes) } else { s.bytes.append(p.bytes[i]) }
            }
            let n = s.bytes.count - newStart
            let startsWithRep = n >= repBytes.count && Array(s.bytes[newStart..<(newStart + repBytes.count)]) == repBytes
            let prepend: Bool
            switch scheme {
            case .always: prepend = !startsWithRep
            case .first: prepend = !startsWithRep && p.atStart[k]
            case .never: prepend = false
            }
            if prepend && n > 0 { s.bytes.insert(contentsOf: repBytes, at: newStart) }
            s.spans.append(ByteSpan(newStart, s.bytes.count))
        }
        swap(&p.bytes, &s.bytes)
        swap(&p.spans, &s.spans)
    }
}
