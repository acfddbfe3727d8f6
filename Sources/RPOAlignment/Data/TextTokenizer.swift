// The tokenizer interface the dataset pipeline needs: Hugging Face `tokenizer(text)` / `decode` semantics
// and the special tokens that the official loader strips and appends (docs/method.md §12). The project's
// `Tokenizer` (Sources/RPOCore/Tokenizers) conforms; anything else with exact HF behaviour may.
import Foundation
import RPOCore

public protocol TextTokenizer: Sendable {
    /// Exactly HF `tokenizer(text)["input_ids"]` (with `addSpecialTokens`, the post-processor's BOS/EOS).
    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int]
    /// Exactly HF `tokenizer.decode(ids, skip_special_tokens:)`.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) throws -> String
    var bosTokenId: Int? { get }
    var eosTokenId: Int? { get }
    /// The EOS token's text (e.g. "</s>", "<|im_end|>"), appended as text after a space by the official mode.
    var eosToken: String? { get }
    /// Whether `id` is a token of the tokenizer (decoding would otherwise skip it without a word).
    func isTokenId(_ id: Int) -> Bool
}

extension TextTokenizer {
    public func isTokenId(_ id: Int) -> Bool { id >= 0 }
}

extension Tokenizer {
    public func isTokenId(_ id: Int) -> Bool { token(id) != nil }
}

extension Tokenizer: TextTokenizer {}
