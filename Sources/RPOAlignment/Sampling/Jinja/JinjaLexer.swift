// The Jinja lexer, with transformers' environment: trim_blocks=True (the first newline after a block or
// comment tag is dropped), lstrip_blocks=True (spaces and tabs before a block or comment tag on its line are
// dropped), no keep_trailing_newline (one final newline of the template is dropped), and the `-`/`+`
// whitespace modifiers. Line endings in the template (\r\n, \r) become \n first, as jinja2 does.
// Reference: jinja2 3.1.6 lexer.py (Lexer.tokeniter and its rules).
import Foundation
import RPOCore

struct JinjaToken {
    enum Kind: Equatable {
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case int(Int)
        case double(Double)
        case op(String)
        case end
    }
    let kind: Kind
    let line: Int
    let column: Int
}

struct JinjaLexer {
    let src: [Unicode.Scalar]
    var pos = 0
    var tokens: [JinjaToken] = []
    // line/column of `pos`, advanced lazily
    var lineAt = 1, colAt = 1, counted = 0

    init(_ template: String) {
        var s: [Unicode.Scalar] = []
        s.reserveCapacity(template.unicodeScalars.count)
        var it = template.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = it.next()
        while let c = pending {
            pending = it.next()
            if c == "\r" {
                s.append("\n")
                if pending == "\n" { pending = it.next() }
            } else {
                s.append(c)
            }
        }
        if s.last == "\n" { s.removeLast() }
        src = s
    }

    mutating func position(_ p: Int) -> (Int, Int) {
        if p < counted { lineAt = 1; colAt = 1; counted = 0 }
        while counted < p {
            if src[counted] == "\n" { lineAt += 1; colAt = 1 } else { colAt += 1 }
            counted += 1
        }
        return (lineAt, colAt)
    }

    mutating func emit(_ k: JinjaToken.Kind, at p: Int) {
        let (l, c) = position(p)
        tokens.append(JinjaToken(kind: k, line: l, column: c))
    }

    mutating func fail(_ m: String, at p: Int) -> JinjaError {
        let (l, c) = position(p)
        return JinjaError(.syntax, m, line: l, column: c)
    }

    func at(_ p: Int, _ s: String) -> Bool {
        var i = p
        for c in s.unicodeScalars {
            if i >= src.count || src[i] != c { return false }
            i += 1
        }
        return true
    }

    static func tokenize(_ template: String) throws(JinjaError) -> [JinjaToken] {
        var lx = JinjaLexer(template)
        try lx.run()
        return lx.tokens
    }

    mutating func run() throws(JinjaError) {
        var lineStarting = true
        while pos < src.count {
            // the next tag start
            var start = pos
            var tag: String? = nil
            while start + 1 < src.count {
                if src[start] == "{" {
                    let n = src[start + 1]
                    if n == "{" || n == "%" || n == "#" { tag = String(n); break }
                }
                start += 1
            }
            guard let tag else {
                emit(.text(String(String.UnicodeScalarView(src[pos...]))), at: pos)
                pos = src.count
                break
            }
            var text = Array(src[pos..<start])
            let signPos = start + 2
            let sign: Unicode.Scalar? = signPos < src.count && (src[signPos] == "-" || src[signPos] == "+") ? src[signPos] : nil
            if sign == "-" {
                while let l = text.last, pyIsSpace(l) { text.removeLast() }
            } else if sign != "+" && tag != "{" {
                // lstrip_blocks: only whitespace between the line's start and the tag
                let lpos = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
                if (lpos > 0 || lineStarting) && lpos < text.count && text[lpos...].allSatisfy(pyIsSpace) {
                    text.removeSubrange(lpos...)
                }
            }
            if !text.isEmpty { emit(.text(String(String.UnicodeScalarView(text))), at: pos) }
            pos = signPos + (sign == nil ? 0 : 1)
            switch tag {
            case "#":
                // the first "#}", with its own modifier
                var k = pos
                while k + 1 < src.count && !(src[k] == "#" && src[k + 1] == "}") { k += 1 }
                if k + 1 >= src.count { throw fail("missing end of comment tag", at: start) }
                let endSign: Unicode.Scalar? = k > pos && (src[k - 1] == "-" || src[k - 1] == "+") ? src[k - 1] : nil
                pos = k + 2
                afterTagEnd(endSign)
            case "%":
                emit(.blockBegin, at: start)
                try lexExpression(block: true)
            default:
                emit(.variableBegin, at: start)
                try lexExpression(block: false)
            }
            lineStarting = pos > 0 && src[pos - 1] == "\n"
        }
        emit(.end, at: src.count)
    }

    /// After a block or comment tag: `-` drops all following whitespace, `+` nothing, else one newline.
    mutating func afterTagEnd(_ sign: Unicode.Scalar?) {
        if sign == "-" {
            while pos < src.count && pyIsSpace(src[pos]) { pos += 1 }
        } else if sign != "+" && pos < src.count && src[pos] == "\n" {
            pos += 1
        }
    }

