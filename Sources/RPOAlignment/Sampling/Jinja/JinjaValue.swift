// The values a Jinja template computes with, with the Python semantics jinja2 gives them: str() and repr()
// as Python prints them, ==, truthiness, and JSON in and out (json.dumps as transformers' tojson calls it).
// Strings are compared and indexed by Unicode scalar (Python's code points), never by Swift Characters.
// Reference: jinja2 3.1.6 runtime.py (Undefined), CPython's str/float repr, json.dumps.
import Foundation
import RPOCore

/// A template error: where in the template (1-based line and column, in Unicode scalars) and what.
public struct JinjaError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The template does not parse.
        case syntax
        /// Rendering failed (an undefined value used, a type error, ...).
        case runtime
        /// The template called raise_exception(message).
        case raised
    }
    public let kind: Kind
    public let message: String
    /// 0 until the interpreter knows where (builtins throw without a position).
    public internal(set) var line: Int
    public internal(set) var column: Int

    init(_ kind: Kind, _ message: String, line: Int = 0, column: Int = 0) {
        self.kind = kind; self.message = message; self.line = line; self.column = column
    }

    static func runtime(_ m: String) -> JinjaError { JinjaError(.runtime, m) }

    public var description: String {
        let what: String
        switch kind {
        case .syntax: what = "syntax error: "
        case .runtime: what = ""
        case .raised: what = "raise_exception: "
        }
        return "chat template line \(line), column \(column): \(what)\(message)"
    }
}

/// A callable: a builtin, a bound method, a macro.
public struct JinjaFunction: @unchecked Sendable {
    let name: String
    let call: (JinjaArgs) throws(JinjaError) -> JinjaValue
}

/// The arguments of a call, positional then keyword.
struct JinjaArgs {
    var positional: [JinjaValue] = []
    var keywords: [(String, JinjaValue)] = []

    /// Argument `i` given by position or by `name`, or nil.
    func get(_ i: Int, _ name: String) -> JinjaValue? {
        if i < positional.count { return positional[i] }
        return keywords.first(where: { $0.0 == name })?.1
    }
}

/// jinja2.utils.Namespace: the one mutable object a template can make (`{% set ns.x = ... %}`).
public final class JinjaNamespace: @unchecked Sendable {
    var dict: JinjaDict
    init(_ d: JinjaDict) { dict = d }
}

/// A Python dict: insertion-ordered, keys compared with Python's ==.
public struct JinjaDict {
    var keys: [JinjaValue] = []
    var values: [JinjaValue] = []

    var count: Int { keys.count }

    func index(of key: JinjaValue) -> Int? {
        if case .string(let s) = key {
            return keys.firstIndex { if case .string(let k) = $0 { return k.unicodeScalars.elementsEqual(s.unicodeScalars) } else { return false } }
        }
        return keys.firstIndex { $0.pyEquals(key) }
    }

    subscript(key: JinjaValue) -> JinjaValue? { index(of: key).map { values[$0] } }
    subscript(key: String) -> JinjaValue? { self[.string(key)] }

    mutating func set(_ key: JinjaValue, _ value: JinjaValue) {
        if let i = index(of: key) { values[i] = value } else { keys.append(key); values.append(value) }
    }
}

public enum JinjaValue: @unchecked Sendable {
    /// jinja2's default Undefined: prints as "", is false, iterates as empty; anything else is an error
    /// carrying this message ("'x' is undefined").
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JinjaValue])
    case tuple([JinjaValue])
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case function(JinjaFunction)

    /// A JSON value as the template sees it (Python's json.loads types).
    public init(json: JSON) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .float(let f): self = .double(Double(f))
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map { JinjaValue(json: $0) })
        case .object(let o):
            var d = JinjaDict()
            for (k, v) in o { d.keys.append(.string(k)); d.values.append(JinjaValue(json: v)) }
            self = .dict(d)
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// Python's type name, as its error messages spell it.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    /// jinja2's object_type_repr, for the messages of undefined attributes.
    var objectTypeRepr: String {
        if case .none = self { return "None" }
        return "\(typeName) object"
    }

    /// Python's bool().
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .function: return true
        }
    }

    /// A number as Double (bool and int included), or nil.
    var number: Double? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// An integer (bool included, as Python's bool is an int), or nil.
    var integer: Int? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return i
        default: return nil
        }
    }

    /// Python's ==.
    func pyEquals(_ o: JinjaValue) -> Bool {
        switch (self, o) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.pyEquals($1) }
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && zip(a.keys, a.values).allSatisfy { k, v in b[k].map { $0.pyEquals(v) } ?? false }
        case (.namespace(let a), .namespace(let b)): return a === b
        default:
            if let x = integer, let y = o.integer { return x == y }
            if let x = number, let y = o.number { return x == y }
            return false
        }
    }

    /// Python's str(): what `{{ value }}` prints.
    var str: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python's repr().
    var repr: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pyFloatRepr(d)
        case .string(let s): return pyStringRepr(s)
        case .list(let a): return "[" + a.map { $0.repr }.joined(separator: ", ") + "]"
        case .tuple(let a): return "(" + a.map { $0.repr }.joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case .dict(let d): return "{" + zip(d.keys, d.values).map { "\($0.repr): \($1.repr)" }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace \(JinjaValue.dict(n.dict).repr)>"
        case .function(let f): return "<function \(f.name)>"
        }
    }
}

