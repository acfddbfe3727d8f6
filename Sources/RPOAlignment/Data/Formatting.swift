// Text formatting of the official RPO loaders (docs/method.md §11; upstream dataloader.py @ c1b5163, inherited
// from ContextualAI/HALOs): chat markers, the HH prompt/response split and its regex reformatting, and the
// collapse of repeated spaces. Everything works on Unicode scalars, as Python's `str` does (code points,
// not Swift Characters: "\r\n" is one Character but two code points), and Python's `\s` is reproduced
// exactly (`PythonText.isSpace`, shared with the judge's prompt code).
import Foundation
import RPOCore

/// The plain-text turn markers the official code puts around each turn (config.yaml: human_prefix,
/// human_suffix, assistant_prefix, assistant_suffix). They are text, not special tokens.
public struct ChatMarkers: Sendable, Equatable {
    public var humanPrefix: String
    public var humanSuffix: String
    public var assistantPrefix: String
    public var assistantSuffix: String

    public init(humanPrefix: String = "\n<|user|>\n", humanSuffix: String = "",
                assistantPrefix: String = "\n<|assistant|>\n", assistantSuffix: String = "") {
        self.humanPrefix = humanPrefix; self.humanSuffix = humanSuffix
        self.assistantPrefix = assistantPrefix; self.assistantSuffix = assistantSuffix
    }

    /// `H + text + human_suffix + A`: the single-turn prompt of tldr, shp, ultrabin, alpacaeval.
    public func singleTurn(_ text: String) -> String { humanPrefix + text + humanSuffix + assistantPrefix }
}

