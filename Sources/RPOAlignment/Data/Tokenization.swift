// Tokenisation and truncation of one (prompt, completion) element, in the two modes of rpo-tokenize:
//   official: `tokenize_batch_element` of the official loader exactly (docs/method.md §12): encode prompt and
//             completion, drop the prompt's trailing EOS and the completion's BOS/EOS, truncate (prompt first,
//             keep_start/keep_end, then the completion), decode both without special tokens, append
//             " " + eos_token as text, re-encode the prompt text and prompt+completion text; the label start is
//             the length of the re-encoded prompt. The re-encoded combined ids may not start with the
//             re-encoded prompt ids (a merge across the boundary): that is reported as boundary drift.
//   concat:   the same encoding and truncation, then input = prompt ids + completion ids + EOS id and label
//             start = prompt length: exact boundaries, no re-tokenisation.
import Foundation
import RPOCore

public enum TokenizationMode: String, Sendable, CaseIterable {
    case official, concat
}

public struct TokenizedElement: Sendable, Equatable {
    /// The prompt after truncation, decoded without special tokens (`prompt_text`).
    public var promptText: String
    /// official: the re-encoded `promptText`; concat: the truncated prompt ids.
    public var promptIds: [Int]
    /// The model input: prompt and completion, as scored from `labelStart` on.
    public var inputIds: [Int]
    public var labelStart: Int
    /// official: `inputIds` does not start with `promptIds` (the label mask is then off by the merge).
    public var boundaryDrift: Bool
    /// Whether the prompt was truncated.
    public var promptTruncated: Bool
    /// Whether the completion was truncated.
    public var completionTruncated: Bool
}

public struct ElementTokenizer: Sendable {
    public let tokenizer: any TextTokenizer
    public let mode: TokenizationMode
    public let maxLength: Int
    public let maxPromptLength: Int

    public init(tokenizer: any TextTokenizer, mode: TokenizationMode, maxLength: Int = 512,
                maxPromptLength: Int = 256) throws {
        // Python slicing would give surprising results outside these bounds (p[-0:] is all of p; a negative
        // completion budget would cut from the end), so they are refused.
        guard maxPromptLength >= 1 else { throw DataError("the maximum prompt length must be at least 1, got \(maxPromptLength)") }
        guard maxLength >= maxPromptLength else {
            throw DataError("the maximum length (\(maxLength)) must be at least the maximum prompt length (\(maxPromptLength))")
        }
        switch mode {
        case .official:
            guard tokenizer.eosToken != nil else { throw DataError("the tokenizer has no EOS token, which the official mode appends as text") }
        case .concat:
            guard tokenizer.eosTokenId != nil else { throw DataError("the tokenizer has no EOS token id, which the concat mode appends") }
        }
        self.tokenizer = tokenizer; self.mode = mode; self.maxLength = maxLength; self.maxPromptLength = maxPromptLength
    }

    public func tokenize(prompt: String, completion: String, truncation: TruncationMode) throws -> TokenizedElement {
        let t = tokenizer
        var p = try t.encode(prompt, addSpecialTokens: true)
        var g = try t.encode(completion, addSpecialTokens: true)
        let eos = t.eosTokenId, bos = t.bosTokenId
        if let e = eos, p.last == e { p.removeLast() }
        if let b = bos, g.first == b { g.removeFirst() }
        if let e = eos, g.last == e { g.removeLast() }
        var promptTruncated = false, completionTruncated = false
        if p.count + g.count > maxLength && p.count > maxPromptLength {
            p = truncation == .keepStart ? Array(p.prefix(maxPromptLength)) : Array(p.suffix(maxPromptLength))
            promptTruncated = true
        }
        if p.count + g.count > maxLength {
            g = Array(g.prefix(maxLength - p.count))
            completionTruncated = true
        }
        let promptText = try t.decode(p, skipSpecialTokens: true)
        switch mode {
        case .official:
            let completionText = try t.decode(g, skipSpecialTokens: true) + " " + t.eosToken!
            let promptIds = try t.encode(promptText, addSpecialTokens: true)
            let combined = try t.encode(promptText + completionText, addSpecialTokens: true)
            return TokenizedElement(promptText: promptText, promptIds: promptIds, inputIds: combined,
                                    labelStart: promptIds.count, boundaryDrift: !combined.starts(with: promptIds),
                                    promptTruncated: promptTruncated, completionTruncated: completionTruncated)
        case .concat:
            return TokenizedElement(promptText: promptText, promptIds: p, inputIds: p + g + [eos!],
                                    labelStart: p.count, boundaryDrift: false,
                                    promptTruncated: promptTruncated, completionTruncated: completionTruncated)
        }
    }
}
