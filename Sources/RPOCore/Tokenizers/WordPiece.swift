// WordPiece (BERT): greedy longest-match-first over each pre-tokenized word; a word with an unmatchable
// remainder, or longer than `max_input_chars_per_word` characters, becomes the unknown token.
// Reference: huggingface/tokenizers tokenizers/src/models/wordpiece/mod.rs (`WordPiece::tokenize`).
import Foundation

struct WordPieceModel: Sendable {
    /// Tokens without the continuing-subword prefix (word starts), keyed by their bytes.
    let starts: UncheckedSendable<BytesTable>
    /// Tokens with the prefix, keyed by the bytes after it.
    let continuations: UncheckedSendable<BytesTable>
    let unkId: Int32
    /// The continuing-subword prefix ("##").
    let prefix: String
    let maxInputCharsPerWord: Int

    init(vocab: Vocabulary, unkId: Int32, prefix: String, maxInputCharsPerWord: Int) {
        var s = BytesTable(capacity: vocab.count)
        var c = BytesTable(capacity: vocab.count)
        let pre = Array(prefix.utf8)
        for (tok, id) in vocab.entries {
            let b = Array(tok.utf8)
            s.insert(b, (Int32(id), 0))
            if !pre.isEmpty && b.count >= pre.count && Array(b[0..<pre.count]) == pre {
                c.insert(Array(b[pre.count...]), (Int32(id), 0))
            }
        }
        starts = UncheckedSendable(s); continuations = UncheckedSendable(c)
        self.unkId = unkId
        self.prefix = prefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    func encode(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ out: inout [Int32]) {
        if end == start { return }
        var chars = 0
        var i = start
        while i < end { i += utf8Length(lead: p[i]); chars += 1 }
        if chars > maxInputCharsPerWord { out.append(unkId); return }
        let mark = out.count
        var s = start
        while s < end {
            var e = end
            var found: Int32 = -1
            while s < e {
                let table = s == start ? starts.value : continuations.value
                if let (id, _) = table.lookup(p + s, e - s) { found = id; break }
                // Step back one character.
                e -= 1
                while e > s && (p[e] & 0xC0) == 0x80 { e -= 1 }
            }
            if found < 0 {
                out.removeLast(out.count - mark)
                out.append(unkId)
                return
            }
            out.append(found)
            s = e
        }
    }
}
