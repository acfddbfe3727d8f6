// Decoders: token strings -> text, each stage mapping the list of token strings to a new list
// (HF `decode_chain`), the results joined at the end.
// Reference: huggingface/tokenizers tokenizers/src/decoders/*.rs and pre_tokenizers/{byte_level,metaspace}.rs.
import Foundation

enum DecoderStep: Sendable {
    case byteLevel
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(pattern: String, content: String)
    case wordPiece(prefix: String, cleanup: Bool)
    case bpe(suffix: String)
}

struct TokenDecoder: Sendable {
    let steps: [DecoderStep]

    func decode(_ tokens: [String]) -> String {
        var t = tokens
        for step in steps { t = Self.chain(step, t) }
        return t.joined()
    }

    static func chain(_ step: DecoderStep, _ tokens: [String]) -> [String] {
        switch step {
        case .byteLevel:
            // Tokens made only of alphabet characters become their bytes; others pass as UTF-8.
            var bytes: [UInt8] = []
            for t in tokens {
                if let b = ByteLevelAlphabet.decode(t) { bytes.append(contentsOf: b) } else { bytes.append(contentsOf: t.utf8) }
            }
            return [String(decoding: bytes, as: UTF8.self)]  // invalid UTF-8 -> U+FFFD, like from_utf8_lossy
        case .metaspace(let rep, let scheme):
            return tokens.enumerated().map { i, t in
                var s = String.UnicodeScalarView()
                for c in t.unicodeScalars {
                    if c == rep { if !(i == 0 && scheme != .never) { s.append(" ") } } else { s.append(c) }
                }
                return String(s)
            }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) { out.append(s) }
                else { for _ in pending { out.append("\u{FFFD}") } }
                pending.removeAll()
            }
            for t in tokens {
                let u = Array(t.utf8)
                if u.count == 6 && t.hasPrefix("<0x") && t.hasSuffix(">"),
                   let b = UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { t in
                let chars = Array(t.unicodeScalars)
                var lo = 0
                for i in 0..<min(start, chars.count) { if chars[i] == content { lo = i + 1 } else { break } }
                var hi = chars.count
                for i in 0..<stop {
                    let idx = chars.count - i - 1
                    if idx >= 0 && chars[idx] == content { hi = idx } else { break }
                }
                var s = String.UnicodeScalarView()
                if lo < hi { s.append(contentsOf: chars[lo..<hi]) }
                return String(s)
            }
        case .replace(let pattern, let content):
            return tokens.map { String(decoding: Normalizer.replaceAll(Array($0.utf8), Array(pattern.utf8), Array(content.utf8)), as: UTF8.self) }
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { i, t in
                var s = t
                if i != 0 { s = s.hasPrefix(prefix) ? String(s.dropFirst(prefix.count)) : " " + s }
                return cleanup ? wordPieceCleanup(s) : s
            }
        case .bpe(let suffix):
            return tokens.enumerated().map { i, t in
                String(decoding: Normalizer.replaceAll(Array(t.utf8), Array(suffix.utf8),
                                                       Array((i == tokens.count - 1 ? "" : " ").utf8)), as: UTF8.self)
            }
        }
    }

    /// HF `decoders::wordpiece::cleanup` (also transformers' `clean_up_tokenization`).
    static func wordPieceCleanup(_ s: String) -> String {
        var b = Array(s.utf8)
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            b = Normalizer.replaceAll(b, Array(from.utf8), Array(to.utf8))
        }
        return String(decoding: b, as: UTF8.self)
    }
}
