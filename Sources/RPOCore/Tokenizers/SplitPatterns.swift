// Hand-written scanners for the split regexes real tokenizers use, instead of a regex engine in the hot
// path. Each scanner reproduces the leftmost-first backtracking semantics of onig (what HF tokenizers uses)
// for its pattern, alternative by alternative; the patterns are listed in `SplitPattern.recognize`.
// A pattern that is not recognised is a load error naming it (no generic regex fallback: a silent
// difference from onig would be worse than a clear refusal).
// Reference: huggingface/tokenizers pre_tokenizers/byte_level.rs, split.rs; llama.cpp src/llama-vocab.cpp.
import Foundation

/// A span of bytes in a buffer.
struct ByteSpan: Equatable {
    var start: Int32
    var end: Int32
    init(_ s: Int, _ e: Int) { start = Int32(s); end = Int32(e) }
}

enum SplitPattern: Equatable, Sendable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2).
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (Llama-3; `maxDigits` 3) and the same with `\p{N}` (Qwen2; `maxDigits` 1).
    case llama3(maxDigits: Int)
    /// `\p{N}`: every number character on its own.
    case singleNumber
    /// `\w+|[^\w\s]+` (the Whitespace pre-tokenizer, inverted).
    case wordsAndSymbols
    /// A literal string (Split with a `String` pattern).
    case literal([UInt8])

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for a regex as written in tokenizer.json, or nil when it is not one we implement.
    static func recognize(regex: String) -> SplitPattern? {
        switch regex {
        case gpt2Regex, #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#: return .gpt2
        case llama3Regex: return .llama3(maxDigits: 3)
        case qwen2Regex: return .llama3(maxDigits: 1)
        case #"\p{N}"#: return .singleNumber
        case #"\w+|[^\w\s]+"#: return .wordsAndSymbols
        default: return nil
        }
    }

    static let recognizedDescription = "the GPT-2, Llama-3 and Qwen2 split regexes, \\p{N}, \\w+|[^\\w\\s]+, or a literal String pattern"

    /// Appends the matches of the pattern in `p[start..<end]` (valid UTF-8) to `out`, left to right.
    func findMatches(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into out: inout [ByteSpan]) {
        switch self {
        case .gpt2: Scanners.gpt2(p, start, end, &out)
        case .llama3(let maxDigits): Scanners.llama3(p, start, end, maxDigits, &out)
        case .singleNumber: Scanners.singleNumber(p, start, end, &out)
        case .wordsAndSymbols: Scanners.wordsAndSymbols(p, start, end, &out)
        case .literal(let lit): Scanners.literal(p, start, end, lit, &out)
        }
    }
}

enum Scanners {
    /// Class of the scalar at byte `i` and its length.
    @inline(__always)
    static func classAt(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt8, Int, UInt32) {
        let b = p[i]
        if b < 0x80 { return (CharClass.bmp.withUnsafeBufferPointer { $0[Int(b)] }, 1, UInt32(b)) }
        let (v, n) = decodeUTF8(p, i)
        return (CharClass.of(v), n, v)
    }

    static let LN = CharClass.letter | CharClass.number
    static let SLN = CharClass.space | CharClass.letter | CharClass.number

    /// End of the run of characters whose class intersects `mask` (or, with `negate`, does not), from `i`.
    @inline(__always)
    static func run(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int, _ mask: UInt8, negate: Bool = false) -> Int {
        var j = i
        while j < end {
            let (c, n, _) = classAt(p, j)
            if ((c & mask) != 0) == negate { break }
            j += n
        }
        return j
    }

    /// Length of a contraction ('s 't 're 've 'm 'll 'd) at `i` (p[i] == '\''), 0 if none.
    @inline(__always)
    static func contraction(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard i + 1 < end else { return 0 }
        @inline(__always) func lower(_ b: UInt8) -> UInt8 { caseInsensitive && b >= 65 && b <= 90 ? b + 32 : b }
        let a = lower(p[i + 1])
        if a == UInt8(ascii: "s") || a == UInt8(ascii: "t") || a == UInt8(ascii: "m") || a == UInt8(ascii: "d") { return 2 }
        // (?i:'s) also matches U+017F LATIN SMALL LETTER LONG S, which case-folds to 's'.
        if caseInsensitive && i + 2 < end && p[i + 1] == 0xC5 && p[i + 2] == 0xBF { return 3 }
        guard i + 2 < end else { return 0 }
        let b = lower(p[i + 2])
        if (a == UInt8(ascii: "r") || a == UInt8(ascii: "v")) && b == UInt8(ascii: "e") { return 3 }
        if a == UInt8(ascii: "l") && b == UInt8(ascii: "l") { return 3 }
        return 0
    }

    /// The end of a whitespace match starting at `i` (a White_Space character) under
    /// `\s+(?!\S)|\s+`: the whole run at the end of the text or when the run is one character, else the
    /// run less its last character.
    @inline(__always)
    static func whitespaceMatch(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var j = i, last = i
        while j < end {
            let (c, n, _) = classAt(p, j)
            if c & CharClass.space == 0 { break }
            last = j; j += n
        }
        if j == end || last == i { return j }
        return last
    }

