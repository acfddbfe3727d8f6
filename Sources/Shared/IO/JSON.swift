// JSON values for records: an order-preserving object, a byte-level parser and a serializer.
// Why not Foundation's JSONSerialization: records must pass through with their field order intact (so a
// stage that adds one field changes nothing else, byte for byte), Float embeddings must be written in their
// shortest round-trip form, and the parser is the hot loop of every stage (see `make bench`).
// Grammar: RFC 8259. Numbers without fraction or exponent that fit Int64 parse as `.int`, others `.double`.
import Foundation

public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    /// Produced by code only (the parser yields `.double`): written in Float's shortest round-trip form.
    case float(Float)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    /// The value as an Int when it is an integer number (a double with an exact integer value counts).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d): return d.rounded() == d && abs(d) < 9.0e15 ? Int(d) : nil
        case .float(let f): return f.rounded() == f && abs(f) < 1.6e7 ? Int(f) : nil
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .float(let f): return Double(f)
        default: return nil
        }
    }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double, .float: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// An array of Floats (Doubles narrowed), e.g. for embeddings.
    public static func floats<S: Sequence>(_ values: S) -> JSON where S.Element == Float {
        .array(values.map { .float($0) })
    }

    public static func ints<S: Sequence>(_ values: S) -> JSON where S.Element: BinaryInteger {
        .array(values.map { .int(Int($0)) })
    }
}

/// A JSON object that keeps its keys in insertion (or parse) order. Lookup is linear, which is the
/// fastest choice for records of a few dozen fields.
public struct JSONObject: Equatable, Sendable, Sequence {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSON] = []

    public init() {}

    public init(_ pairs: KeyValuePairs<String, JSON>) {
        for (k, v) in pairs { self[k] = v }
    }

    public init(_ pairs: [(String, JSON)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public func index(of key: String) -> Int? { keys.firstIndex(of: key) }

    /// Reading returns the value or nil; writing a value replaces it in place or appends the key;
    /// writing nil removes the key.
    public subscript(key: String) -> JSON? {
        get { index(of: key).map { values[$0] } }
        set {
            if let i = index(of: key) {
                if let v = newValue { values[i] = v } else { keys.remove(at: i); values.remove(at: i) }
            } else if let v = newValue {
                keys.append(key); values.append(v)
            }
        }
    }

    /// Appends without checking for an existing key (the parser uses it; duplicate keys are rejected there).
    mutating func appendUnchecked(_ key: String, _ value: JSON) {
        keys.append(key); values.append(value)
    }

    public func makeIterator() -> Zip2Sequence<[String], [JSON]>.Iterator {
        zip(keys, values).makeIterator()
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.count == b.count else { return false }
        for (k, v) in a { if b[k] != v { return false } }
        return true
    }
}

// MARK: - Parsing

public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let message: String
    public var description: String { "invalid JSON at byte \(offset + 1): \(message)" }
}