/// Python's repr of a float: the shortest digits that round-trip, fixed notation for exponents -4 ..< 16,
/// scientific ("1e+16", "1e-05") otherwise.
func pyFloatRepr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description also gives the shortest round-trip digits; take them and the exponent apart.
    var s = "\(abs(d))"
    var exp = 0
    if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exp = Int(s[s.index(after: e)...]) ?? 0
        s = String(s[..<e])
    }
    var intPart = s, frac = ""
    if let dot = s.firstIndex(of: ".") { intPart = String(s[..<dot]); frac = String(s[s.index(after: dot)...]) }
    var digits = intPart + frac
    var point = intPart.count + exp  // the decimal point sits after `point` digits
    while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); point -= 1 }
    while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
    let e10 = point - 1
    var out = d < 0 ? "-" : ""
    if e10 >= -4 && e10 < 16 {
        if point <= 0 {
            out += "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out += digits + String(repeating: "0", count: point - digits.count) + ".0"
        } else {
            out += String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
        }
    } else {
        out += String(digits.prefix(1))
        if digits.count > 1 { out += "." + String(digits.dropFirst()) }
        out += (e10 < 0 ? "e-" : "e+") + (abs(e10) < 10 ? "0" : "") + String(abs(e10))
    }
    return out
}

/// Python's repr of a str: single quotes unless the text has one and no double quote.
func pyStringRepr(_ s: String) -> String {
    let q: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
    var out = String(q)
    for c in s.unicodeScalars {
        switch c {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case q: out += "\\" + String(q)
        default:
            if c.value < 0x20 || c.value == 0x7f || (c.value >= 0x80 && c.value < 0xa0) {
                out += "\\x" + hex(c.value, 2)
            } else {
                out.unicodeScalars.append(c)
            }
        }
    }
    out.unicodeScalars.append(q)
    return out
}

func hex(_ v: UInt32, _ width: Int) -> String {
    let h = String(v, radix: 16)
    return String(repeating: "0", count: max(0, width - h.count)) + h
}

/// Python's str.isspace() for one code point.
func pyIsSpace(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x09...0x0d, 0x1c...0x20, 0x85, 0xa0, 0x1680, 0x2000...0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000: return true
    default: return false
    }
}

/// json.dumps(value, ensure_ascii=False, indent=indent, separators=..., sort_keys=...) as transformers'
/// tojson filter calls it.
func pyJSONDumps(_ v: JinjaValue, indent: String?, itemSeparator: String? = nil, keySeparator: String? = nil,
                 sortKeys: Bool = false) throws(JinjaError) -> String {
    let itemSep = itemSeparator ?? (indent == nil ? ", " : ","), keySep = keySeparator ?? ": "
    var out = ""
    func string(_ s: String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 { out += "\\u" + hex(c.value, 4) } else { out.unicodeScalars.append(c) }
            }
        }
        out += "\""
    }
    func key(_ k: JinjaValue) throws(JinjaError) -> String {
        switch k {
        case .string(let s): return s
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return jsonFloat(d)
        default: throw .runtime("keys must be str, int, float, bool or None, not \(k.typeName)")
        }
    }
    func jsonFloat(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        return pyFloatRepr(d)
    }
    func walk(_ v: JinjaValue, _ depth: Int) throws(JinjaError) {
        if depth > 200 { throw .runtime("tojson: the value is nested too deeply") }
        func newline(_ d: Int) { if let indent { out += "\n" + String(repeating: indent, count: d) } }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += jsonFloat(d)
        case .string(let s): string(s)
        case .list(let a), .tuple(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, x) in a.enumerated() {
                if i > 0 { out += itemSep }
                newline(depth + 1)
                try walk(x, depth + 1)
            }
            newline(depth)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            var pairs: [(String, JinjaValue)] = []
            for (k, x) in zip(d.keys, d.values) { pairs.append((try key(k), x)) }
            if sortKeys { pairs.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } }
            out += "{"
            for (i, (k, x)) in pairs.enumerated() {
                if i > 0 { out += itemSep }
                newline(depth + 1)
                string(k)
                out += keySep
                try walk(x, depth + 1)
            }
            newline(depth)
            out += "}"
        case .undefined, .namespace, .function:
            throw .runtime("Object of type \(v.typeName) is not JSON serializable")
        }
    }
    try walk(v, 0)
    return out
}
