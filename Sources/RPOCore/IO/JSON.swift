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

        func printable(_ c: UInt8) -> String { Cursor.printable(c) }

        static func printable(_ c: UInt8) -> String {
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
            if let ints = integerArray() { return ints }
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

        /// The hot case of token-id arrays: a flat array of integers of at most 18 digits, parsed in one pass
        /// into a stack buffer, then copied into an array of exactly that size (one allocation, no regrowth,
        /// no per-element dispatch). Anything unexpected (another kind of element, a malformed number, an
        /// array longer than the buffer) returns nil with the cursor where it was, and the general loop
        /// parses (or reports) the array.
        mutating func integerArray() -> [JSON]? {
            let b = base, e = end
            var p = i
            let parsed: [JSON]? = withUnsafeTemporaryAllocation(of: Int.self, capacity: 4096) { tmp in
                var n = 0
                while true {
                    while p < e, b[p] == 0x20 || b[p] == 0x0A || b[p] == 0x0D || b[p] == 0x09 { p += 1 }
                    var negative = false
                    if p < e && b[p] == UInt8(ascii: "-") { negative = true; p += 1 }
                    let digitsStart = p
                    var v = 0
                    var done = false
                    #if _endian(little)
                    if p + 8 <= e {
                        // Eight bytes at once: find the first non-digit, then combine up to seven digits
                        // with three multiplications (Lemire, "Faster integer parsing").
                        let t = UnsafeRawPointer(b + p).loadUnaligned(as: UInt64.self) &- 0x3030_3030_3030_3030
                        let nonDigit = (t | (t &+ 0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080
                        let count = nonDigit.trailingZeroBitCount / 8
                        if count < 8 {
                            var x = count == 0 ? 0 : t << UInt64((8 - count) * 8)
                            x = ((x &* 2561) >> 8) & 0x00FF_00FF_00FF_00FF
                            x = ((x &* 6_553_601) >> 16) & 0x0000_FFFF_0000_FFFF
                            x = (x &* 42_949_672_960_001) >> 32
                            v = Int(x)
                            p += count
                            done = true
                        }
                    }
                    #endif
                    if !done {
                        while p < e, b[p] &- 0x30 < 10 { v = v &* 10 &+ Int(b[p] &- 0x30); p += 1 }
                    }
                    let digits = p - digitsStart
                    // At least one digit, no leading zero, no overflow (18 digits always fit in Int64).
                    if digits == 0 || digits > 18 || (digits > 1 && b[digitsStart] == 0x30) || n == tmp.count { return nil }
                    tmp[n] = negative ? -v : v
                    n += 1
                    while p < e, b[p] == 0x20 || b[p] == 0x0A || b[p] == 0x0D || b[p] == 0x09 { p += 1 }
                    guard p < e else { return nil }
                    if b[p] == UInt8(ascii: ",") { p += 1; continue }
                    if b[p] == UInt8(ascii: "]") { p += 1; break }
                    return nil
                }
                return [JSON](unsafeUninitializedCapacity: n) { buf, initialized in
                    for k in 0..<n { (buf.baseAddress! + k).initialize(to: .int(tmp[k])) }
                    initialized = n
                }
            }
            if parsed != nil { i = p }
            return parsed
        }

        /// Exact powers of ten (every 10^k with k <= 22 is a double).
        static let powersOfTen: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
                                            1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

        mutating func number() throws(JSONParseError) -> JSON {
            let start = i
            var negative = false
            if base[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            guard i < end, base[i] >= 0x30, base[i] <= 0x39 else { throw error("invalid number") }
            // The digits, accumulated twice: the integer part's magnitude (for .int), and the decimal
            // significand of the whole number with its power of ten (for the fast double path).
            var mag: UInt64 = 0
            var overflow = false
            var sig: UInt64 = 0
            var sigDigits = 0  // significant digits in `sig` (leading zeros not counted)
            var exp10 = 0
            // Integer part: a leading zero may not be followed by more digits.
            if base[i] == 0x30 {
                i += 1
                if i < end, base[i] >= 0x30, base[i] <= 0x39 { throw error("leading zero in a number") }
            } else {
                while i < end, base[i] >= 0x30, base[i] <= 0x39 {
                    let d = UInt64(base[i] - 0x30)
                    let (m1, o1) = mag.multipliedReportingOverflow(by: 10)
                    let (m2, o2) = m1.addingReportingOverflow(d)
                    overflow = overflow || o1 || o2
                    mag = m2
                    if sigDigits < 19 { sig = sig &* 10 &+ d; sigDigits += 1 } else { sigDigits += 1 }
                    i += 1
                }
            }
            var isInteger = true
            if i < end, base[i] == UInt8(ascii: ".") {
                isInteger = false
                i += 1
                guard i < end, base[i] >= 0x30, base[i] <= 0x39 else { throw error("invalid fraction") }
                while i < end, base[i] >= 0x30, base[i] <= 0x39 {
                    let d = UInt64(base[i] - 0x30)
                    if sigDigits < 19 {
                        sig = sig &* 10 &+ d
                        if sig != 0 { sigDigits += 1 }
                        exp10 -= 1
                    } else {
                        sigDigits += 1
                    }
                    i += 1
                }
            }
            if i < end, base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E") {
                isInteger = false
                i += 1
                var expNegative = false
                if i < end, base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-") { expNegative = base[i] == UInt8(ascii: "-"); i += 1 }
                guard i < end, base[i] >= 0x30, base[i] <= 0x39 else { throw error("invalid exponent") }
                var e = 0
                while i < end, base[i] >= 0x30, base[i] <= 0x39 { e = min(e &* 10 &+ Int(base[i] - 0x30), 1_000_000); i += 1 }
                exp10 += expNegative ? -e : e
            }
            if isInteger && !overflow {
                if !negative && mag <= UInt64(Int.max) { return .int(Int(mag)) }
                if negative && mag <= UInt64(Int.max) + 1 { return .int(mag == UInt64(Int.max) + 1 ? Int.min : -Int(mag)) }
            }
            // Clinger's fast path: a significand of at most 53 bits and |exponent| <= 22 are both exact
            // doubles, so one IEEE multiplication or division rounds correctly (what strtod returns).
            if sigDigits <= 19 && sig <= 1 << 53 && exp10 >= -22 && exp10 <= 22 {
                var d = Double(sig)
                d = exp10 < 0 ? d / Cursor.powersOfTen[-exp10] : d * Cursor.powersOfTen[exp10]
                return .double(negative ? -d : d)
            }
            // Correctly rounded conversion by strtod (C locale: no setlocale call in rpo). The grammar has been
            // checked, so strtod stops exactly at base[i] when a byte follows the number in the buffer;
            // a number that ends the buffer is converted from a NUL-terminated copy.
            let len = i - start
            let d: Double
            if i < end {
                d = UnsafeRawPointer(base + start).withMemoryRebound(to: CChar.self, capacity: len + 1) { strtod($0, nil) }
            } else {
                d = withUnsafeTemporaryAllocation(of: CChar.self, capacity: len + 1) { b in
                    UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: base + start, byteCount: len)
                    b[len] = 0
                    return strtod(b.baseAddress!, nil)
                }
            }
            if !d.isFinite { throw JSONParseError(offset: start, message: "number out of range") }
            return .double(d)
        }

        /// A string: one scan to the closing quote; without escapes the bytes become the String directly,
        /// with escapes they are decoded straight into the String's storage (never longer than the source).
        mutating func string() throws(JSONParseError) -> String {
            i += 1  // opening quote
            let start = i
            var j = i
            var escaped = false
            while j < end {
                let c = base[j]
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") { escaped = true; j += 2; continue }
                if c < 0x20 { i = j; throw error("unescaped control character in a string") }
                j += 1
            }
            guard j < end else { i = end; throw error("unterminated string") }
            if !escaped {
                i = j + 1
                return String(decoding: UnsafeBufferPointer(start: base + start, count: j - start), as: UTF8.self)
            }
            var failure: JSONParseError?
            let b = base
            let s = String(unsafeUninitializedCapacity: j - start) { out in
                var n = 0, p = start
                func fail(_ at: Int, _ m: String) -> Int { failure = JSONParseError(offset: at, message: m); return 0 }
                func hex4(_ at: Int) -> UInt32? {
                    guard at + 4 <= j else { return nil }
                    var v: UInt32 = 0
                    for k in at..<(at + 4) {
                        let c = b[k]
                        switch c {
                        case 0x30...0x39: v = v << 4 | UInt32(c - 0x30)
                        case 0x41...0x46: v = v << 4 | UInt32(c - 0x41 + 10)
                        case 0x61...0x66: v = v << 4 | UInt32(c - 0x61 + 10)
                        default: return nil
                        }
                    }
                    return v
                }
                while p < j {
                    let run = p
                    while p < j && b[p] != UInt8(ascii: "\\") { p += 1 }
                    if p > run {
                        (out.baseAddress! + n).update(from: b + run, count: p - run)
                        n += p - run
                    }
                    if p == j { break }
                    let e = b[p + 1]  // the scan guarantees a byte after each backslash before j
                    let escapeAt = p
                    p += 2
                    var byte: UInt8 = 0
                    switch e {
                    case UInt8(ascii: "\""): byte = 0x22
                    case UInt8(ascii: "\\"): byte = 0x5C
                    case UInt8(ascii: "/"): byte = 0x2F
                    case UInt8(ascii: "b"): byte = 0x08
                    case UInt8(ascii: "f"): byte = 0x0C
                    case UInt8(ascii: "n"): byte = 0x0A
                    case UInt8(ascii: "r"): byte = 0x0D
                    case UInt8(ascii: "t"): byte = 0x09
                    case UInt8(ascii: "u"):
                        guard p + 4 <= j else { return fail(p, "truncated \\u escape") }
                        guard var scalar = hex4(p) else { return fail(p, "invalid hex digit in \\u escape") }
                        p += 4
                        if scalar >= 0xD800 && scalar < 0xDC00 {
                            // A high surrogate must be followed by an escaped low surrogate.
                            guard p + 1 < j, b[p] == UInt8(ascii: "\\"), b[p + 1] == UInt8(ascii: "u") else {
                                return fail(p, "unpaired surrogate in \\u escape")
                            }
                            guard p + 6 <= j else { return fail(p + 2, "truncated \\u escape") }
                            guard let low = hex4(p + 2) else { return fail(p + 2, "invalid hex digit in \\u escape") }
                            guard low >= 0xDC00 && low < 0xE000 else { return fail(p + 6, "unpaired surrogate in \\u escape") }
                            p += 6
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if scalar >= 0xDC00 && scalar < 0xE000 {
                            return fail(p, "unpaired surrogate in \\u escape")
                        }
                        UTF8.encode(Unicode.Scalar(scalar)!) { out[n] = $0; n += 1 }
                        continue
                    default:
                        return fail(escapeAt + 1, "invalid escape '\\\(JSONParser.Cursor.printable(e))'")
                    }
                    out[n] = byte
                    n += 1
                }
                return n
            }
            if let f = failure { throw f }
            i = j + 1
            return s
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
        do throws(NonFinite) { try writeValue(value, to: &out) } catch { throw error.writeError(prefix: path) }
    }

    public static func write(_ object: JSONObject, to out: inout [UInt8], path: String = "") throws(JSONWriteError) {
        do throws(NonFinite) { try writeObject(object, to: &out) } catch { throw error.writeError(prefix: path) }
    }

    public static func string(_ value: JSON) throws(JSONWriteError) -> String {
        var out: [UInt8] = []
        try write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A non-finite number met while writing; the keys leading to it are collected as the error unwinds
    /// (so writing builds no path strings).
    struct NonFinite: Error {
        let value: String
        var keys: [String] = []

        func writeError(prefix: String) -> JSONWriteError {
            let inner = keys.reversed().joined(separator: ".")
            let path = prefix.isEmpty ? inner : inner.isEmpty ? prefix : prefix + "." + inner
            return JSONWriteError(message: "non-finite number \(value) at \(path.isEmpty ? "top level" : path)")
        }
    }

    static func writeValue(_ value: JSON, to out: inout [UInt8]) throws(NonFinite) {
        switch value {
        case .null: append("null", to: &out)
        case .bool(let b): append(b ? "true" : "false", to: &out)
        case .int(let i): appendInt(i, to: &out)
        case .double(let d):
            guard d.isFinite else { throw NonFinite(value: d.description) }
            append(d.description, to: &out)  // shortest representation that round-trips
        case .float(let f):
            guard f.isFinite else { throw NonFinite(value: f.description) }
            append(f.description, to: &out)
        case .string(let s): writeString(s, to: &out)
        case .array(let a): try writeArray(a, to: &out)
        case .object(let o): try writeObject(o, to: &out)
        }
    }

    static func writeObject(_ object: JSONObject, to out: inout [UInt8]) throws(NonFinite) {
        out.append(UInt8(ascii: "{"))
        let keys = object.keys, values = object.values
        for k in 0..<keys.count {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            writeString(keys[k], to: &out)
            out.append(UInt8(ascii: ":"))
            do throws(NonFinite) { try writeValue(values[k], to: &out) } catch {
                var e = error
                e.keys.append(keys[k])
                throw e
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    static func writeArray(_ a: [JSON], to out: inout [UInt8]) throws(NonFinite) {
        out.append(UInt8(ascii: "["))
        var k = 0
        while k < a.count {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            if case .int = a[k] {
                k = appendIntRun(a, from: k, to: &out)
            } else {
                try writeValue(a[k], to: &out)
                k += 1
            }
        }
        out.append(UInt8(ascii: "]"))
    }

    @inline(__always) static func append(_ s: String, to out: inout [UInt8]) {
        out.append(contentsOf: s.utf8)
    }

    /// "00" "01" ... "99": two digits per table lookup.
    static let digitPairs: [UInt8] = {
        var t: [UInt8] = []
        for i in 0..<100 { t.append(UInt8(0x30 + i / 10)); t.append(UInt8(0x30 + i % 10)) }
        return t
    }()

    /// Formats `v` ending just before `end` (at most 20 bytes are written), returning the first byte.
    @inline(__always)
    static func format(_ v: Int, endingAt end: UnsafeMutablePointer<UInt8>, _ pairs: UnsafePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = end
        var x = v.magnitude
        while x >= 100 {
            let r = Int(x % 100); x /= 100
            p -= 2; p[0] = pairs[2 * r]; p[1] = pairs[2 * r + 1]
        }
        if x >= 10 { p -= 2; p[0] = pairs[2 * Int(x)]; p[1] = pairs[2 * Int(x) + 1] } else { p -= 1; p[0] = UInt8(0x30 + x) }
        if v < 0 { p -= 1; p[0] = UInt8(ascii: "-") }
        return p
    }

    static func appendInt(_ v: Int, to out: inout [UInt8]) {
        if v >= 0 && v < 10 { out.append(UInt8(0x30 + v)); return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { tmp in
            digitPairs.withUnsafeBufferPointer { pairs in
                let end = tmp.baseAddress! + 24
                let start = format(v, endingAt: end, pairs.baseAddress!)
                out.append(contentsOf: UnsafeBufferPointer(start: start, count: end - start))
            }
        }
    }

    /// Writes the run of `.int` elements of `a` starting at `from` (comma-separated, the leading comma
    /// already written) through a stack buffer, appended in blocks; returns the index after the run.
    static func appendIntRun(_ a: [JSON], from: Int, to out: inout [UInt8]) -> Int {
        var k = from
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { tmp in
            digitPairs.withUnsafeBufferPointer { pairsBuf in
                let pairs = pairsBuf.baseAddress!, base = tmp.baseAddress!
                var n = 0
                var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes for one number
                withUnsafeMutableBytes(of: &scratch) { s in
                    let sEnd = s.baseAddress!.assumingMemoryBound(to: UInt8.self) + 24
                    while k < a.count, case .int(let v) = a[k] {
                        if n > 4096 - 22 { out.append(contentsOf: UnsafeBufferPointer(start: base, count: n)); n = 0 }
                        if k > from { base[n] = UInt8(ascii: ","); n += 1 }
                        let start = format(v, endingAt: sEnd, pairs)
                        let len = sEnd - start
                        (base + n).update(from: start, count: len)
                        n += len
                        k += 1
                    }
                }
                out.append(contentsOf: UnsafeBufferPointer(start: base, count: n))
            }
        }
        return k
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
