// Rendering a parsed Jinja template: scopes as jinja2 has them (a for loop's body is a new scope each
// iteration, so `set` inside a loop does not leak out; `if` is no scope; namespace() objects carry state
// out), undefined values as jinja2's default Undefined, Python operator semantics, and the globals
// transformers adds (raise_exception, strftime_now, namespace, dict). The sandbox's immutability holds by
// construction: no method that mutates a list or dict is offered.
// Reference: jinja2 3.1.6 (compiler.py, runtime.py, sandbox.py), transformers 5.25.0
// utils/chat_template_utils.py (_cached_compile_jinja_template).
import Foundation
import RPOCore

/// A compiled chat template.
public struct JinjaTemplate: @unchecked Sendable {
    let body: [JinjaStmt]

    /// Parses `source`; a syntax error names its line and column.
    public init(_ source: String) throws(JinjaError) {
        body = try JinjaParser.parse(source)
    }

    /// Renders with `context` as the template's variables; `now` is what strftime_now() formats (local time
    /// of `timeZone`).
    public func render(_ context: [String: JinjaValue], now: Date = Date(), timeZone: TimeZone = .current) throws(JinjaError) -> String {
        let it = JinjaInterpreter(now: now, timeZone: timeZone)
        let root = JinjaFrame(parent: nil)
        for (k, v) in JinjaBuiltins.globals(it) { root.vars[k] = v }
        for (k, v) in context { root.vars[k] = v }
        var out = ""
        _ = try it.run(body, root, &out)
        return out
    }
}

final class JinjaFrame {
    var vars: [String: JinjaValue] = [:]
    let parent: JinjaFrame?
    init(parent: JinjaFrame?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var f: JinjaFrame? = self
        while let x = f {
            if let v = x.vars[name] { return v }
            f = x.parent
        }
        return nil
    }
}

enum JinjaFlow { case normal, breakLoop, continueLoop }

final class JinjaInterpreter {
    let now: Date
    let timeZone: TimeZone
    var callDepth = 0
    /// Bounds on what a template may build, so no input can exhaust memory.
    static let maxOutput = 64 << 20, maxItems = 1 << 20, maxCallDepth = 100

    init(now: Date, timeZone: TimeZone) { self.now = now; self.timeZone = timeZone }

    /// An error from a builtin gets the position of the expression that called it.
    func located<T>(_ pos: JinjaPos, _ f: () throws(JinjaError) -> T) throws(JinjaError) -> T {
        do { return try f() } catch {
            var e = error
            if e.line == 0 { e.line = pos.line; e.column = pos.column }
            throw e
        }
    }

