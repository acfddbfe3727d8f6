// Python's whitespace over Unicode scalars (`str.isspace`, `str.strip()`, `len`), as the reference scripts
// see text: used by the dataset formatting (Data/Formatting.swift) and the judge prompts (JudgePrompts.swift).
import Foundation

/// Python's notion of whitespace (`str.isspace`, what `str.strip()` removes), over Unicode scalars.
public enum PythonText {
    /// Py_UNICODE_ISSPACE: the code points of fixture python_text.json.
    public static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `str.strip()`.
    public static func strip(_ s: String) -> String {
        let u = s.unicodeScalars
        guard let first = u.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = u.lastIndex(where: { !isSpace($0) })!
        return String(u[first...last])
    }

    /// Python `len(s)`: the number of code points.
    public static func length(_ s: String) -> Int { s.unicodeScalars.count }
}
