// Normalizers: UTF-8 text -> UTF-8 text, applied to each stretch of text between added tokens.
// Reference: huggingface/tokenizers tokenizers/src/normalizers/*.rs (bert.rs, unicode.rs, strip.rs,
// prepend.rs, replace.rs) and NormalizedString (tokenizer/normalizer.rs): lowercase is per character
// (Rust `char::to_lowercase`, no final-sigma rule), Prepend and prepend leave empty text alone.
import Foundation

enum NormalizerStep: Sendable {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    /// Removes non-spacing marks (Mn); the StripAccents normalizer does not decompose first.
    case stripAccents
    case bert(cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case prepend([UInt8])
    case replace(pattern: [UInt8], content: [UInt8])
    case strip(left: Bool, right: Bool)
}

struct Normalizer: Sendable {
    let steps: [NormalizerStep]

    func apply(_ text: [UInt8]) -> [UInt8] {
        var t = text
        for step in steps { t = Self.apply(step, t) }
        return t
    }

    static func apply(_ step: NormalizerStep, _ t: [UInt8]) -> [UInt8] {
        switch step {
        case .nfc: return unicodeForm(t) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return unicodeForm(t) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return unicodeForm(t) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return unicodeForm(t) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase: return lowercase(t)
        case .stripAccents: return filter(t) { CharClass.of($0) & CharClass.mark == 0 }
        case .bert(let clean, let chinese, let strip, let lower):
            var r = t
            if clean {
                // Drop NUL, U+FFFD and "other" (C*) characters except \t \n \r; whitespace becomes ' '.
                r = mapScalars(r) { v in
                    if v == 0 || v == 0xFFFD { return nil }
                    if v == 9 || v == 10 || v == 13 { return 0x20 }
                    let c = CharClass.of(v)
                    if c & CharClass.other != 0 { return nil }
                    return c & CharClass.space != 0 ? 0x20 : v
                }
            }
            if chinese {
                var out: [UInt8] = []
                out.reserveCapacity(r.count + 16)
                for v in scalars(r) {
                    if isChineseChar(v) { out.append(0x20); appendUTF8(v, to: &out); out.append(0x20) }
                    else { appendUTF8(v, to: &out) }
                }
                r = out
            }
            if strip {
                r = unicodeForm(r) { $0.decomposedStringWithCanonicalMapping }
                r = filter(r) { CharClass.of($0) & CharClass.mark == 0 }
            }
            if lower { r = lowercase(r) }
            return r
        case .prepend(let p):
            return t.isEmpty ? t : p + t
        case .replace(let pattern, let content):
            return replaceAll(t, pattern, content)
        case .strip(let left, let right):
            let s = scalars(t)
            var lo = 0, hi = s.count
            if left { while lo < hi && CharClass.of(s[lo]) & CharClass.space != 0 { lo += 1 } }
            if right { while hi > lo && CharClass.of(s[hi - 1]) & CharClass.space != 0 { hi -= 1 } }
            var out: [UInt8] = []
            for v in s[lo..<hi] { appendUTF8(v, to: &out) }
            return out
        }
    }

    static func isChineseChar(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    static func unicodeForm(_ t: [UInt8], _ f: (NSString) -> String) -> [UInt8] {
        if t.allSatisfy({ $0 < 0x80 }) { return t }  // ASCII is invariant under every normal form
        let s = String(decoding: t, as: UTF8.self)
        return Array(f(s as NSString).utf8)
    }

    static func lowercase(_ t: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(t.count)
        t.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let c = b[i]
                if c < 0x80 {
                    out.append(c >= 65 && c <= 90 ? c + 32 : c); i += 1; continue
                }
                let (v, n) = decodeUTF8(b.baseAddress!, i)
                i += n
                if let s = Unicode.Scalar(v) {
                    for u in s.properties.lowercaseMapping.unicodeScalars { appendUTF8(u.value, to: &out) }
                } else {
                    appendUTF8(v, to: &out)
                }
            }
        }
        return out
    }

    static func filter(_ t: [UInt8], _ keep: (UInt32) -> Bool) -> [UInt8] {
        mapScalars(t) { keep($0) ? $0 : nil }
    }

    static func mapScalars(_ t: [UInt8], _ f: (UInt32) -> UInt32?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(t.count)
        t.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let (v, n) = decodeUTF8(b.baseAddress!, i)
                i += n
                if let w = f(v) { appendUTF8(w, to: &out) }
            }
        }
        return out
    }

    static func replaceAll(_ t: [UInt8], _ pattern: [UInt8], _ content: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty else { return t }
        var matches: [ByteSpan] = []
        t.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { Scanners.literal(base, 0, b.count, pattern, &matches) }
        }
        if matches.isEmpty { return t }
        var out: [UInt8] = []
        out.reserveCapacity(t.count + matches.count * max(0, content.count - pattern.count))
        var prev = 0
        for m in matches {
            out.append(contentsOf: t[prev..<Int(m.start)])
            out.append(contentsOf: content)
            prev = Int(m.end)
        }
        out.append(contentsOf: t[prev...])
        return out
    }
}