    static let operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                            "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"]

    mutating func lexExpression(block: Bool) throws(JinjaError) {
        var balance: [Unicode.Scalar] = []
        let open = pos - 2
        while true {
            guard pos < src.count else {
                throw fail(block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'", at: open)
            }
            if balance.isEmpty {
                if block {
                    if at(pos, "-%}") { emit(.blockEnd, at: pos); pos += 3; afterTagEnd("-"); return }
                    if at(pos, "+%}") { emit(.blockEnd, at: pos); pos += 3; return }
                    if at(pos, "%}") { emit(.blockEnd, at: pos); pos += 2; afterTagEnd(nil); return }
                } else {
                    if at(pos, "-}}") { emit(.variableEnd, at: pos); pos += 3; afterTagEnd("-"); return }
                    if at(pos, "}}") { emit(.variableEnd, at: pos); pos += 2; return }
                }
            }
            let c = src[pos]
            if pyIsSpace(c) { pos += 1; continue }
            if c.properties.numericType != nil && c.isASCII {
                try lexNumber()
                continue
            }
            if c == "_" || c.properties.isAlphabetic {
                let s = pos
                while pos < src.count && (src[pos] == "_" || src[pos].properties.isAlphabetic || (src[pos].isASCII && src[pos].properties.numericType != nil)) { pos += 1 }
                emit(.name(String(String.UnicodeScalarView(src[s..<pos]))), at: s)
                continue
            }
            if c == "'" || c == "\"" {
                try lexString(c)
                continue
            }
            guard let op = Self.operators.first(where: { at(pos, $0) }) else {
                throw fail("unexpected character \(pyStringRepr(String(c)))", at: pos)
            }
            switch op {
            case "{": balance.append("}")
            case "(": balance.append(")")
            case "[": balance.append("]")
            case "}", ")", "]":
                guard let want = balance.popLast() else { throw fail("unexpected '\(op)'", at: pos) }
                if String(want) != op { throw fail("unexpected '\(op)', expected '\(want)'", at: pos) }
            default: break
            }
            emit(.op(op), at: pos)
            pos += op.unicodeScalars.count
        }
    }

    mutating func lexNumber() throws(JinjaError) {
        let s = pos
        func digits() { while pos < src.count && ((src[pos].isASCII && src[pos].properties.numericType != nil) || (src[pos] == "_" && pos + 1 < src.count && src[pos + 1].isASCII && src[pos + 1].properties.numericType != nil)) { pos += 1 } }
        digits()
        var isFloat = false
        // a fraction needs digits after the dot (`x.0` and `1.` stay attribute access / an error)
        if pos + 1 < src.count && src[pos] == "." && src[pos + 1].isASCII && src[pos + 1].properties.numericType != nil
            && !(s > 0 && src[s - 1] == ".") {
            pos += 1; digits(); isFloat = true
        }
        if pos < src.count && (src[pos] == "e" || src[pos] == "E") {
            var q = pos + 1
            if q < src.count && (src[q] == "+" || src[q] == "-") { q += 1 }
            if q < src.count && src[q].isASCII && src[q].properties.numericType != nil {
                pos = q; digits(); isFloat = true
            }
        }
        let text = String(String.UnicodeScalarView(src[s..<pos])).replacingOccurrences(of: "_", with: "")
        if isFloat {
            guard let d = Double(text) else { throw fail("invalid number \(text)", at: s) }
            emit(.double(d), at: s)
        } else {
            guard let i = Int(text) else { throw fail("integer \(text) is out of range", at: s) }
            emit(.int(i), at: s)
        }
    }

    /// A string literal, unescaped as jinja2 does (Python's unicode-escape codec).
    mutating func lexString(_ q: Unicode.Scalar) throws(JinjaError) {
        let s = pos
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard pos < src.count else { throw fail("unexpected end of string", at: s) }
            let c = src[pos]
            if c == q { pos += 1; break }
            if c != "\\" { out.append(c); pos += 1; continue }
            guard pos + 1 < src.count else { throw fail("unexpected end of string", at: s) }
            let e = src[pos + 1]
            pos += 2
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = e.value - 48, n = 1
                while n < 3 && pos < src.count && ("0"..."7").contains(src[pos]) { v = v * 8 + src[pos].value - 48; pos += 1; n += 1 }
                guard let u = Unicode.Scalar(v) else { throw fail("invalid octal escape", at: pos) }
                out.append(u)
            case "x", "u", "U":
                let n = e == "x" ? 2 : e == "u" ? 4 : 8
                var v: UInt32 = 0
                for _ in 0..<n {
                    guard pos < src.count, let d = src[pos].isASCII ? Character(src[pos]).hexDigitValue : nil else {
                        throw fail("truncated \\\(e) escape", at: pos)
                    }
                    v = v &* 16 &+ UInt32(d); pos += 1
                }
                guard let u = Unicode.Scalar(v) else { throw fail("illegal Unicode character", at: pos) }
                out.append(u)
            default:
                // unknown escapes stay as written
                out.append("\\"); out.append(e)
            }
        }
        emit(.string(String(out)), at: s)
    }
}
