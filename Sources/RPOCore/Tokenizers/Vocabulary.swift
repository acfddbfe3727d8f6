// The token <-> id maps, keyed by the exact UTF-8 bytes of each token. Swift `String` equality and hashing
// follow canonical equivalence, which would merge distinct tokens such as U+1F77 and U+03AF (both "ί"): a
// vocabulary must compare bytes, as Rust's does.
// Also a JSON reader for tokenizer files: the shared parser rejects duplicate keys with a linear search per
// key, quadratic on a 150k-entry vocabulary object; this one keeps every key in order without that check.
import Foundation

struct Vocabulary: @unchecked Sendable {
    private(set) var table: BytesTable
    /// Token by id (nil for ids the vocabulary lacks).
    private(set) var tokens: [String?]

    init(capacity: Int) {
        table = BytesTable(capacity: capacity)
        tokens = []
    }

    var count: Int { table.count }

    /// How far beyond the number of entries an id may lie (ids index dense tables; real vocabularies are
    /// dense, with at most a few reserved gaps).
    static let maxIdGap = 1 << 20

    /// Adds a token; a token already present keeps its first id (returns false).
    @discardableResult
    mutating func add(_ token: String, _ id: Int) -> Bool {
        var s = token
        let added: Bool = s.withUTF8 { b in
            let base = b.baseAddress ?? UnsafePointer(bitPattern: 1)!
            if table.lookup(base, b.count) != nil { return false }
            table.insert(base, b.count, (Int32(id), 0))
            return true
        }
        if id >= tokens.count { tokens += [String?](repeating: nil, count: id + 1 - tokens.count) }
        if tokens[id] == nil { tokens[id] = token }
        return added
    }

    func id(_ token: String) -> Int? {
        var s = token
        return s.withUTF8 { b in table.lookup(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count).map { Int($0.0) } }
    }

    func id(bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { b in table.lookup(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count).map { Int($0.0) } }
    }

    func token(_ id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    /// Every (token, id) pair.
    var entries: [(String, Int)] {
        var out: [(String, Int)] = []
        for (i, t) in tokens.enumerated() { if let t { out.append((t, i)) } }
        return out
    }
}

enum TokenizerJSONReader {
    /// Parses a JSON document; objects keep duplicate keys (lookups see the first).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSON {
        var c = JSONParser.Cursor(base: bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!, end: bytes.count)
        c.skipWhitespace()
        let v = try value(&c, 0)
        c.skipWhitespace()
        if c.i != c.end { throw c.error("unexpected data after the value") }
        return v
    }

    static func value(_ c: inout JSONParser.Cursor, _ depth: Int) throws(JSONParseError) -> JSON {
        guard c.i < c.end else { throw c.error("unexpected end of input") }
        if depth > JSONParser.maxDepth { throw c.error("nesting deeper than \(JSONParser.maxDepth)") }
        switch c.base[c.i] {
        case UInt8(ascii: "{"):
            c.i += 1
            var obj = JSONObject()
            c.skipWhitespace()
            if c.i < c.end && c.base[c.i] == UInt8(ascii: "}") { c.i += 1; return .object(obj) }
            while true {
                c.skipWhitespace()
                guard c.i < c.end, c.base[c.i] == UInt8(ascii: "\"") else { throw c.error("expected a string key") }
                let key = try c.string()
                c.skipWhitespace()
                guard c.i < c.end, c.base[c.i] == UInt8(ascii: ":") else { throw c.error("expected ':' after a key") }
                c.i += 1
                c.skipWhitespace()
                obj.appendUnchecked(key, try value(&c, depth + 1))
                c.skipWhitespace()
                guard c.i < c.end else { throw c.error("unterminated object") }
                if c.base[c.i] == UInt8(ascii: ",") { c.i += 1; continue }
                if c.base[c.i] == UInt8(ascii: "}") { c.i += 1; return .object(obj) }
                throw c.error("expected ',' or '}' in an object")
            }
        case UInt8(ascii: "["):
            c.i += 1
            var arr: [JSON] = []
            c.skipWhitespace()
            if c.i < c.end && c.base[c.i] == UInt8(ascii: "]") { c.i += 1; return .array(arr) }
            while true {
                c.skipWhitespace()
                arr.append(try value(&c, depth + 1))
                c.skipWhitespace()
                guard c.i < c.end else { throw c.error("unterminated array") }
                if c.base[c.i] == UInt8(ascii: ",") { c.i += 1; continue }
                if c.base[c.i] == UInt8(ascii: "]") { c.i += 1; return .array(arr) }
                throw c.error("expected ',' or ']' in an array")
            }
        default:
            return try c.value(depth: depth)
        }
    }
}
