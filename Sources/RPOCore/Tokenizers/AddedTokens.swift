// Added tokens (special and user-added): found in the text before the pipeline runs, leftmost-longest, with
// HF's single_word / lstrip / rstrip / normalized semantics. Non-normalized tokens are matched in the raw
// text; normalized ones in each normalized stretch between the raw matches.
// Reference: huggingface/tokenizers tokenizers/src/tokenizer/added_vocabulary.rs (`find_matches`,
// `extract_and_normalize`); the regexes there are Rust `regex` (`\w`, `\s` Unicode-aware).
import Foundation

struct AddedToken: Sendable {
    let id: Int32
    let content: String
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    let normalized: Bool
    let special: Bool
}

/// A set of literal patterns matched leftmost-longest (aho-corasick `LeftmostLongest`): at the leftmost
/// position where any pattern matches, the longest pattern there wins.
struct AddedTokenMatcher: Sendable {
    /// Patterns grouped by first byte, each group longest first.
    private let byFirst: [[(bytes: [UInt8], token: Int)]]
    let isEmpty: Bool

    init(_ patterns: [(bytes: [UInt8], token: Int)]) {
        var g = [[(bytes: [UInt8], token: Int)]](repeating: [], count: 256)
        for p in patterns where !p.bytes.isEmpty { g[Int(p.bytes[0])].append(p) }
        for i in 0..<256 { g[i].sort { $0.bytes.count > $1.bytes.count } }
        byFirst = g
        isEmpty = patterns.allSatisfy { $0.bytes.isEmpty }
    }

    /// The next match at or after `from`: (start, end, token index).
    func next(_ p: UnsafePointer<UInt8>, _ from: Int, _ end: Int) -> (Int, Int, Int)? {
        var i = from
        while i < end {
            let group = byFirst[Int(p[i])]
            if !group.isEmpty {
                for pat in group where i + pat.bytes.count <= end {
                    if memcmp(p + i, pat.bytes, pat.bytes.count) == 0 { return (i, i + pat.bytes.count, pat.token) }
                }
            }
            i += 1
        }
        return nil
    }
}

/// A stretch of the input: either text for the pipeline or an added token's id.
enum Segment {
    case text(ByteSpan)
    case token(Int32)
}

struct AddedVocabulary: Sendable {
    let tokens: [AddedToken]
    let raw: AddedTokenMatcher         // tokens with normalized == false
    let normalized: AddedTokenMatcher  // tokens with normalized == true, patterns normalized

    init(tokens: [AddedToken], normalizer: Normalizer?) {
        self.tokens = tokens
        var r: [(bytes: [UInt8], token: Int)] = [], n: [(bytes: [UInt8], token: Int)] = []
        for (k, t) in tokens.enumerated() {
            if t.normalized {
                let b = Array(t.content.utf8)
                n.append((normalizer?.apply(b) ?? b, k))
            } else {
                r.append((Array(t.content.utf8), k))
            }
        }
        raw = AddedTokenMatcher(r)
        normalized = AddedTokenMatcher(n)
    }

    /// HF `find_matches`: splits `p[start..<end]` around the matches of `matcher`, appending segments.
    func split(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ matcher: AddedTokenMatcher,
               into out: inout [Segment]) {
        if matcher.isEmpty || start == end { out.append(.text(ByteSpan(start, end))); return }
        var offset = start
        var searchFrom = start
        while let (ms, me, k) = matcher.next(p, searchFrom, end) {
            let t = tokens[k]
            // The search resumes after this match whether or not it is used (aho-corasick iteration).
            searchFrom = me
            var s = ms, e = me
            if t.singleWord {
                let startOK = s == start || !Self.isWordChar(before: s, p, start)
                let stopOK = e == end || !Self.isWordChar(at: e, p, end)
                if !startOK || !stopOK { continue }
            }
            if t.lstrip {
                // `\s*$` on the text before the match, but never into a previous match.
                var k2 = s
                while k2 > offset, let (v, n) = Self.scalar(before: k2, p, start), CharClass.of(v) & CharClass.space != 0 { k2 -= n }
                s = max(k2, offset)
            }
            if t.rstrip {
                var k2 = e
                while k2 < end {
                    let (v, n) = decodeUTF8(p, k2)
                    if CharClass.of(v) & CharClass.space == 0 { break }
                    k2 += n
                }
                e = k2
            }
            if offset < s { out.append(.text(ByteSpan(offset, s))) }
            out.append(.token(t.id))
            offset = e
            searchFrom = max(searchFrom, e)
        }
        if offset < end { out.append(.text(ByteSpan(offset, end))) }
    }

    static func scalar(before i: Int, _ p: UnsafePointer<UInt8>, _ lower: Int) -> (UInt32, Int)? {
        guard i > lower else { return nil }
        var j = i - 1
        while j > lower && (p[j] & 0xC0) == 0x80 { j -= 1 }
        let (v, n) = decodeUTF8(p, j)
        return (v, n)
    }

    static func isWordChar(before i: Int, _ p: UnsafePointer<UInt8>, _ lower: Int) -> Bool {
        guard let (v, _) = scalar(before: i, p, lower) else { return false }
        return CharClass.of(v) & CharClass.word != 0
    }

    static func isWordChar(at i: Int, _ p: UnsafePointer<UInt8>, _ end: Int) -> Bool {
        guard i < end else { return false }
        return CharClass.of(decodeUTF8(p, i).0) & CharClass.word != 0
    }
}