// Python's `\s` is `PythonText.isSpace` (Judging/JudgePrompts.swift: the 29 code points of `str.isspace`).
extension PythonText {
    /// `re.sub(r'[ \t]{2,}', ' ', text)`: every run of two or more spaces/tabs becomes one space
    /// (`Example.remove_extra_spaces`).
    public static func collapseSpaces(_ text: String) -> String {
        var out: [UInt8] = []
        var changed = false
        let u = Array(text.utf8)
        out.reserveCapacity(u.count)
        var i = 0
        while i < u.count {
            let c = u[i]
            if c == 0x20 || c == 0x09 {
                var j = i + 1
                while j < u.count && (u[j] == 0x20 || u[j] == 0x09) { j += 1 }
                if j - i >= 2 { out.append(0x20); changed = true } else { out.append(c) }
                i = j
            } else {
                out.append(c); i += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// Code points of `s` (Python `len`).
    public static func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

    static func string(_ s: ArraySlice<Unicode.Scalar>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: s)
        return String(v)
    }

    static func hasPrefix(_ s: [Unicode.Scalar], at i: Int, _ word: [Unicode.Scalar]) -> Bool {
        if i + word.count > s.count { return false }
        for k in 0..<word.count where s[i + k] != word[k] { return false }
        return true
    }
}

/// The Anthropic HH-RLHF transcript rules of `get_hh` (docs/method.md §11.2).
public enum HHFormat {
    /// The search term of the split: the prompt runs through the chosen transcript's last occurrence.
    public static let assistantTerm = "\n\nAssistant: "

    public struct Split: Equatable, Sendable {
        /// The raw prompt: the chosen transcript through its last "\n\nAssistant: ".
        public var prompt: String
        public var chosen: String
        /// `rejected[len(prompt):]`: the rejected transcript cut at the chosen prompt's length in code points.
        public var rejected: String
        /// Whether the rejected transcript starts with the chosen-derived prompt (upstream assumes it does;
        /// 4 of the 2,312 harmless-base test rows do not).
        public var rejectedSharesPrompt: Bool
    }

    /// Splits a `{chosen, rejected}` pair as upstream does; nil when the chosen transcript has no
    /// "\n\nAssistant: " (upstream would then cut at a meaningless offset).
    public static func split(chosen: String, rejected: String) -> Split? {
        let c = Array(chosen.utf8)
        let term = Array(assistantTerm.utf8)
        guard c.count >= term.count else { return nil }
        var found = -1
        var i = c.count - term.count
        while i >= 0 {
            if c[i] == term[0] && c[i..<(i + term.count)].elementsEqual(term) { found = i; break }
            i -= 1
        }
        if found < 0 { return nil }
        let cut = found + term.count
        let prompt = String(decoding: c[0..<cut], as: UTF8.self)
        let chosenResponse = String(decoding: c[cut...], as: UTF8.self)
        // Python slices by code points: count the prompt's (UTF-8 lead bytes), then skip as many in rejected.
        var points = 0
        for b in c[0..<cut] where b & 0xC0 != 0x80 { points += 1 }
        let r = rejected.unicodeScalars
        var idx = r.startIndex
        var k = 0
        while k < points && idx != r.endIndex { r.formIndex(after: &idx); k += 1 }
        let rejectedResponse = String(r[idx...])
        return Split(prompt: prompt, chosen: chosenResponse, rejected: rejectedResponse,
                     rejectedSharesPrompt: rejected.utf8.starts(with: c[0..<cut]))
    }

    static let human = Array("Human:".unicodeScalars)
    static let assistant = Array("Assistant:".unicodeScalars)

    /// The reformatting of `get_hh`: `re.split(r'\s*(Human:|Assistant:)\s+', prompt)` (separators kept);
    /// each piece starting with "Human" becomes `re.sub(r'\s*Human:\s*', H, piece) + human_suffix` (and the
    /// same for "Assistant"), other pieces are kept, empty pieces dropped, all joined. Markers are inserted
    /// literally (Python would also expand backslash escapes in a marker given as a replacement template).
    public static func reformat(_ prompt: String, markers: ChatMarkers) -> String {
        let s = PythonText.scalars(prompt)
        var out = ""
        func emit(_ piece: ArraySlice<Unicode.Scalar>) {
            if piece.isEmpty { return }
            let p = Array(piece)
            if PythonText.hasPrefix(p, at: 0, Array("Human".unicodeScalars)) {
                out += substitute(p, keyword: human, with: markers.humanPrefix) + markers.humanSuffix
            } else if PythonText.hasPrefix(p, at: 0, Array("Assistant".unicodeScalars)) {
                out += substitute(p, keyword: assistant, with: markers.assistantPrefix) + markers.assistantSuffix
            } else {
                out += PythonText.string(piece)
            }
        }
        var last = 0
        var i = 0
        while i < s.count {
            if let (end, keyword) = separator(s, at: i) {
                emit(s[last..<i])
                emit(keyword[...])
                last = end; i = end
            } else {
                i += 1
            }
        }
        emit(s[last..<s.count])
        return out
    }

    /// A match of `\s*(Human:|Assistant:)\s+` starting at `i`: its end and the captured keyword.
    static func separator(_ s: [Unicode.Scalar], at i: Int) -> (Int, [Unicode.Scalar])? {
        var j = i
        while j < s.count && PythonText.isSpace(s[j]) { j += 1 }
        // Backtracking `\s*` cannot help: a shorter run would need the keyword to start on white space.
        let keyword: [Unicode.Scalar]
        if PythonText.hasPrefix(s, at: j, human) { keyword = human }
        else if PythonText.hasPrefix(s, at: j, assistant) { keyword = assistant }
        else { return nil }
        var k = j + keyword.count
        let afterKeyword = k
        while k < s.count && PythonText.isSpace(s[k]) { k += 1 }
        return k > afterKeyword ? (k, keyword) : nil
    }

    /// `re.sub(r'\s*' + keyword + r'\s*', replacement, piece)`.
    static func substitute(_ p: [Unicode.Scalar], keyword: [Unicode.Scalar], with replacement: String) -> String {
        var out = String.UnicodeScalarView()
        var last = 0
        var i = 0
        while i < p.count {
            var j = i
            while j < p.count && PythonText.isSpace(p[j]) { j += 1 }
            if PythonText.hasPrefix(p, at: j, keyword) {
                var k = j + keyword.count
                while k < p.count && PythonText.isSpace(p[k]) { k += 1 }
                out.append(contentsOf: p[last..<i])
                out.append(contentsOf: replacement.unicodeScalars)
                last = k; i = k
            } else {
                i += 1
            }
        }
        out.append(contentsOf: p[last..<p.count])
        return String(out)
    }
}
