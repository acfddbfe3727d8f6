// Post-processors: add the special tokens around one encoded sequence (`add_special_tokens=True`).
// Only the single-sequence template matters to `encode`; pair templates are parsed but unused.
// Reference: huggingface/tokenizers tokenizers/src/processors/{template,bert,roberta,sequence}.rs;
// ByteLevel's processor only trims offsets, so it leaves ids unchanged.
import Foundation

enum TemplatePiece: Sendable {
    case sequence          // $A
    case special([Int32])  // the ids of a special token entry
}

struct PostProcessor: Sendable {
    /// The single-sequence template; nil means ids pass unchanged.
    let single: [TemplatePiece]?

    func apply(_ ids: [Int32]) -> [Int32] {
        guard let t = single else { return ids }
        var out: [Int32] = []
        out.reserveCapacity(ids.count + 4)
        for piece in t {
            switch piece {
            case .sequence: out.append(contentsOf: ids)
            case .special(let s): out.append(contentsOf: s)
            }
        }
        return out
    }

    /// Composes a Sequence of processors: each applies to the previous output.
    static func sequence(_ ps: [PostProcessor]) -> PostProcessor {
        var template: [TemplatePiece] = [.sequence]
        for p in ps {
            guard let t = p.single else { continue }
            var next: [TemplatePiece] = []
            for piece in t {
                if case .sequence = piece { next.append(contentsOf: template) } else { next.append(piece) }
            }
            template = next
        }
        return PostProcessor(single: template)
    }
}
