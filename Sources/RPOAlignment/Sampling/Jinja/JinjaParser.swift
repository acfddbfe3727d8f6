// The Jinja parser: tokens to a tree of statements and expressions, with jinja2's grammar and precedence
// (loosest first): `x if c else y`, or, and, not, comparisons (== != < <= > >= in, not in), + -, ~,
// * / // %, **, unary - +, then postfix (.attr, [item], [a:b:c], call), filters (|f) and tests (is t).
// Filters bind tighter than arithmetic: `'a' + x | trim` is `'a' + (x | trim)`.
// Statements: if/elif/else, for (with else, an `if` filter, loop.*), set (name, tuple, ns.attr, block
// set), macro, call-free macro calls, break/continue (loopcontrols), filter blocks, and transformers'
// {% generation %} block (rendered as its body).
// Reference: jinja2 3.1.6 parser.py.
import Foundation
import RPOCore

struct JinjaPos { let line: Int; let column: Int }

indirect enum JinjaExprKind {
    case literal(JinjaValue)
    case name(String)
    case list([JinjaExpr])
    case tuple([JinjaExpr])
    case dict([(JinjaExpr, JinjaExpr)])
    case attr(JinjaExpr, String)
    case item(JinjaExpr, JinjaExpr)
    case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?)
    case call(JinjaExpr, [JinjaExpr], [(String, JinjaExpr)])
    case filter(JinjaExpr, String, [JinjaExpr], [(String, JinjaExpr)])
    case test(JinjaExpr, String, [JinjaExpr], negated: Bool)
    case not(JinjaExpr)
    case neg(JinjaExpr)
    case pos(JinjaExpr)
    case binary(String, JinjaExpr, JinjaExpr)
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    case cond(then: JinjaExpr, test: JinjaExpr, otherwise: JinjaExpr?)
}

struct JinjaExpr {
    let kind: JinjaExprKind
    let pos: JinjaPos
}

enum JinjaSetTarget {
    case names([String])
    case attribute(String, String)
}

indirect enum JinjaStmt {
    case text(String)
    case output(JinjaExpr)
    case ifs([(JinjaExpr, [JinjaStmt])], otherwise: [JinjaStmt])
    case forLoop(targets: [String], iter: JinjaExpr, filter: JinjaExpr?, body: [JinjaStmt], otherwise: [JinjaStmt], pos: JinjaPos)
    case set(JinjaSetTarget, JinjaExpr, pos: JinjaPos)
    case setBlock(JinjaSetTarget, [JinjaStmt], filters: [JinjaExpr], pos: JinjaPos)
    case macro(name: String, params: [(String, JinjaExpr?)], body: [JinjaStmt])
    case filterBlock(filters: [JinjaExpr], body: [JinjaStmt])
    case breakLoop
    case continueLoop
}

struct JinjaParser {
    let tokens: [JinjaToken]
    var i = 0
    var depth = 0
    /// Nesting bound (statements, brackets, unary operators), so no template can exhaust the stack.
    static let maxDepth = 64

    static func parse(_ template: String) throws(JinjaError) -> [JinjaStmt] {
        var p = JinjaParser(tokens: try JinjaLexer.tokenize(template))
        let (body, end) = try p.statements(until: [])
        if let end { throw p.fail("unexpected '\(end)'") }
        return body
    }

    var current: JinjaToken { tokens[i] }
    var here: JinjaPos { JinjaPos(line: current.line, column: current.column) }

    func fail(_ m: String, at t: JinjaToken? = nil) -> JinjaError {
        let t = t ?? current
        return JinjaError(.syntax, m, line: t.line, column: t.column)
    }

    func describe(_ k: JinjaToken.Kind) -> String {
        switch k {
        case .text: return "text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string: return "a string"
        case .int, .double: return "a number"
        case .op(let o): return "'\(o)'"
        case .end: return "the end of the template"
        }
    }

    mutating func advance() { if i < tokens.count - 1 { i += 1 } }

    func isOp(_ o: String) -> Bool { if case .op(let x) = current.kind { return x == o } else { return false } }
    func isName(_ n: String) -> Bool { if case .name(let x) = current.kind { return x == n } else { return false } }

