// Character classes the pre-tokenizers and normalizers test, from `Unicode.Scalar.Properties`, cached in a
// table for the Basic Multilingual Plane (computed once) so the scanners do one load per character.
// Classes follow the reference engines: onig/Rust regex `\p{L}` (Lu Ll Lt Lm Lo), `\p{N}` (Nd Nl No), `\s`
// (White_Space), Rust `char::is_punctuation` (P*), `unicode_categories::is_other` (Cc Cf Cn Co Cs), `Mn`.
import Foundation

enum CharClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 4        // White_Space
    static let punct: UInt8 = 8        // P* (Unicode punctuation)
    static let other: UInt8 = 16       // C* (control, format, unassigned, private use, surrogate)
    static let mark: UInt8 = 32        // Mn (non-spacing mark)
    static let word: UInt8 = 64        // regex `\w`: Alphabetic, M*, Nd, Pc, Join_Control
    static let asciiPunct: UInt8 = 128 // ASCII punctuation (Rust `is_ascii_punctuation`)

    static func compute(_ v: UInt32) -> UInt8 {
        guard let s = Unicode.Scalar(v) else { return other }  // surrogate code points
        let p = s.properties
        var c: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            c |= number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            c |= punct
        case .control, .format, .unassigned, .privateUse, .surrogate:
            c |= other
        case .nonspacingMark:
            c |= mark
        default: break
        }
        if p.isWhitespace { c |= space }
        let gc = p.generalCategory
        if p.isAlphabetic || gc == .nonspacingMark || gc == .spacingMark || gc == .enclosingMark
            || gc == .decimalNumber || gc == .connectorPunctuation || p.isJoinControl {
            c |= word
        }
        if v < 128, (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
            || (0x7B...0x7E).contains(v) {
            c |= asciiPunct
        }
        return c
    }

    /// Classes of U+0000...U+FFFF.
    static let bmp: [UInt8] = (0..<0x10000).map { compute(UInt32($0)) }

    @inline(__always) static func of(_ v: UInt32) -> UInt8 {
        v < 0x10000 ? bmp.withUnsafeBufferPointer { $0[Int(v)] } : compute(v)
    }
}

/// Decodes the UTF-8 scalar starting at `p[i]` (input is valid UTF-8): returns the scalar value and length.
@inline(__always)
func decodeUTF8(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(p[i + 1]) & 0x3F), 2) }
    if b0 < 0xF0 {
        return (((b0 & 0x0F) << 12) | ((UInt32(p[i + 1]) & 0x3F) << 6) | (UInt32(p[i + 2]) & 0x3F), 3)
    }
    return (((b0 & 0x07) << 18) | ((UInt32(p[i + 1]) & 0x3F) << 12) | ((UInt32(p[i + 2]) & 0x3F) << 6)
            | (UInt32(p[i + 3]) & 0x3F), 4)
}

/// Length of the UTF-8 scalar whose lead byte is `b`.
@inline(__always) func utf8Length(lead b: UInt8) -> Int {
    b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
}

/// Appends the UTF-8 encoding of scalar value `v` to `out`.
@inline(__always) func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
    if v < 0x80 { out.append(UInt8(v)) }
    else if v < 0x800 { out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F))) }
    else if v < 0x10000 {
        out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
    }
}

/// The scalar values of a UTF-8 buffer.
func scalars(_ bytes: [UInt8]) -> [UInt32] {
    var out: [UInt32] = []
    out.reserveCapacity(bytes.count)
    bytes.withUnsafeBufferPointer { b in
        var i = 0
        while i < b.count { let (v, n) = decodeUTF8(b.baseAddress!, i); out.append(v); i += n }
    }
    return out
}

// MARK: - GPT-2 byte-level alphabet

/// GPT-2's reversible map from bytes to printable characters (`bytes_to_unicode` in openai/gpt-2
/// encoder.py): printable Latin-1 bytes map to themselves, the other 68 to U+0100 onwards, in order.
enum ByteLevelAlphabet {
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n; n += 1
            }
        }
        return table
    }()

    /// Scalar value -> byte, for the 256 scalars of the alphabet.
    static let scalarToByte: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for b in 0..<256 { m[byteToScalar[b]] = UInt8(b) }
        return m
    }()

    /// The byte-level string of raw bytes (each byte as its alphabet character), as UTF-8.
    static func encode(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        for b in bytes { appendUTF8(byteToScalar[Int(b)], to: &out) }
        return out
    }

    /// The raw bytes of a byte-level token, or nil when a character is outside the alphabet.
    static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard let b = scalarToByte[s.value] else { return nil }
            out.append(b)
        }
        return out
    }
}