    func run(_ body: [JinjaStmt], _ frame: JinjaFrame, _ out: inout String) throws(JinjaError) -> JinjaFlow {
        for s in body {
            switch s {
            case .text(let t): out += t
            case .output(let e):
                let v = try eval(e, frame)
                try located(e.pos) { () throws(JinjaError) in
                    if case .function = v {} else { out += v.str }
                }
            case .ifs(let branches, let other):
                var taken = false
                for (test, b) in branches {
                    if !(try eval(test, frame).truthy) { continue }
                    taken = true
                    let f = try run(b, frame, &out)
                    if f != .normal { return f }
                    break
                }
                if !taken {
                    let f = try run(other, frame, &out)
                    if f != .normal { return f }
                }
            case .forLoop(let targets, let iterExpr, let filter, let b, let other, let pos):
                let seq = try located(iterExpr.pos) { () throws(JinjaError) in try JinjaBuiltins.iterate(try eval(iterExpr, frame)) }
                var items = seq
                if let filter {
                    items = []
                    for x in seq {
                        let f = JinjaFrame(parent: frame)
                        try assign(targets, x, f, pos)
                        if try eval(filter, f).truthy { items.append(x) }
                    }
                }
                if items.isEmpty {
                    let f = try run(other, frame, &out)
                    if f != .normal { return f }
                    continue
                }
                let n = items.count
                for (k, x) in items.enumerated() {
                    let f = JinjaFrame(parent: frame)
                    try assign(targets, x, f, pos)
                    var loop = JinjaDict()
                    func put(_ key: String, _ v: JinjaValue) { loop.keys.append(.string(key)); loop.values.append(v) }
                    put("index", .int(k + 1)); put("index0", .int(k))
                    put("revindex", .int(n - k)); put("revindex0", .int(n - k - 1))
                    put("first", .bool(k == 0)); put("last", .bool(k == n - 1)); put("length", .int(n))
                    put("depth", .int(1)); put("depth0", .int(0))
                    put("previtem", k > 0 ? items[k - 1] : .undefined("there is no previous item"))
                    put("nextitem", k + 1 < n ? items[k + 1] : .undefined("there is no next item"))
                    let ci = k
                    put("cycle", .function(JinjaFunction(name: "cycle") { (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
                        if a.positional.isEmpty { throw .runtime("no items for cycling given") }
                        return a.positional[ci % a.positional.count]
                    }))
                    f.vars["loop"] = .dict(loop)
                    let flow = try run(b, f, &out)
                    if flow == .breakLoop { break }
                }
            case .set(let target, let e, let pos):
                try assignSet(target, try eval(e, frame), frame, pos)
            case .setBlock(let target, let b, let filters, let pos):
                var captured = ""
                _ = try run(b, frame, &captured)
                try assignSet(target, try applyFilters(.string(captured), filters, frame), frame, pos)
            case .macro(let name, let params, let b):
                frame.vars[name] = .function(makeMacro(name, params, b, frame))
            case .filterBlock(let filters, let b):
                var captured = ""
                let flow = try run(b, frame, &captured)
                out += try applyFilters(.string(captured), filters, frame).str
                if flow != .normal { return flow }
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
            if out.utf8.count > Self.maxOutput { throw .runtime("the rendered text exceeds \(Self.maxOutput >> 20) MiB") }
        }
        return .normal
    }

    func applyFilters(_ v: JinjaValue, _ filters: [JinjaExpr], _ frame: JinjaFrame) throws(JinjaError) -> JinjaValue {
        var v = v
        for f in filters {
            guard case .filter(_, let name, let args, let kwargs) = f.kind else { continue }
            let a = try arguments(args, kwargs, frame)
            v = try located(f.pos) { () throws(JinjaError) in try JinjaBuiltins.filter(name, v, a, self) }
        }
        return v
    }

    func assign(_ targets: [String], _ v: JinjaValue, _ frame: JinjaFrame, _ pos: JinjaPos) throws(JinjaError) {
        if targets.count == 1 { frame.vars[targets[0]] = v; return }
        let items = try located(pos) { () throws(JinjaError) in
            switch v {
            case .list, .tuple, .string, .dict: return try JinjaBuiltins.iterate(v)
            default: throw .runtime("cannot unpack non-iterable \(v.typeName) object")
            }
        }
        guard items.count == targets.count else {
            throw JinjaError(.runtime, items.count > targets.count ? "too many values to unpack (expected \(targets.count))"
                                                                   : "not enough values to unpack (expected \(targets.count), got \(items.count))",
                             line: pos.line, column: pos.column)
        }
        for (t, x) in zip(targets, items) { frame.vars[t] = x }
    }

    func assignSet(_ target: JinjaSetTarget, _ v: JinjaValue, _ frame: JinjaFrame, _ pos: JinjaPos) throws(JinjaError) {
        switch target {
        case .names(let names): try assign(names, v, frame, pos)
        case .attribute(let obj, let attr):
            guard case .namespace(let ns) = frame.lookup(obj) ?? .undefined("") else {
                throw JinjaError(.runtime, "cannot assign attribute on non-namespace object", line: pos.line, column: pos.column)
            }
            if attr.hasPrefix("_") {
                throw JinjaError(.runtime, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attr)'. Please rename the attribute.", line: pos.line, column: pos.column)
            }
            ns.dict.set(.string(attr), v)
        }
    }

    func makeMacro(_ name: String, _ params: [(String, JinjaExpr?)], _ body: [JinjaStmt], _ defining: JinjaFrame) -> JinjaFunction {
        JinjaFunction(name: name) { [unowned self] (a: JinjaArgs) throws(JinjaError) -> JinjaValue in
            let f = JinjaFrame(parent: defining)
            var extra: [JinjaValue] = []
            for (k, v) in a.positional.enumerated() {
                if k < params.count { f.vars[params[k].0] = v } else { extra.append(v) }
            }
            var kwargs = JinjaDict()
            for (k, v) in a.keywords {
                if params.contains(where: { $0.0 == k }) { f.vars[k] = v } else { kwargs.set(.string(k), v) }
            }
            if !extra.isEmpty { throw .runtime("macro '\(name)' takes not more than \(params.count) argument(s)") }
            if kwargs.count > 0 { throw .runtime("macro '\(name)' takes no keyword argument '\(kwargs.keys[0].str)'") }
            for (p, d) in params where f.vars[p] == nil {
                f.vars[p] = try d.map { (e) throws(JinjaError) in try self.eval(e, f) } ?? .undefined("parameter '\(p)' was not provided")
            }
            f.vars["varargs"] = .list([]); f.vars["kwargs"] = .dict(JinjaDict())
            self.callDepth += 1
            defer { self.callDepth -= 1 }
            if self.callDepth > Self.maxCallDepth { throw .runtime("macro calls nest deeper than \(Self.maxCallDepth)") }
            var out = ""
            _ = try self.run(body, f, &out)
            return .string(out)
        }
    }

    func arguments(_ args: [JinjaExpr], _ kwargs: [(String, JinjaExpr)], _ frame: JinjaFrame) throws(JinjaError) -> JinjaArgs {
        var a = JinjaArgs()
        for e in args { a.positional.append(try eval(e, frame)) }
        for (k, e) in kwargs { a.keywords.append((k, try eval(e, frame))) }
        return a
    }

    var evalDepth = 0
    /// Bound on expression nesting at run time (left-deep chains such as `a + b + ...` or `x.a.a...` are
    /// not nested in the parser but are in evaluation).
    static let maxEvalDepth = 200

    func eval(_ e: JinjaExpr, _ frame: JinjaFrame) throws(JinjaError) -> JinjaValue {
        evalDepth += 1
        defer { evalDepth -= 1 }
        if evalDepth > Self.maxEvalDepth {
            throw JinjaError(.runtime, "the expression is nested too deeply", line: e.pos.line, column: e.pos.column)
        }
        return try evalNode(e, frame)
    }

    func evalNode(_ e: JinjaExpr, _ frame: JinjaFrame) throws(JinjaError) -> JinjaValue {
        switch e.kind {
        case .literal(let v): return v
        case .name(let n): return frame.lookup(n) ?? .undefined("'\(n)' is undefined")
        case .list(let xs):
            var out: [JinjaValue] = []
            for x in xs { out.append(try eval(x, frame)) }
            return .list(out)
        case .tuple(let xs):
            var out: [JinjaValue] = []
            for x in xs { out.append(try eval(x, frame)) }
            return .tuple(out)
        case .dict(let pairs):
            var d = JinjaDict()
            for (k, v) in pairs {
                let key = try eval(k, frame)
                switch key {
                case .list, .dict, .namespace, .undefined:
                    throw JinjaError(.runtime, "unhashable type: '\(key.typeName)'", line: k.pos.line, column: k.pos.column)
                default: d.set(key, try eval(v, frame))
                }
            }
            return .dict(d)
        case .attr(let o, let name):
            let v = try eval(o, frame)
            return try located(e.pos) { () throws(JinjaError) in try JinjaBuiltins.attribute(v, name) }
        case .item(let o, let k):
            let v = try eval(o, frame), key = try eval(k, frame)
            return try located(e.pos) { () throws(JinjaError) in try JinjaBuiltins.item(v, key) }
        case .slice(let o, let a, let b, let c):
            let v = try eval(o, frame)
            let parts = [a, b, c]
            var bounds: [Int?] = []
            for p in parts {
                guard let p else { bounds.append(nil); continue }
                let x = try eval(p, frame)
                if case .none = x { bounds.append(nil); continue }
                guard let i = x.integer else {
                    throw JinjaError(.runtime, "slice indices must be integers or None", line: p.pos.line, column: p.pos.column)
                }
                bounds.append(i)
            }
            return try located(e.pos) { () throws(JinjaError) in try JinjaBuiltins.slice(v, bounds[0], bounds[1], bounds[2]) }
        case .call(let f, let args, let kwargs):
            let callee = try eval(f, frame)
            let a = try arguments(args, kwargs, frame)
            return try located(e.pos) { () throws(JinjaError) in
                switch callee {
                case .function(let fn): return try fn.call(a)
                case .undefined(let m): throw .runtime(m)
                default: throw .runtime("'\(callee.typeName)' object is not callable")
                }
            }
        case .filter(let o, let name, let args, let kwargs):
            // `default` must see an undefined value without failing on it
            let v = try eval(o, frame)
            let a = try arguments(args, kwargs, frame)
            return try located(e.pos) { () throws(JinjaError) in try JinjaBuiltins.filter(name, v, a, self) }
        case .test(let o, let name, let args, let negated):
            let v = try eval(o, frame)
            var a = JinjaArgs()
            for x in args { a.positional.append(try eval(x, frame)) }
            let r = try located(e.pos) { () throws(JinjaError) in try JinjaBuiltins.test(name, v, a, self) }
            return .bool(r != negated)
        case .not(let x): return .bool(!(try eval(x, frame).truthy))
        case .neg(let x):
            let v = try eval(x, frame)
            return try located(e.pos) { () throws(JinjaError) in try JinjaBuiltins.binary("-", .int(0), v, unaryMinus: true) }
        case .pos(let x):
            let v = try eval(x, frame)
            return try located(e.pos) { () throws(JinjaError) in
                guard v.number != nil else { throw .runtime(v.isUndefined ? undefinedMessage(v) : "bad operand type for unary +: '\(v.typeName)'") }
                if case .bool(let b) = v { return .int(b ? 1 : 0) }
                return v
            }
        case .and(let l, let r):
            let a = try eval(l, frame)
            return a.truthy ? try eval(r, frame) : a
        case .or(let l, let r):
            let a = try eval(l, frame)
            return a.truthy ? a : try eval(r, frame)
        case .binary(let op, let l, let r):
            let a = try eval(l, frame), b = try eval(r, frame)
            return try located(e.pos) { () throws(JinjaError) in try JinjaBuiltins.binary(op, a, b) }
        case .cond(let then, let test, let other):
            if try eval(test, frame).truthy { return try eval(then, frame) }
            if let other { return try eval(other, frame) }
            return .undefined("the inline if-expression on line \(e.pos.line) evaluated to false and no else section was defined.")
        }
    }
}

func undefinedMessage(_ v: JinjaValue) -> String {
    if case .undefined(let m) = v { return m }
    return ""
}