    static func gpt2(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ out: inout [ByteSpan]) {
        var i = start
        while i < end {
            let (c, n, v) = classAt(p, i)
            var j: Int
            if v == 0x27, case let k = contraction(p, i, end, caseInsensitive: false), k > 0 {
                j = i + k
            } else if c & CharClass.letter != 0 {
                j = run(p, i + n, end, CharClass.letter)
            } else if c & CharClass.number != 0 {
                j = run(p, i + n, end, CharClass.number)
            } else if c & CharClass.space == 0 {
                j = run(p, i + n, end, SLN, negate: true)
            } else if v == 0x20 && i + 1 < end {
                // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` with the optional space taken.
                let (c2, n2, _) = classAt(p, i + 1)
                if c2 & CharClass.letter != 0 { j = run(p, i + 1 + n2, end, CharClass.letter) }
                else if c2 & CharClass.number != 0 { j = run(p, i + 1 + n2, end, CharClass.number) }
                else if c2 & CharClass.space == 0 { j = run(p, i + 1 + n2, end, SLN, negate: true) }
                else { j = whitespaceMatch(p, i, end) }
            } else {
                j = whitespaceMatch(p, i, end)
            }
            out.append(ByteSpan(i, j))
            i = j
        }
    }

    @inline(__always) static func isCRLF(_ v: UInt32) -> Bool { v == 0x0D || v == 0x0A }

    static func llama3(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ maxDigits: Int,
                       _ out: inout [ByteSpan]) {
        var i = start
        while i < end {
            let (c, n, v) = classAt(p, i)
            var j = -1
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if v == 0x27 { let k = contraction(p, i, end, caseInsensitive: true); if k > 0 { j = i + k } }
            if j < 0 {
                if c & CharClass.letter != 0 {
                    // [^\r\n\p{L}\p{N}]?\p{L}+ without the prefix
                    j = run(p, i + n, end, CharClass.letter)
                } else if c & CharClass.number != 0 {
                    // \p{N}{1,maxDigits}
                    j = i + n
                    var count = 1
                    while count < maxDigits && j < end {
                        let (c2, n2, _) = classAt(p, j)
                        if c2 & CharClass.number == 0 { break }
                        j += n2; count += 1
                    }
                } else {
                    // c is neither letter nor number.
                    let next: (UInt8, Int, UInt32)? = i + n < end ? classAt(p, i + n) : nil
                    if !isCRLF(v), let nx = next, nx.0 & CharClass.letter != 0 {
                        // [^\r\n\p{L}\p{N}]\p{L}+
                        j = run(p, i + n + nx.1, end, CharClass.letter)
                    } else if c & CharClass.space == 0 || (v == 0x20 && next != nil && next!.0 & SLN == 0) {
                        //  ?[^\s\p{L}\p{N}]+[\r\n]*
                        let first = c & CharClass.space == 0 ? i + n : i + n + next!.1
                        j = run(p, first, end, SLN, negate: true)
                        while j < end && (p[j] == 0x0D || p[j] == 0x0A) { j += 1 }
                    } else {
                        // c is White_Space: \s*[\r\n]+ | \s+(?!\S) | \s+
                        var k = i, lastCRLF = -1
                        while k < end {
                            let (c2, n2, v2) = classAt(p, k)
                            if c2 & CharClass.space == 0 { break }
                            if isCRLF(v2) { lastCRLF = k }
                            k += n2
                        }
                        j = lastCRLF >= 0 ? lastCRLF + 1 : whitespaceMatch(p, i, end)
                    }
                }
            }
            out.append(ByteSpan(i, j))
            i = j
        }
    }

    static func singleNumber(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ out: inout [ByteSpan]) {
        var i = start
        while i < end {
            let (c, n, _) = classAt(p, i)
            if c & CharClass.number != 0 { out.append(ByteSpan(i, i + n)) }
            i += n
        }
    }

    static func wordsAndSymbols(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ out: inout [ByteSpan]) {
        var i = start
        while i < end {
            let (c, n, _) = classAt(p, i)
            if c & CharClass.word != 0 {
                let j = run(p, i + n, end, CharClass.word)
                out.append(ByteSpan(i, j)); i = j
            } else if c & CharClass.space == 0 {
                let j = run(p, i + n, end, CharClass.word | CharClass.space, negate: true)
                out.append(ByteSpan(i, j)); i = j
            } else {
                i += n
            }
        }
    }

    static func literal(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ lit: [UInt8],
                        _ out: inout [ByteSpan]) {
        guard !lit.isEmpty else { return }
        var i = start
        while i + lit.count <= end {
            if p[i] == lit[0] && memcmp(p + i, lit, lit.count) == 0 {
                out.append(ByteSpan(i, i + lit.count)); i += lit.count
            } else {
                i += 1
            }
        }
    }
}