public enum JSONParser {
    /// Parses one JSON document that must span all of `bytes` (surrounding whitespace allowed).
    /// `bytes` must be valid UTF-8 (the stream reader validates each line before parsing).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSON {
        var p = Cursor(base: bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!, end: bytes.count)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        if p.i != p.end { throw p.error("unexpected data after the value") }
        return v
    }

    public static func parse(_ string: String) throws(JSONParseError) -> JSON {
        var s = string
        let result: Result<JSON, JSONParseError> = s.withUTF8 { buf in
            do throws(JSONParseError) { return .success(try parse(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static let maxDepth = 512

    struct Cursor {
        let base: UnsafePointer<UInt8>
        let end: Int
        var i = 0

        init(base: UnsafePointer<UInt8>, end: Int) { self.base = base; self.end = end }

        func error(_ m: String) -> JSONParseError { JSONParseError(offset: i, message: m) }

        @inline(__always) mutating func skipWhitespace() {
            while i < end {
                let c = base[i]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
            }
        }

        mutating func value(depth: Int) throws(JSONParseError) -> JSON {
            guard i < end else { throw error("unexpected end of input") }
            switch base[i] {
            case UInt8(ascii: "{"): return .object(try object(depth: depth + 1))
            case UInt8(ascii: "["): return .array(try array(depth: depth + 1))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character '\(printable(base[i]))'")
            }
        }

        func printable(_ c: UInt8) -> String {
            c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : String(format: "\\x%02X", c)
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let n = word.utf8CodeUnitCount
            guard i + n <= end, memcmp(base + i, word.utf8Start, n) == 0 else {
                throw error("invalid literal (expected \(word))")
            }
            i += n
        }

        mutating func object(depth: Int) throws(JSONParseError) -> JSONObject {
            if depth > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth)") }
            i += 1  // {
            var obj = JSONObject()
            skipWhitespace()
            if i < end && base[i] == UInt8(ascii: "}") { i += 1; return obj }
            while true {
                skipWhitespace()
                guard i < end, base[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try string()
                if obj.index(of: key) != nil { throw error("duplicate key \"\(key)\"") }
                skipWhitespace()
                guard i < end, base[i] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
                i += 1
                skipWhitespace()
                let v = try value(depth: depth)
                obj.appendUnchecked(key, v)
                skipWhitespace()
                guard i < end else { throw error("unterminated object") }
                if base[i] == UInt8(ascii: ",") { i += 1; continue }
                if base[i] == UInt8(ascii: "}") { i += 1; return obj }
                throw error("expected ',' or '}' in an object")
            }
        }

        mutating func array(depth: Int) throws(JSONParseError) -> [JSON] {
            if depth > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth)") }
            i += 1  // [
            var arr: [JSON] = []
            skipWhitespace()
            if i < end && base[i] == UInt8(ascii: "]") { i += 1; return arr }
            while true {
                skipWhitespace()
                arr.append(try value(depth: depth))
                skipWhitespace()
                guard i < end else { throw error("unterminated array") }
                if base[i] == UInt8(ascii: ",") { i += 1; continue }
                if base[i] == UInt8(ascii: "]") { i += 1; return arr }
                throw error("expected ',' or ']' in an array")
            }
        }

        mutating func number() throws(JSONParseError) -> JSON {
            let start = i
            var negative = false
            if base[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            guard i < end, base[i] >= 0x30, base[i] <= 0x39 else { throw error("invalid number") }
            // Integer part: a leading zero may not be followed by more digits.
            var mag: UInt64 = 0
            var overflow = false
            if base[i] == 0x30 {
                i += 1
                if i < end, base[i] >= 0x30, base[i] <= 0x39 { throw error("leading zero in a number") }
            } else {
                while i < end, base[i] >= 0x30, base[i] <= 0x39 {
                    let (m1, o1) = mag.multipliedReportingOverflow(by: 10)
                    let (m2, o2) = m1.addingReportingOverflow(UInt64(base[i] - 0x30))
                    overflow = overflow || o1 || o2
                    mag = m2
                    i += 1
                }
            }
            var isInteger = true
            if i < end, base[i] == UInt8(ascii: ".") {
                isInteger = false
                i += 1
                guard i < end, base[i] >= 0x30, base[i] <= 0x39 else { throw error("invalid fraction") }
                while i < end, base[i] >= 0x30, base[i] <= 0x39 { i += 1 }
            }
            if i < end, base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E") {
                isInteger = false
                i += 1
                if i < end, base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-") { i += 1 }
                guard i < end, base[i] >= 0x30, base[i] <= 0x39 else { throw error("invalid exponent") }
                while i < end, base[i] >= 0x30, base[i] <= 0x39 { i += 1 }
            }
            if isInteger && !overflow {
                if !negative && mag <= UInt64(Int.max) { return .int(Int(mag)) }
                if negative && mag <= UInt64(Int.max) + 1 { return .int(mag == UInt64(Int.max) + 1 ? Int.min : -Int(mag)) }
            }
            // Correctly rounded conversion by strtod on a NUL-terminated copy.
            let len = i - start
            var buf = [CChar](repeating: 0, count: len + 1)
            buf.withUnsafeMutableBufferPointer { b in
                UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: base + start, byteCount: len)
            }
            let d = strtod(buf, nil)
            if !d.isFinite { throw JSONParseError(offset: start, message: "number out of range") }
            return .double(d)
        }

        mutating func string() throws(JSONParseError) -> String {
            i += 1  // opening quote
            let start = i
            // Fast path: no escapes.
            while i < end {
                let c = base[i]
                if c == UInt8(ascii: "\"") {
                    let s = String(decoding: UnsafeBufferPointer(start: base + start, count: i - start), as: UTF8.self)
                    i += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw error("unescaped control character in a string") }
                i += 1
            }
            var bytes = [UInt8](UnsafeBufferPointer(start: base + start, count: i - start))
            while i < end {
                let c = base[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return String(decoding: bytes, as: UTF8.self)
                }
                if c < 0x20 { throw error("unescaped control character in a string") }
                if c != UInt8(ascii: "\\") { bytes.append(c); i += 1; continue }
                i += 1
                guard i < end else { break }
                let e = base[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): bytes.append(0x22)
                case UInt8(ascii: "\\"): bytes.append(0x5C)
                case UInt8(ascii: "/"): bytes.append(0x2F)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard i + 1 < end, base[i] == UInt8(ascii: "\\"), base[i + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate in \\u escape")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw error("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    UTF8.encode(Unicode.Scalar(scalar)!) { bytes.append($0) }
                default:
                    i -= 1
                    throw error("invalid escape '\\\(printable(e))'")
                }
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard i + 4 <= end else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = base[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("invalid hex digit in \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }
    }
}

// MARK: - Serialization

public struct JSONWriteError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

public enum JSONSerializer {
    /// Appends the compact serialization of `value` to `out` (no spaces, non-ASCII as raw UTF-8).
    /// Non-finite numbers cannot be written as JSON and throw, naming the key path.
    public static func write(_ value: JSON, to out: inout [UInt8], path: String = "") throws(JSONWriteError) {
        switch value {
        case .null: append("null", to: &out)
        case .bool(let b): append(b ? "true" : "false", to: &out)
        case .int(let i): appendInt(i, to: &out)
        case .double(let d):
            guard d.isFinite else { throw JSONWriteError(message: "non-finite number \(d) at \(path.isEmpty ? "top level" : path)") }
            append(d.description, to: &out)  // shortest representation that round-trips
        case .float(let f):
            guard f.isFinite else { throw JSONWriteError(message: "non-finite number \(f) at \(path.isEmpty ? "top level" : path)") }
            append(f.description, to: &out)
        case .string(let s): writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                try write(v, to: &out, path: path)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o): try write(o, to: &out, path: path)
        }
    }

    public static func write(_ object: JSONObject, to out: inout [UInt8], path: String = "") throws(JSONWriteError) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for (k, v) in object {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            writeString(k, to: &out)
            out.append(UInt8(ascii: ":"))
            try write(v, to: &out, path: path.isEmpty ? k : path + "." + k)
        }
        out.append(UInt8(ascii: "}"))
    }

    public static func string(_ value: JSON) throws(JSONWriteError) -> String {
        var out: [UInt8] = []
        try write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) static func append(_ s: String, to out: inout [UInt8]) {
        out.append(contentsOf: s.utf8)
    }

    static func appendInt(_ v: Int, to out: inout [UInt8]) {
        if v >= 0 && v < 10 { out.append(UInt8(0x30 + v)); return }
        if v == Int.min { append(String(v), to: &out); return }
        var x = v < 0 ? -v : v
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { t in
            while x > 0 { t[19 - n] = UInt8(0x30 + x % 10); x /= 10; n += 1 }
            if v < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: t[(20 - n)...])
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { u in
            var runStart = 0
            for j in 0..<u.count {
                let c = u[j]
                if c >= 0x20 && c != 0x22 && c != 0x5C { continue }
                if runStart < j { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<j])) }
                runStart = j + 1
                switch c {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
                default:
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30,
                                            hexDigits[Int(c >> 4)], hexDigits[Int(c & 15)]])
                }
            }
            if runStart < u.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<u.count])) }
        }
        out.append(UInt8(ascii: "\""))
    }
}
