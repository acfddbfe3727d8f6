// What a template can call and how operators behave: Python's operators on the template's values, attribute
// and item lookup as jinja2's sandbox does it (getattr first for `.`, getitem first for `[]`, methods that
// mutate refused), the str/dict/list methods templates use, jinja2's filters and tests (with transformers'
// tojson: json.dumps with ensure_ascii=False), and transformers' globals.
// Reference: jinja2 3.1.6 filters.py, tests.py, defaults.py, sandbox.py, environment.py (getattr/getitem);
// CPython str methods; transformers 5.25.0 utils/chat_template_utils.py.
import Foundation
import RPOCore

enum JinjaBuiltins {
    static let filterNames: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
        "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort",
        "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    ]
    static let testNames: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter", "float",
        "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
        "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", "==", "!=", "<", "<=",
        ">", ">=",
    ]

    // MARK: globals

    static func globals(_ it: JinjaInterpreter) -> [String: JinjaValue] {
        func fn(_ name: String, _ f: @escaping (JinjaArgs) throws(JinjaError) -> JinjaValue) -> JinjaValue {
            .function(JinjaFunction(name: name, call: f))
        }
        return [
            "raise_exception": fn("raise_exception") { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                throw JinjaError(.raised, a.positional.first?.str ?? "")
            },
            "strftime_now": fn("strftime_now") { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                guard case .string(let f) = a.get(0, "format") ?? .none else { throw .runtime("strftime_now() takes a format string") }
                return .string(strftime(f, it.now, it.timeZone))
            },
            "range": fn("range") { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                let n = try a.positional.map { (v) throws(JinjaError) -> Int in
                    guard let i = v.integer else { throw .runtime("'\(v.typeName)' object cannot be interpreted as an integer") }
                    return i
                }
                var start = 0, stop = 0, step = 1
                switch n.count {
                case 1: stop = n[0]
                case 2: start = n[0]; stop = n[1]
                case 3: start = n[0]; stop = n[1]; step = n[2]
                default: throw .runtime("range expected 1 to 3 arguments, got \(n.count)")
                }
                if step == 0 { throw .runtime("range() arg 3 must not be zero") }
                let count = step > 0 ? (stop > start ? (Double(stop) - Double(start)) / Double(step) : 0)
                                     : (stop < start ? (Double(start) - Double(stop)) / Double(-step) : 0)
                if count.rounded(.up) > Double(JinjaInterpreter.maxItems) { throw .runtime("range too big, maximum length is \(JinjaInterpreter.maxItems)") }
                return .list(Swift.stride(from: start, to: stop, by: step).map { .int($0) })
            },
            "namespace": fn("namespace") { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                var d = JinjaDict()
                for p in a.positional {
                    guard case .dict(let init0) = p else { throw .runtime("namespace() takes a mapping") }
                    for (k, v) in zip(init0.keys, init0.values) { d.set(k, v) }
                }
                for (k, v) in a.keywords { d.set(.string(k), v) }
                for k in d.keys where k.str.hasPrefix("_") {
                    throw .runtime("Chat templates cannot store underscore-prefixed attributes on a namespace, but got \(k.repr). Please rename the attribute.")
                }
                return .namespace(JinjaNamespace(d))
            },
            "dict": fn("dict") { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                var d = JinjaDict()
                if let first = a.positional.first {
                    switch first {
                    case .dict(let x): d = x
                    default:
                        for pair in try iterate(first) {
                            let kv = try iterate(pair)
                            guard kv.count == 2 else { throw .runtime("dictionary update sequence element has length \(kv.count); 2 is required") }
                            d.set(kv[0], kv[1])
                        }
                    }
                }
                for (k, v) in a.keywords { d.set(.string(k), v) }
                return .dict(d)
            },
        ]
    }

    /// Python's time.strftime through the C library (what CPython calls for these directives).
    static func strftime(_ format: String, _ date: Date, _ tz: TimeZone) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down)) + time_t(tz.secondsFromGMT(for: date))
        var parts = tm()
        gmtime_r(&t, &parts)
        var buf = [CChar](repeating: 0, count: 1024)
        let n = Foundation.strftime(&buf, buf.count, format, &parts)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: iteration, lookup

    static func iterate(_ v: JinjaValue) throws(JinjaError) -> [JinjaValue] {
        switch v {
        case .list(let a), .tuple(let a): return a
        case .dict(let d): return d.keys
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace: throw .runtime("'Namespace' object is not iterable")
        default: throw .runtime("'\(v.typeName)' object is not iterable")
        }
    }

    static func length(_ v: JinjaValue) throws(JinjaError) -> Int {
        switch v {
        case .list(let a), .tuple(let a): return a.count
        case .dict(let d): return d.count
        case .string(let s): return s.unicodeScalars.count
        case .undefined: return 0
        default: throw .runtime("object of type '\(v.typeName)' has no len()")
        }
    }

    static func undefinedAttribute(_ v: JinjaValue, _ name: JinjaValue) -> JinjaValue {
        if case .string(let s) = name { return .undefined("'\(v.objectTypeRepr)' has no attribute '\(s)'") }
        return .undefined("\(v.objectTypeRepr) has no element \(name.repr)")
    }

    /// `v.name`: a method or attribute first, then an item (jinja2 Environment.getattr).
    static func attribute(_ v: JinjaValue, _ name: String) throws(JinjaError) -> JinjaValue {
        if case .undefined(let m) = v { throw .runtime(m) }
        if let m = method(v, name) { return m }
        switch v {
        case .dict(let d): return d[name] ?? undefinedAttribute(v, .string(name))
        case .namespace(let n): return n.dict[name] ?? undefinedAttribute(v, .string(name))
        default: return undefinedAttribute(v, .string(name))
        }
    }

    /// `v[key]`: an item first, then a method (jinja2 Environment.getitem).
    static func item(_ v: JinjaValue, _ key: JinjaValue) throws(JinjaError) -> JinjaValue {
        switch v {
        case .undefined(let m): throw .runtime(m)
        case .dict(let d): if let x = d[key] { return x }
        case .namespace(let n): if let x = n.dict[key] { return x }
        case .list(let a), .tuple(let a):
            if let i = key.integer {
                let j = i < 0 ? i + a.count : i
                if j >= 0 && j < a.count { return a[j] }
            }
        case .string(let s):
            if let i = key.integer {
                let u = Array(s.unicodeScalars)
                let j = i < 0 ? i + u.count : i
                if j >= 0 && j < u.count { return .string(String(u[j])) }
            }
        default: break
        }
        if case .string(let name) = key, let m = method(v, name) { return m }
        return undefinedAttribute(v, key)
    }

    /// Python slicing of a list, tuple or str.
    static func slice(_ v: JinjaValue, _ a: Int?, _ b: Int?, _ c: Int?) throws(JinjaError) -> JinjaValue {
        if case .undefined(let m) = v { throw .runtime(m) }
        func indices(_ n: Int) throws(JinjaError) -> [Int] {
            let step = c ?? 1
            if step == 0 { throw .runtime("slice step cannot be zero") }
            func clamp(_ x: Int?, _ dflt: Int) -> Int {
                guard var x else { return dflt }
                if x < 0 { x = x < -n ? (step < 0 ? -1 : 0) : x + n }
                else if x >= n { x = step < 0 ? n - 1 : n }
                return x
            }
            let start = clamp(a, step < 0 ? n - 1 : 0), stop = clamp(b, step < 0 ? -1 : n)
            return step > 0 ? Array(Swift.stride(from: start, to: stop, by: step)) : Array(Swift.stride(from: start, to: stop, by: step))
        }
        switch v {
        case .list(let x): return .list(try indices(x.count).map { x[$0] })
        case .tuple(let x): return .tuple(try indices(x.count).map { x[$0] })
        case .string(let s):
            let u = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(u.count) { out.append(u[i]) }
            return .string(String(out))
        default: return .undefined("\(v.objectTypeRepr) has no element slice")
        }
    }

    // MARK: operators

    static func typeError(_ op: String, _ a: JinjaValue, _ b: JinjaValue) -> JinjaError {
        if a.isUndefined { return .runtime(undefinedMessage(a)) }
        if b.isUndefined { return .runtime(undefinedMessage(b)) }
        if op == "+", case .string = a { return .runtime("can only concatenate str (not \"\(b.typeName)\") to str") }
        if op == "+", case .list = a { return .runtime("can only concatenate list (not \"\(b.typeName)\") to list") }
        return .runtime("unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
    }

    static func overflow() -> JinjaError { .runtime("integer overflow") }

    static func repeated(_ items: [JinjaValue], _ n: Int) throws(JinjaError) -> [JinjaValue] {
        if n <= 0 || items.isEmpty { return [] }
        if items.count.multipliedReportingOverflow(by: n).overflow || items.count * n > JinjaInterpreter.maxItems { throw .runtime("the repeated sequence is too long") }
        return Array([[JinjaValue]](repeating: items, count: n).joined())
    }

    static func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue, unaryMinus: Bool = false) throws(JinjaError) -> JinjaValue {
        switch op {
        case "==": return .bool(a.pyEquals(b))
        case "!=": return .bool(!a.pyEquals(b))
        case "<", ">", "<=", ">=":
            let c = try compare(a, b, op)
            switch op {
            case "<": return .bool(c < 0)
            case ">": return .bool(c > 0)
            case "<=": return .bool(c <= 0)
            default: return .bool(c >= 0)
            }
        case "in": return .bool(try contains(b, a))
        case "not in": return .bool(!(try contains(b, a)))
        case "~": return .string(a.str + b.str)
        default: break
        }
        if unaryMinus {
            if let i = b.integer { let (r, o) = 0.subtractingReportingOverflow(i); if o { throw overflow() }; return .int(r) }
            if case .double(let d) = b { return .double(-d) }
            throw .runtime(b.isUndefined ? undefinedMessage(b) : "bad operand type for unary -: '\(b.typeName)'")
        }
        // integers (bools count), then floats
        if let x = a.integer, let y = b.integer {
            switch op {
            case "+": let (r, o) = x.addingReportingOverflow(y); if o { throw overflow() }; return .int(r)
            case "-": let (r, o) = x.subtractingReportingOverflow(y); if o { throw overflow() }; return .int(r)
            case "*": let (r, o) = x.multipliedReportingOverflow(by: y); if o { throw overflow() }; return .int(r)
            case "/":
                if y == 0 { throw .runtime("division by zero") }
                return .double(Double(x) / Double(y))
            case "//", "%":
                if y == 0 { throw .runtime(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero") }
                if x == Int.min && y == -1 { throw overflow() }
                var q = x / y, r = x % y
                if r != 0 && ((r < 0) != (y < 0)) { q -= 1; r += y }
                return .int(op == "//" ? q : r)
            case "**":
                if y < 0 { return .double(Foundation.pow(Double(x), Double(y))) }
                var r = 1, base = x, e = y
                while e > 0 {
                    if e & 1 == 1 { let (m, o) = r.multipliedReportingOverflow(by: base); if o { throw overflow() }; r = m }
                    e >>= 1
                    if e > 0 { let (m, o) = base.multipliedReportingOverflow(by: base); if o { throw overflow() }; base = m }
                }
                return .int(r)
            default: break
            }
        }
        if let x = a.number, let y = b.number {
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/":
                if y == 0 { throw .runtime("float division by zero") }
                return .double(x / y)
            case "//", "%":
                if y == 0 { throw .runtime("float modulo") }
                let q = (x / y).rounded(.down)
                if op == "//" { return .double(q) }
                var r = x.truncatingRemainder(dividingBy: y)
                if r != 0 && ((r < 0) != (y < 0)) { r += y }
                return .double(r)
            case "**": return .double(Foundation.pow(x, y))
            default: break
            }
        }
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)):
            if x.utf8.count + y.utf8.count > JinjaInterpreter.maxOutput { throw .runtime("the string is too long") }
            return .string(x + y)
        case ("+", .list(let x), .list(let y)): return .list(x + y)
        case ("+", .tuple(let x), .tuple(let y)): return .tuple(x + y)
        case ("*", .string(let s), _), ("*", _, .string(let s)):
            guard let n = (a.integer ?? b.integer) else { throw typeError(op, a, b) }
            if n <= 0 { return .string("") }
            if s.utf8.count.multipliedReportingOverflow(by: n).overflow || s.utf8.count * n > JinjaInterpreter.maxOutput { throw .runtime("the repeated string is too long") }
            return .string(String(repeating: s, count: n))
        case ("*", .list(let x), _): guard let n = b.integer else { throw typeError(op, a, b) }; return .list(try repeated(x, n))
        case ("*", _, .list(let x)): guard let n = a.integer else { throw typeError(op, a, b) }; return .list(try repeated(x, n))
        case ("%", .string(let f), _): return .string(try printf(f, b))
        default: throw typeError(op, a, b)
        }
    }

    /// Python's ordering: numbers, str (by code point), lists and tuples (item by item); else a TypeError.
    static func compare(_ a: JinjaValue, _ b: JinjaValue, _ op: String = "<") throws(JinjaError) -> Int {
        if let x = a.integer, let y = b.integer { return x < y ? -1 : x > y ? 1 : 0 }
        if let x = a.number, let y = b.number { return x < y ? -1 : x > y ? 1 : 0 }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            if x.unicodeScalars.elementsEqual(y.unicodeScalars) { return 0 }
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) { $0.value < $1.value } ? -1 : 1
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !p.pyEquals(q) { return try compare(p, q, op) }
            return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
        default:
            if a.isUndefined { throw .runtime(undefinedMessage(a)) }
            if b.isUndefined { throw .runtime(undefinedMessage(b)) }
            throw .runtime("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
    }

    /// `x in container`.
    static func contains(_ container: JinjaValue, _ x: JinjaValue) throws(JinjaError) -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = x else { throw .runtime("'in <string>' requires string as left operand, not \(x.typeName)") }
            return find(Array(s.unicodeScalars), Array(sub.unicodeScalars), from: 0) != nil
        case .list(let a), .tuple(let a): return a.contains { $0.pyEquals(x) }
        case .dict(let d): return d.index(of: x) != nil
        case .undefined: return false
        default: throw .runtime("argument of type '\(container.typeName)' is not iterable")
        }
    }

    static func find(_ hay: [Unicode.Scalar], _ needle: [Unicode.Scalar], from: Int) -> Int? {
        if needle.isEmpty { return from <= hay.count ? from : nil }
        if needle.count > hay.count { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Python's `format % args` for %s %r %d %i %f %x %%, with flags, width and precision.
    static func printf(_ f: String, _ args: JinjaValue) throws(JinjaError) -> String {
        var list: [JinjaValue]
        if case .tuple(let t) = args { list = t } else { list = [args] }
        var out = "", k = 0
        let u = Array(f.unicodeScalars)
        var i = 0
        while i < u.count {
            if u[i] != "%" { out.unicodeScalars.append(u[i]); i += 1; continue }
            i += 1
            var flags = "", width = "", prec: String? = nil
            while i < u.count, "-+ 0#".unicodeScalars.contains(u[i]) { flags.unicodeScalars.append(u[i]); i += 1 }
            while i < u.count, u[i].properties.numericType != nil, u[i].isASCII { width.unicodeScalars.append(u[i]); i += 1 }
            if i < u.count, u[i] == "." {
                i += 1; prec = ""
                while i < u.count, u[i].properties.numericType != nil, u[i].isASCII { prec!.unicodeScalars.append(u[i]); i += 1 }
            }
            guard i < u.count else { throw .runtime("incomplete format") }
            let conv = u[i]; i += 1
            if conv == "%" { out += "%"; continue }
            guard k < list.count else { throw .runtime("not enough arguments for format string") }
            let v = list[k]; k += 1
            var s: String
            switch conv {
            case "s": s = v.str; if let p = prec, let n = Int(p) { s = String(String.UnicodeScalarView(s.unicodeScalars.prefix(n))) }
            case "r": s = v.repr
            case "d", "i":
                guard let n = v.number, n.isFinite else { throw .runtime("%\(conv) format: a real number is required, not \(v.typeName)") }
                s = v.integer.map { String($0) } ?? String(Int(exactly: n.rounded(.towardZero)) ?? 0)
            case "f", "F":
                guard let n = v.number else { throw .runtime("must be real number, not \(v.typeName)") }
                s = String(format: "%.\(Int(prec ?? "6") ?? 6)f", n)
            case "x", "X":
                guard let n = v.integer else { throw .runtime("%x format: an integer is required, not \(v.typeName)") }
                s = String(n, radix: 16, uppercase: conv == "X")
            default: throw .runtime("unsupported format character '\(conv)'")
            }
            if let w = Int(width), s.unicodeScalars.count < w {
                let pad = w - s.unicodeScalars.count
                if flags.contains("-") { s += String(repeating: " ", count: pad) }
                else if flags.contains("0") && conv != "s" && conv != "r" {
                    let neg = s.hasPrefix("-")
                    s = (neg ? "-" : "") + String(repeating: "0", count: pad) + (neg ? String(s.dropFirst()) : s)
                } else { s = String(repeating: " ", count: pad) + s }
            }
            out += s
        }
        if k < list.count, case .tuple = args { throw .runtime("not all arguments converted during string formatting") }
        return out
    }

    // MARK: methods

    static func bound(_ name: String, _ f: @escaping (JinjaArgs) throws(JinjaError) -> JinjaValue) -> JinjaValue {
        .function(JinjaFunction(name: name, call: f))
    }

    static func stringArg(_ a: JinjaArgs, _ i: Int, _ name: String, _ method: String) throws(JinjaError) -> String? {
        guard let v = a.get(i, name) else { return nil }
        if case .none = v { return nil }
        guard case .string(let s) = v else { throw .runtime("\(method)() argument must be str or None, not \(v.typeName)") }
        return s
    }

    /// The method `name` of `v` as a bound function, or nil (mutating methods are never offered: the
    /// sandbox makes them undefined).
    static func method(_ v: JinjaValue, _ name: String) -> JinjaValue? {
        switch v {
        case .string(let s): return stringMethod(s, name)
        case .dict(let d):
            switch name {
            case "get": return bound(name) { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                guard let k = a.get(0, "key") else { throw .runtime("get expected at least 1 argument, got 0") }
                return d[k] ?? (a.get(1, "default") ?? .none)
            }
            case "items": return bound(name) { (_: JinjaArgs) throws(JinjaError) -> JinjaValue in .list(zip(d.keys, d.values).map { .tuple([$0, $1]) }) }
            case "keys": return bound(name) { (_: JinjaArgs) throws(JinjaError) -> JinjaValue in .list(d.keys) }
            case "values": return bound(name) { (_: JinjaArgs) throws(JinjaError) -> JinjaValue in .list(d.values) }
            case "copy": return bound(name) { (_: JinjaArgs) throws(JinjaError) -> JinjaValue in .dict(d) }
            default: return nil
            }
        case .list(let x), .tuple(let x):
            switch name {
            case "index": return bound(name) { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                guard let y = a.positional.first else { throw .runtime("index expected 1 argument, got 0") }
                guard let i = x.firstIndex(where: { $0.pyEquals(y) }) else { throw .runtime("\(y.repr) is not in list") }
                return .int(i)
            }
            case "count": return bound(name) { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                guard let y = a.positional.first else { throw .runtime("count() takes exactly one argument (0 given)") }
                return .int(x.filter { $0.pyEquals(y) }.count)
            }
            default: return nil
            }
        default: return nil
        }
    }

    static func strip(_ u: [Unicode.Scalar], _ chars: String?, left: Bool, right: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func drop(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? pyIsSpace(c) }
        var lo = 0, hi = u.count
        if left { while lo < hi && drop(u[lo]) { lo += 1 } }
        if right { while hi > lo && drop(u[hi - 1]) { hi -= 1 } }
        return String(String.UnicodeScalarView(u[lo..<hi]))
    }

    /// Python's str.split / rsplit.
    static func split(_ s: String, _ sep: String?, _ maxsplit: Int, fromRight: Bool = false) throws(JinjaError) -> [String] {
        var u = Array(s.unicodeScalars)
        if fromRight { u.reverse() }
        var parts: [[Unicode.Scalar]] = []
        if let sep {
            var n = Array(sep.unicodeScalars)
            if n.isEmpty { throw .runtime("empty separator") }
            if fromRight { n.reverse() }
            var start = 0
            while maxsplit < 0 || parts.count < maxsplit, let k = find(u, n, from: start) {
                parts.append(Array(u[start..<k])); start = k + n.count
            }
            parts.append(Array(u[start...]))
        } else {
            var i = 0
            while i < u.count {
                while i < u.count && pyIsSpace(u[i]) { i += 1 }
                if i == u.count { break }
                if maxsplit >= 0 && parts.count == maxsplit {
                    var rest = Array(u[i...])
                    while let l = rest.last, pyIsSpace(l) { rest.removeLast() }
                    parts.append(rest); break
                }
                let st = i
                while i < u.count && !pyIsSpace(u[i]) { i += 1 }
                parts.append(Array(u[st..<i]))
            }
        }
        if fromRight { parts = parts.reversed().map { $0.reversed() } }
        return parts.map { String(String.UnicodeScalarView($0)) }
    }

    /// Python's str.splitlines.
    static func splitlines(_ s: String, keepends: Bool = false) -> [String] {
        let u = Array(s.unicodeScalars)
        var out: [String] = [], st = 0, i = 0
        while i < u.count {
            let c = u[i].value
            if [0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029].contains(c) {
                var end = i + 1
                if c == 0x0d && end < u.count && u[end] == "\n" { end += 1 }
                out.append(String(String.UnicodeScalarView(u[st..<(keepends ? end : i)])))
                st = end; i = end
            } else { i += 1 }
        }
        if st < u.count { out.append(String(String.UnicodeScalarView(u[st...]))) }
        return out
    }

    static func isCased(_ c: Unicode.Scalar) -> Bool { c.properties.isUppercase || c.properties.isLowercase || c.properties.changesWhenTitlecased && c.properties.isAlphabetic }

    /// Python's str.title: a cased character after an uncased one starts a word.
    static func pyTitle(_ s: String) -> String {
        var out = "", prevCased = false
        for c in s.unicodeScalars {
            let cased = isCased(c)
            out += prevCased ? String(c).lowercased() : c.properties.titlecaseMapping
            prevCased = cased
        }
        return out
    }

    /// Python's str.capitalize: the first character title-cased, the rest lower-cased.
    static func pyCapitalize(_ s: String) -> String {
        guard let f = s.unicodeScalars.first else { return "" }
        return f.properties.titlecaseMapping + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
    }

    static func pyReplace(_ s: String, _ old: String, _ new: String, _ count: Int) -> String {
        let u = Array(s.unicodeScalars), o = Array(old.unicodeScalars)
        var out = String.UnicodeScalarView(), n = 0, i = 0
        if o.isEmpty {
            for c in u {
                if count < 0 || n < count { out.append(contentsOf: new.unicodeScalars); n += 1 }
                out.append(c)
            }
            if count < 0 || n < count { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        while i < u.count {
            if (count < 0 || n < count), let k = find(u, o, from: i) {
                out.append(contentsOf: u[i..<k]); out.append(contentsOf: new.unicodeScalars)
                i = k + o.count; n += 1
            } else {
                out.append(contentsOf: u[i...]); break
            }
        }
        return String(out)
    }

    static func stringMethod(_ s: String, _ name: String) -> JinjaValue? {
        let u = Array(s.unicodeScalars)
        typealias F = (JinjaArgs) throws(JinjaError) -> JinjaValue
        let f: F
        switch name {
        case "strip", "lstrip", "rstrip":
            f = { (a) throws(JinjaError) in .string(strip(u, try stringArg(a, 0, "chars", name), left: name != "rstrip", right: name != "lstrip")) }
        case "upper": f = { _ in .string(s.uppercased()) }
        case "lower": f = { _ in .string(s.lowercased()) }
        case "title": f = { _ in .string(pyTitle(s)) }
        case "capitalize": f = { _ in .string(pyCapitalize(s)) }
        case "split", "rsplit":
            f = { (a) throws(JinjaError) in
                let sep = try stringArg(a, 0, "sep", name)
                let m = a.get(1, "maxsplit")?.integer ?? -1
                return .list(try split(s, sep, m, fromRight: name == "rsplit").map { .string($0) })
            }
        case "splitlines": f = { a in .list(splitlines(s, keepends: a.get(0, "keepends")?.truthy ?? false).map { .string($0) }) }
        case "startswith", "endswith":
            f = { (a) throws(JinjaError) in
                guard let p = a.positional.first else { throw .runtime("\(name)() takes at least 1 argument (0 given)") }
                var options: [String] = []
                switch p {
                case .string(let x): options = [x]
                case .tuple(let t):
                    for x in t { guard case .string(let y) = x else { throw .runtime("tuple for \(name) must only contain str, not \(x.typeName)") }; options.append(y) }
                default: throw .runtime("\(name) first arg must be str or a tuple of str, not \(p.typeName)")
                }
                return .bool(options.contains { o in
                    let v = Array(o.unicodeScalars)
                    return name == "startswith" ? u.starts(with: v) : u.reversed().starts(with: v.reversed())
                })
            }
        case "replace":
            f = { (a) throws(JinjaError) in
                guard case .string(let o)? = a.get(0, "old"), case .string(let n)? = a.get(1, "new") else { throw .runtime("replace() takes two str arguments") }
                return .string(pyReplace(s, o, n, a.get(2, "count")?.integer ?? -1))
            }
        case "find", "rfind", "index", "rindex", "count":
            f = { (a) throws(JinjaError) in
                guard case .string(let x)? = a.positional.first else { throw .runtime("\(name)() takes a str argument") }
                let n = Array(x.unicodeScalars)
                if name == "count" {
                    if n.isEmpty { return .int(u.count + 1) }
                    var c = 0, i = 0
                    while let k = find(u, n, from: i) { c += 1; i = k + n.count }
                    return .int(c)
                }
                var r: Int? = nil
                if name.hasPrefix("r") {
                    var i = 0
                    while let k = find(u, n, from: i) { r = k; i = k + 1; if n.isEmpty && k >= u.count { break } }
                } else { r = find(u, n, from: 0) }
                if r == nil && name.hasSuffix("index") { throw .runtime("substring not found") }
                return .int(r ?? -1)
            }
        case "join":
            f = { (a) throws(JinjaError) in
                guard let x = a.positional.first else { throw .runtime("join() takes exactly one argument (0 given)") }
                var parts: [String] = []
                for (k, y) in try iterate(x).enumerated() {
                    guard case .string(let t) = y else { throw .runtime("sequence item \(k): expected str instance, \(y.typeName) found") }
                    parts.append(t)
                }
                return .string(parts.joined(separator: s))
            }
        case "format": f = { (a) throws(JinjaError) in .string(try pyFormat(s, a)) }
        case "isdigit", "isnumeric", "isdecimal":
            f = { _ in .bool(!u.isEmpty && u.allSatisfy { $0.properties.numericType != nil }) }
        case "isalpha": f = { _ in .bool(!u.isEmpty && u.allSatisfy { $0.properties.isAlphabetic }) }
        case "isalnum": f = { _ in .bool(!u.isEmpty && u.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil }) }
        case "isspace": f = { _ in .bool(!u.isEmpty && u.allSatisfy(pyIsSpace)) }
        case "isupper": f = { _ in .bool(u.contains(where: isCased) && !u.contains { $0.properties.isLowercase }) }
        case "islower": f = { _ in .bool(u.contains(where: isCased) && !u.contains { $0.properties.isUppercase }) }
        case "removeprefix", "removesuffix":
            f = { (a) throws(JinjaError) in
                guard case .string(let x)? = a.positional.first else { throw .runtime("\(name)() takes a str argument") }
                let v = Array(x.unicodeScalars)
                if name == "removeprefix" { return .string(u.starts(with: v) ? String(String.UnicodeScalarView(u.dropFirst(v.count))) : s) }
                return .string(u.reversed().starts(with: v.reversed()) ? String(String.UnicodeScalarView(u.dropLast(v.count))) : s)
            }
        default: return nil
        }
        return bound(name, f)
    }

    /// Python's str.format with positional `{}`/`{0}` and keyword `{name}` fields, `!r`/`!s`, no format spec.
    static func pyFormat(_ s: String, _ a: JinjaArgs) throws(JinjaError) -> String {
        let u = Array(s.unicodeScalars)
        var out = "", i = 0, auto = 0
        while i < u.count {
            let c = u[i]
            if c == "{" && i + 1 < u.count && u[i + 1] == "{" { out += "{"; i += 2; continue }
            if c == "}" && i + 1 < u.count && u[i + 1] == "}" { out += "}"; i += 2; continue }
            if c == "}" { throw .runtime("Single '}' encountered in format string") }
            if c != "{" { out.unicodeScalars.append(c); i += 1; continue }
            guard let close = u[i...].firstIndex(of: "}") else { throw .runtime("Single '{' encountered in format string") }
            var field = String(String.UnicodeScalarView(u[(i + 1)..<close]))
            i = close + 1
            var conv = "s"
            if let bang = field.firstIndex(of: "!") { conv = String(field[field.index(after: bang)...]); field = String(field[..<bang]) }
            if field.contains(":") { throw .runtime("format specs are not supported in str.format") }
            let v: JinjaValue
            if field.isEmpty {
                guard auto < a.positional.count else { throw .runtime("Replacement index \(auto) out of range for positional args tuple") }
                v = a.positional[auto]; auto += 1
            } else if let k = Int(field) {
                guard k >= 0 && k < a.positional.count else { throw .runtime("Replacement index \(k) out of range for positional args tuple") }
                v = a.positional[k]
            } else {
                guard let x = a.keywords.first(where: { $0.0 == field })?.1 else { throw .runtime("KeyError: '\(field)'") }
                v = x
            }
            out += conv == "r" ? v.repr : v.str
        }
        return out
    }

    // MARK: filters

    static func intArg(_ a: JinjaArgs, _ i: Int, _ name: String, _ dflt: Int) throws(JinjaError) -> Int {
        guard let v = a.get(i, name) else { return dflt }
        guard let n = v.integer else { throw .runtime("'\(name)' must be an integer, not \(v.typeName)") }
        return n
    }

    /// attribute "a.b" or "0" of an item, as jinja2's make_attrgetter.
    static func getAttributePath(_ v: JinjaValue, _ path: JinjaValue) throws(JinjaError) -> JinjaValue {
        guard case .string(let p) = path else { return try item(v, path) }
        var x = v
        for part in p.split(separator: ".", omittingEmptySubsequences: false) {
            if let i = Int(part) { x = try item(x, .int(i)) } else { x = try item(x, .string(String(part))) }
        }
        return x
    }

    static func sortKey(_ v: JinjaValue, caseSensitive: Bool) -> JinjaValue {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    static func sorted(_ items: [JinjaValue], by key: (JinjaValue) throws(JinjaError) -> JinjaValue, reverse: Bool) throws(JinjaError) -> [JinjaValue] {
        // a stable merge sort whose comparisons may throw (mixed types)
        var keyed: [(JinjaValue, JinjaValue)] = []
        for x in items { keyed.append((try key(x), x)) }
        func merge(_ a: ArraySlice<(JinjaValue, JinjaValue)>) throws(JinjaError) -> [(JinjaValue, JinjaValue)] {
            if a.count <= 1 { return Array(a) }
            let mid = a.startIndex + a.count / 2
            let l = try merge(a[a.startIndex..<mid]), r = try merge(a[mid..<a.endIndex])
            var out: [(JinjaValue, JinjaValue)] = [], i = 0, j = 0
            out.reserveCapacity(a.count)
            while i < l.count && j < r.count {
                let c = try compare(r[j].0, l[i].0)
                if reverse ? c > 0 : c < 0 { out.append(r[j]); j += 1 } else { out.append(l[i]); i += 1 }
            }
            out += l[i...]; out += r[j...]
            return out
        }
        return try merge(keyed[...]).map { $0.1 }
    }

    static func filter(_ name: String, _ v: JinjaValue, _ a: JinjaArgs, _ it: JinjaInterpreter) throws(JinjaError) -> JinjaValue {
        func str() -> String { v.str }
        switch name {
        case "default", "d":
            let dflt = a.get(0, "default_value") ?? .string("")
            let boolean = a.get(1, "boolean")?.truthy ?? false
            return v.isUndefined || (boolean && !v.truthy) ? dflt : v
        case "trim": return .string(strip(Array(str().unicodeScalars), try stringArg(a, 0, "chars", "trim"), left: true, right: true))
        case "upper": return .string(str().uppercased())
        case "lower": return .string(str().lowercased())
        case "capitalize": return .string(pyCapitalize(str()))
        case "title":
            // jinja2: words start after spaces, '-', '(', '{', '[', '<'
            var out = "", start = true
            for c in str().unicodeScalars {
                if pyIsSpace(c) || "-({[<".unicodeScalars.contains(c) { out.unicodeScalars.append(c); start = true; continue }
                out += start ? String(c).uppercased() : String(c).lowercased()
                start = false
            }
            return .string(out)
        case "length", "count": return .int(try length(v))
        case "string": return .string(str())
        case "safe", "e", "escape", "forceescape":
            if name == "safe" { return v.isUndefined ? v : .string(str()) }
            var out = ""
            for c in str().unicodeScalars {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.unicodeScalars.append(c)
                }
            }
            return .string(out)
        case "tojson":
            let ind = a.get(0, "indent")
            var indent: String? = nil
            switch ind {
            case .int(let n)?: indent = String(repeating: " ", count: max(0, n))
            case .string(let s)?: indent = s
            case .none?, nil: break
            default: throw .runtime("tojson: indent must be an integer or a string")
            }
            var itemSep: String? = nil, keySep: String? = nil
            if let seps = a.get(2, "separators"), !(seps.isUndefined), seps.truthy {
                let p = try iterate(seps)
                guard p.count == 2, case .string(let x) = p[0], case .string(let y) = p[1] else { throw .runtime("tojson: separators must be a pair of strings") }
                itemSep = x; keySep = y
            }
            return .string(try pyJSONDumps(v, indent: indent, itemSeparator: itemSep, keySeparator: keySep, sortKeys: a.get(3, "sort_keys")?.truthy ?? false))
        case "join":
            var items = try iterate(v)
            if let attr = a.get(1, "attribute"), !attr.isUndefined { items = try items.map { (x) throws(JinjaError) in try getAttributePath(x, attr) } }
            let sep = a.get(0, "d")?.str ?? ""
            return .string(items.map { $0.str }.joined(separator: sep))
        case "first":
            return try iterate(v).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            if case .undefined(let m) = v { throw .runtime(m) }
            return try iterate(v).last ?? .undefined("No last item, sequence was empty.")
        case "list": return .list(try iterate(v))
        case "reverse":
            if case .string(let s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try iterate(v).reversed())
        case "items":
            switch v {
            case .undefined: return .list([])
            case .dict(let d): return .list(zip(d.keys, d.values).map { .tuple([$0, $1]) })
            default: throw .runtime("Can only get item pairs from a mapping.")
            }
        case "dictsort":
            guard case .dict(let d) = v else { throw .runtime("dictsort: a mapping is required") }
            let cs = a.get(0, "case_sensitive")?.truthy ?? false
            let byValue: Bool
            switch a.get(1, "by") {
            case nil: byValue = false
            case .string("key")?: byValue = false
            case .string("value")?: byValue = true
            default: throw .runtime("You can only sort by either \"key\" or \"value\"")
            }
            let pairs = zip(d.keys, d.values).map { JinjaValue.tuple([$0, $1]) }
            return .list(try sorted(pairs, by: { (p) throws(JinjaError) in
                guard case .tuple(let t) = p else { return p }
                return sortKey(t[byValue ? 1 : 0], caseSensitive: cs)
            }, reverse: a.get(2, "reverse")?.truthy ?? false))
        case "sort":
            let cs = a.get(1, "case_sensitive")?.truthy ?? false
            let attr = a.get(2, "attribute")
            return .list(try sorted(try iterate(v), by: { (x) throws(JinjaError) in
                sortKey(attr == nil ? x : try getAttributePath(x, attr!), caseSensitive: cs)
            }, reverse: a.get(0, "reverse")?.truthy ?? false))
        case "unique":
            let cs = a.get(0, "case_sensitive")?.truthy ?? false
            let attr = a.get(1, "attribute")
            var seen: [JinjaValue] = [], out: [JinjaValue] = []
            for x in try iterate(v) {
                let k = sortKey(attr == nil ? x : try getAttributePath(x, attr!), caseSensitive: cs)
                if !seen.contains(where: { $0.pyEquals(k) }) { seen.append(k); out.append(x) }
            }
            return .list(out)
        case "min", "max":
            let cs = a.get(0, "case_sensitive")?.truthy ?? false
            let attr = a.get(1, "attribute")
            let s = try sorted(try iterate(v), by: { (x) throws(JinjaError) in sortKey(attr == nil ? x : try getAttributePath(x, attr!), caseSensitive: cs) }, reverse: false)
            return (name == "min" ? s.first : s.last) ?? .undefined("No aggregated item, sequence was empty.")
        case "sum":
            let attr = a.get(0, "attribute")
            var total = a.get(1, "start") ?? .int(0)
            for x in try iterate(v) { total = try binary("+", total, attr == nil ? x : try getAttributePath(x, attr!)) }
            return total
        case "map":
            let items = try iterate(v)
            if a.positional.isEmpty, let attr = a.keywords.first(where: { $0.0 == "attribute" })?.1 {
                let dflt = a.keywords.first(where: { $0.0 == "default" })?.1
                return .list(try items.map { (x) throws(JinjaError) in
                    let r = try getAttributePath(x, attr)
                    return r.isUndefined ? (dflt ?? r) : r
                })
            }
            guard case .string(let f)? = a.positional.first else { throw .runtime("map requires a filter name or attribute=") }
            guard filterNames.contains(f) else { throw .runtime("No filter named '\(f)'.") }
            let rest = JinjaArgs(positional: Array(a.positional.dropFirst()), keywords: a.keywords)
            return .list(try items.map { (x) throws(JinjaError) in try filter(f, x, rest, it) })
        case "select", "reject":
            let keep = name == "select"
            var out: [JinjaValue] = []
            for x in try iterate(v) {
                var ok: Bool
                if case .string(let t)? = a.positional.first {
                    guard testNames.contains(t) else { throw .runtime("No test named '\(t)'.") }
                    ok = try test(t, x, JinjaArgs(positional: Array(a.positional.dropFirst())), it)
                } else { ok = x.truthy }
                if ok == keep { out.append(x) }
            }
            return .list(out)
        case "selectattr", "rejectattr":
            let keep = name == "selectattr"
            guard let attr = a.positional.first else { throw .runtime("\(name) needs an attribute name") }
            var out: [JinjaValue] = []
            for x in try iterate(v) {
                let y = try getAttributePath(x, attr)
                var ok: Bool
                if a.positional.count > 1 {
                    guard case .string(let t) = a.positional[1], testNames.contains(t) else { throw .runtime("No test named \(a.positional[1].repr).") }
                    ok = try test(t, y, JinjaArgs(positional: Array(a.positional.dropFirst(2))), it)
                } else { ok = y.truthy }
                if ok == keep { out.append(x) }
            }
            return .list(out)
        case "int":
            let dflt = a.get(0, "default") ?? .int(0)
            let base = try intArg(a, 1, "base", 10)
            switch v {
            case .int, .bool: return .int(v.integer!)
            case .double(let d): return d.isFinite && abs(d) < 9.2e18 ? .int(Int(d.rounded(.towardZero))) : dflt
            case .string(let s):
                let t = strip(Array(s.unicodeScalars), nil, left: true, right: true).replacingOccurrences(of: "_", with: "")
                if let i = Int(t, radix: base) { return .int(i) }
                if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d.rounded(.towardZero))) }
                return dflt
            default: return dflt
            }
        case "float":
            let dflt = a.get(0, "default") ?? .double(0)
            switch v {
            case .int, .bool, .double: return .double(v.number!)
            case .string(let s): return Double(strip(Array(s.unicodeScalars), nil, left: true, right: true)).map { .double($0) } ?? dflt
            default: return dflt
            }
        case "abs":
            if let i = v.integer { if i == Int.min { throw overflow() }; return .int(Swift.abs(i)) }
            if case .double(let d) = v { return .double(Swift.abs(d)) }
            throw .runtime(v.isUndefined ? undefinedMessage(v) : "bad operand type for abs(): '\(v.typeName)'")
        case "round":
            guard let x = v.number else { throw .runtime(v.isUndefined ? undefinedMessage(v) : "round: a number is required, not \(v.typeName)") }
            let p = try intArg(a, 0, "precision", 0)
            let m = a.get(1, "method")?.str ?? "common"
            let scale = Foundation.pow(10.0, Double(p))
            switch m {
            case "common": return .double((x * scale).rounded(.toNearestOrEven) / scale)
            case "ceil": return .double((x * scale).rounded(.up) / scale)
            case "floor": return .double((x * scale).rounded(.down) / scale)
            default: throw .runtime("method must be 'common', 'ceil' or 'floor'")
            }
        case "replace":
            guard let o = a.get(0, "old"), let n = a.get(1, "new") else { throw .runtime("replace needs old and new") }
            let c = a.get(2, "count").flatMap { $0.integer } ?? -1
            return .string(pyReplace(str(), o.str, n.str, c))
        case "indent":
            var ind: String
            switch a.get(0, "width") {
            case .string(let s)?: ind = s
            case nil: ind = "    "
            case let w?:
                guard let n = w.integer else { throw .runtime("indent: width must be an integer or a string") }
                ind = String(repeating: " ", count: max(0, n))
            }
            let first = a.get(1, "first")?.truthy ?? false, blank = a.get(2, "blank")?.truthy ?? false
            let lines = splitlines(str() + "\n")
            var rv: String
            if blank {
                rv = lines.joined(separator: "\n" + ind)
            } else {
                rv = lines.first ?? ""
                if lines.count > 1 { rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : ind + $0 }.joined(separator: "\n") }
            }
            return .string(first ? ind + rv : rv)
        case "center":
            let w = try intArg(a, 0, "width", 80)
            let s = str(), n = s.unicodeScalars.count
            if w <= n { return .string(s) }
            let total = w - n, left = total / 2 + (total & w & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: total - left))
        case "wordcount":
            var n = 0, inWord = false
            for c in str().unicodeScalars {
                let w = c.properties.isAlphabetic || c.properties.numericType != nil || c == "_"
                if w && !inWord { n += 1 }
                inWord = w
            }
            return .int(n)
        case "format":
            if a.positional.count == 1 { return .string(try printf(str(), a.positional[0])) }
            return .string(try printf(str(), .tuple(a.positional)))
        case "attr":
            guard case .string(let n)? = a.positional.first else { throw .runtime("attr needs a name") }
            return try attribute(v, n)
        case "batch":
            let n = try intArg(a, 0, "linecount", 1)
            if n <= 0 { throw .runtime("batch size must be positive") }
            let items = try iterate(v)
            var out: [JinjaValue] = [], cur: [JinjaValue] = []
            for x in items {
                cur.append(x)
                if cur.count == n { out.append(.list(cur)); cur = [] }
            }
            if !cur.isEmpty {
                if let fill = a.get(1, "fill_with"), !(fill.isUndefined) { while cur.count < n { cur.append(fill) } }
                out.append(.list(cur))
            }
            return .list(out)
        default:
            throw .runtime("No filter named '\(name)'.")
        }
    }

    // MARK: tests

    static func test(_ name: String, _ v: JinjaValue, _ a: JinjaArgs, _ it: JinjaInterpreter) throws(JinjaError) -> Bool {
        func arg() throws(JinjaError) -> JinjaValue {
            guard let x = a.positional.first else { throw .runtime("test '\(name)' needs an argument") }
            return x
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true } else { return false }
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "number": return v.number != nil
        case "string": if case .string = v { return true } else { return false }
        case "mapping": if case .dict = v { return true } else { return false }
        case "iterable":
            switch v {
            case .list, .tuple, .dict, .string, .undefined: return true
            default: return false
            }
        case "sequence":
            switch v {
            case .list, .tuple, .dict, .string, .undefined: return true
            default: return false
            }
        case "callable": if case .function = v { return true } else { return false }
        case "escaped": return false
        case "odd", "even":
            guard let i = v.integer else { throw .runtime(v.isUndefined ? undefinedMessage(v) : "not all arguments converted during string formatting") }
            return (i & 1 == 1) == (name == "odd")
        case "divisibleby":
            let d = try arg()
            guard let x = v.integer, let y = d.integer else {
                let r = try binary("%", v, d)
                return !r.truthy
            }
            if y == 0 { throw .runtime("integer modulo by zero") }
            return x % y == 0
        case "lower": return v.str.lowercased() == v.str && { if case .string = v { return true } else { return false } }()
        case "upper": return v.str.uppercased() == v.str && { if case .string = v { return true } else { return false } }()
        case "sameas":
            let o = try arg()
            switch (v, o) {
            case (.none, .none): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.int(let x), .int(let y)): return x == y && x >= -5 && x <= 256  // CPython's cached small ints
            case (.namespace(let x), .namespace(let y)): return x === y
            case (.undefined, _), (_, .undefined): return false
            default: return false
            }
        case "eq", "equalto", "==": return v.pyEquals(try arg())
        case "ne", "!=": return !v.pyEquals(try arg())
        case "lt", "lessthan", "<": return try compare(v, try arg(), "<") < 0
        case "le", "<=": return try compare(v, try arg(), "<=") <= 0
        case "gt", "greaterthan", ">": return try compare(v, try arg(), ">") > 0
        case "ge", ">=": return try compare(v, try arg(), ">=") >= 0
        case "in": return try contains(try arg(), v)
        case "filter": if case .string(let s) = v { return filterNames.contains(s) } else { return false }
        case "test": if case .string(let s) = v { return testNames.contains(s) } else { return false }
        default: throw .runtime("No test named '\(name)'.")
        }
    }
}