    mutating func expectOp(_ o: String) throws(JinjaError) {
        guard isOp(o) else { throw fail("expected '\(o)', got \(describe(current.kind))") }
        advance()
    }

    mutating func expectName() throws(JinjaError) -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, got \(describe(current.kind))") }
        advance()
        return n
    }

    mutating func expectBlockEnd() throws(JinjaError) {
        guard case .blockEnd = current.kind else { throw fail("expected '%}', got \(describe(current.kind))") }
        advance()
    }

    mutating func enter() throws(JinjaError) {
        depth += 1
        if depth > Self.maxDepth { throw fail("the template is nested too deeply") }
    }

    // MARK: statements

    /// Statements up to one of the `until` tags (returned, its name consumed, the rest of its tag not), or the
    /// end of the template (nil; an error if `until` is not empty).
    mutating func statements(until: Set<String>) throws(JinjaError) -> ([JinjaStmt], String?) {
        try enter()
        defer { depth -= 1 }
        var out: [JinjaStmt] = []
        while true {
            let t = current
            switch t.kind {
            case .end:
                if !until.isEmpty {
                    throw fail("unexpected end of template: expected " + until.sorted().map { "'\($0)'" }.joined(separator: " or "))
                }
                return (out, nil)
            case .text(let s):
                out.append(.text(s)); advance()
            case .variableBegin:
                advance()
                let e = try tupleExpression()
                guard case .variableEnd = current.kind else { throw fail("expected '}}', got \(describe(current.kind))") }
                advance()
                out.append(.output(e))
            case .blockBegin:
                advance()
                guard case .name(let tag) = current.kind else { throw fail("expected a statement name, got \(describe(current.kind))") }
                if until.contains(tag) { advance(); return (out, tag) }
                out.append(try statement(tag))
            default:
                throw fail("unexpected \(describe(t.kind))")
            }
        }
    }

    mutating func statement(_ tag: String) throws(JinjaError) -> JinjaStmt {
        let start = current
        let pos = here
        advance()
        switch tag {
        case "if":
            var branches: [(JinjaExpr, [JinjaStmt])] = []
            var test = try expression()
            while true {
                try expectBlockEnd()
                let (body, end) = try statements(until: ["elif", "else", "endif"])
                branches.append((test, body))
                if end == "elif" { test = try expression(); continue }
                if end == "else" {
                    try expectBlockEnd()
                    let (other, _) = try statements(until: ["endif"])
                    try expectBlockEnd()
                    return .ifs(branches, otherwise: other)
                }
                try expectBlockEnd()
                return .ifs(branches, otherwise: [])
            }
        case "for":
            var targets = [try expectName()]
            while isOp(",") {
                advance()
                if isName("in") { break }
                targets.append(try expectName())
            }
            guard isName("in") else { throw fail("expected 'in', got \(describe(current.kind))") }
            advance()
            let iter = try tupleExpression(conditional: false)
            var filter: JinjaExpr? = nil
            if isName("if") { advance(); filter = try expression() }
            if isName("recursive") { throw fail("recursive loops are not supported") }
            try expectBlockEnd()
            let (body, end) = try statements(until: ["else", "endfor"])
            var other: [JinjaStmt] = []
            if end == "else" {
                try expectBlockEnd()
                (other, _) = try statements(until: ["endfor"])
            }
            try expectBlockEnd()
            return .forLoop(targets: targets, iter: iter, filter: filter, body: body, otherwise: other, pos: pos)
        case "set":
            let first = try expectName()
            var target: JinjaSetTarget = .names([first])
            if isOp(".") {
                advance()
                target = .attribute(first, try expectName())
            } else if isOp(",") {
                var names = [first]
                while isOp(",") {
                    advance()
                    if isOp("=") { break }
                    names.append(try expectName())
                }
                target = .names(names)
            }
            if isOp("=") {
                advance()
                let value = try tupleExpression()
                try expectBlockEnd()
                return .set(target, value, pos: pos)
            }
            // block set: {% set x %}...{% endset %}, optionally filtered
            var filters: [JinjaExpr] = []
            while isOp("|") { filters.append(try filterCall(on: JinjaExpr(kind: .literal(.none), pos: here))) }
            try expectBlockEnd()
            let (body, _) = try statements(until: ["endset"])
            try expectBlockEnd()
            return .setBlock(target, body, filters: filters, pos: pos)
        case "macro":
            let name = try expectName()
            try expectOp("(")
            var params: [(String, JinjaExpr?)] = []
            while !isOp(")") {
                if !params.isEmpty { try expectOp(",") }
                if isOp(")") { break }
                let p = try expectName()
                var d: JinjaExpr? = nil
                if isOp("=") { advance(); d = try expression() }
                else if params.contains(where: { $0.1 != nil }) { throw fail("non-default argument follows default argument") }
                params.append((p, d))
            }
            advance()
            try expectBlockEnd()
            let (body, _) = try statements(until: ["endmacro"])
            if case .name = current.kind { advance() }  // {% endmacro name %}
            try expectBlockEnd()
            return .macro(name: name, params: params, body: body)
        case "filter":
            var filters: [JinjaExpr] = []
            let base = JinjaExpr(kind: .literal(.none), pos: here)
            filters.append(try filterCall(on: base, leadingBar: false))
            while isOp("|") { filters.append(try filterCall(on: base)) }
            try expectBlockEnd()
            let (body, _) = try statements(until: ["endfilter"])
            try expectBlockEnd()
            return .filterBlock(filters: filters, body: body)
        case "generation":
            // transformers' AssistantTracker extension: marks assistant text, renders as its body
            try expectBlockEnd()
            let (body, _) = try statements(until: ["endgeneration"])
            try expectBlockEnd()
            return .filterBlock(filters: [], body: body)
        case "break", "continue":
            try expectBlockEnd()
            return tag == "break" ? .breakLoop : .continueLoop
        default:
            throw fail("unknown or unsupported statement '\(tag)'", at: start)
        }
    }

    // MARK: expressions

    /// An expression, or a tuple of them without parentheses (`{{ a, b }}`, `{% set x = 1, 2 %}`).
    mutating func tupleExpression(conditional: Bool = true) throws(JinjaError) -> JinjaExpr {
        let pos = here
        let first = conditional ? try expression() : try orExpr()
        guard isOp(",") else { return first }
        var items = [first]
        while isOp(",") {
            advance()
            if case .blockEnd = current.kind { break }
            if case .variableEnd = current.kind { break }
            if isName("if") || isName("recursive") { break }
            items.append(conditional ? try expression() : try orExpr())
        }
        return JinjaExpr(kind: .tuple(items), pos: pos)
    }

    mutating func expression() throws(JinjaError) -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        let pos = here
        let e = try orExpr()
        if isName("if") {
            advance()
            let test = try orExpr()
            var other: JinjaExpr? = nil
            if isName("else") { advance(); other = try expression() }
            return JinjaExpr(kind: .cond(then: e, test: test, otherwise: other), pos: pos)
        }
        return e
    }

    mutating func orExpr() throws(JinjaError) -> JinjaExpr {
        var l = try andExpr()
        while isName("or") { let p = here; advance(); l = JinjaExpr(kind: .or(l, try andExpr()), pos: p) }
        return l
    }

    mutating func andExpr() throws(JinjaError) -> JinjaExpr {
        var l = try notExpr()
        while isName("and") { let p = here; advance(); l = JinjaExpr(kind: .and(l, try notExpr()), pos: p) }
        return l
    }

    mutating func notExpr() throws(JinjaError) -> JinjaExpr {
        if isName("not") {
            try enter()
            defer { depth -= 1 }
            let p = here
            advance()
            return JinjaExpr(kind: .not(try notExpr()), pos: p)
        }
        return try compare()
    }

    mutating func compare() throws(JinjaError) -> JinjaExpr {
        var l = try math1()
        var last: JinjaExpr? = nil  // the right operand of the previous comparison of this chain
        while true {
            let p = here
            var op: String
            if case .op(let o) = current.kind, ["==", "!=", "<", ">", "<=", ">="].contains(o) { op = o; advance() }
            else if isName("in") { op = "in"; advance() }
            else if isName("not"), i + 1 < tokens.count, case .name("in") = tokens[i + 1].kind { op = "not in"; advance(); advance() }
            else { return l }
            let r = try math1()
            // jinja2 chains comparisons (a < b < c is a < b and b < c)
            if let prev = last {
                l = JinjaExpr(kind: .and(l, JinjaExpr(kind: .binary(op, prev, r), pos: p)), pos: p)
            } else {
                l = JinjaExpr(kind: .binary(op, l, r), pos: p)
            }
            last = r
        }
    }

    mutating func math1() throws(JinjaError) -> JinjaExpr {
        var l = try concat()
        while isOp("+") || isOp("-") {
            let p = here
            guard case .op(let o) = current.kind else { break }
            advance()
            l = JinjaExpr(kind: .binary(o, l, try concat()), pos: p)
        }
        return l
    }

    mutating func concat() throws(JinjaError) -> JinjaExpr {
        var l = try math2()
        while isOp("~") { let p = here; advance(); l = JinjaExpr(kind: .binary("~", l, try math2()), pos: p) }
        return l
    }

    mutating func math2() throws(JinjaError) -> JinjaExpr {
        var l = try power()
        while isOp("*") || isOp("/") || isOp("//") || isOp("%") {
            let p = here
            guard case .op(let o) = current.kind else { break }
            advance()
            l = JinjaExpr(kind: .binary(o, l, try power()), pos: p)
        }
        return l
    }

    mutating func power() throws(JinjaError) -> JinjaExpr {
        var l = try unary()
        while isOp("**") { let p = here; advance(); l = JinjaExpr(kind: .binary("**", l, try unary()), pos: p) }
        return l
    }

    mutating func unary(withFilter: Bool = true) throws(JinjaError) -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        let p = here
        var node: JinjaExpr
        if isOp("-") { advance(); node = JinjaExpr(kind: .neg(try unary(withFilter: false)), pos: p) }
        else if isOp("+") { advance(); node = JinjaExpr(kind: .pos(try unary(withFilter: false)), pos: p) }
        else { node = try primary() }
        node = try postfix(node)
        if withFilter { node = try filterExpr(node) }
        return node
    }

    mutating func primary() throws(JinjaError) -> JinjaExpr {
        let p = here
        switch current.kind {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return JinjaExpr(kind: .literal(.bool(true)), pos: p)
            case "false", "False": return JinjaExpr(kind: .literal(.bool(false)), pos: p)
            case "none", "None": return JinjaExpr(kind: .literal(.none), pos: p)
            default: return JinjaExpr(kind: .name(n), pos: p)
            }
        case .string(var s):
            advance()
            while case .string(let more) = current.kind { s += more; advance() }
            return JinjaExpr(kind: .literal(.string(s)), pos: p)
        case .int(let v): advance(); return JinjaExpr(kind: .literal(.int(v)), pos: p)
        case .double(let v): advance(); return JinjaExpr(kind: .literal(.double(v)), pos: p)
        case .op("("):
            advance()
            if isOp(")") { advance(); return JinjaExpr(kind: .tuple([]), pos: p) }
            let first = try expression()
            if isOp(")") { advance(); return first }
            var items = [first]
            while isOp(",") {
                advance()
                if isOp(")") { break }
                items.append(try expression())
            }
            try expectOp(")")
            return JinjaExpr(kind: .tuple(items), pos: p)
        case .op("["):
            advance()
            var items: [JinjaExpr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(","); if isOp("]") { break } }
                items.append(try expression())
            }
            advance()
            return JinjaExpr(kind: .list(items), pos: p)
        case .op("{"):
            advance()
            var items: [(JinjaExpr, JinjaExpr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(","); if isOp("}") { break } }
                let k = try expression()
                try expectOp(":")
                items.append((k, try expression()))
            }
            advance()
            return JinjaExpr(kind: .dict(items), pos: p)
        default:
            throw fail("unexpected \(describe(current.kind))")
        }
    }

    mutating func postfix(_ base: JinjaExpr) throws(JinjaError) -> JinjaExpr {
        var node = base
        while true {
            let p = here
            if isOp(".") {
                advance()
                switch current.kind {
                case .name(let n): advance(); node = JinjaExpr(kind: .attr(node, n), pos: p)
                case .int(let k): advance(); node = JinjaExpr(kind: .item(node, JinjaExpr(kind: .literal(.int(k)), pos: p)), pos: p)
                default: throw fail("expected an attribute name after '.', got \(describe(current.kind))")
                }
            } else if isOp("[") {
                advance()
                node = try subscriptExpr(node, p)
            } else if isOp("(") {
                node = try call(node)
            } else {
                return node
            }
        }
    }

    mutating func subscriptExpr(_ base: JinjaExpr, _ p: JinjaPos) throws(JinjaError) -> JinjaExpr {
        var parts: [JinjaExpr?] = [nil]
        var colons = 0
        while !isOp("]") {
            if isOp(":") {
                advance(); colons += 1; parts.append(nil)
                if colons > 2 { throw fail("too many ':' in a slice") }
            } else {
                if parts[parts.count - 1] != nil { throw fail("expected ']' or ':', got \(describe(current.kind))") }
                parts[parts.count - 1] = try expression()
            }
        }
        advance()
        if colons == 0 {
            guard let k = parts[0] else { throw fail("empty subscript") }
            return JinjaExpr(kind: .item(base, k), pos: p)
        }
        while parts.count < 3 { parts.append(nil) }
        return JinjaExpr(kind: .slice(base, parts[0], parts[1], parts[2]), pos: p)
    }

    mutating func callArguments() throws(JinjaError) -> ([JinjaExpr], [(String, JinjaExpr)]) {
        try expectOp("(")
        var args: [JinjaExpr] = [], kwargs: [(String, JinjaExpr)] = []
        while !isOp(")") {
            if !(args.isEmpty && kwargs.isEmpty) { try expectOp(","); if isOp(")") { break } }
            if case .name(let n) = current.kind, i + 1 < tokens.count, case .op("=") = tokens[i + 1].kind {
                advance(); advance()
                kwargs.append((n, try expression()))
            } else {
                if !kwargs.isEmpty { throw fail("a positional argument follows keyword arguments") }
                args.append(try expression())
            }
        }
        advance()
        return (args, kwargs)
    }

    mutating func call(_ f: JinjaExpr) throws(JinjaError) -> JinjaExpr {
        // errors of a call point at the callee (`raise_exception(...)` at its name)
        let (args, kwargs) = try callArguments()
        return JinjaExpr(kind: .call(f, args, kwargs), pos: f.pos)
    }

    mutating func filterCall(on node: JinjaExpr, leadingBar: Bool = true) throws(JinjaError) -> JinjaExpr {
        if leadingBar { try expectOp("|") }
        let t = current
        var name = try expectName()
        while isOp(".") { advance(); name += "." + (try expectName()) }
        guard JinjaBuiltins.filterNames.contains(name) else { throw fail("no filter named '\(name)'", at: t) }
        var args: [JinjaExpr] = [], kwargs: [(String, JinjaExpr)] = []
        if isOp("(") { (args, kwargs) = try callArguments() }
        return JinjaExpr(kind: .filter(node, name, args, kwargs), pos: JinjaPos(line: t.line, column: t.column))
    }

    mutating func filterExpr(_ base: JinjaExpr) throws(JinjaError) -> JinjaExpr {
        var node = base
        while true {
            if isOp("|") {
                node = try filterCall(on: node)
            } else if isName("is") {
                let p = here
                advance()
                var negated = false
                if isName("not") { advance(); negated = true }
                let t = current
                var name = try expectName()
                while isOp(".") { advance(); name += "." + (try expectName()) }
                guard JinjaBuiltins.testNames.contains(name) else { throw fail("no test named '\(name)'", at: t) }
                var args: [JinjaExpr] = []
                if isOp("(") {
                    let (a, kw) = try callArguments()
                    if !kw.isEmpty { throw fail("tests take no keyword arguments here") }
                    args = a
                } else {
                    var takesArgument = false
                    switch current.kind {
                    case .name(let n): takesArgument = !["else", "or", "and"].contains(n)
                    case .string, .int, .double, .op("("), .op("["), .op("{"): takesArgument = true
                    default: break
                    }
                    if takesArgument {
                        if isName("is") { throw fail("you cannot chain multiple tests with is") }
                        args = [try postfix(try primary())]
                    }
                }
                node = JinjaExpr(kind: .test(node, name, args, negated: negated), pos: p)
            } else if isOp("(") {
                node = try call(node)
            } else {
                return node
            }
        }
    }
}
