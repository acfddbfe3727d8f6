// Errors of tokenizer loading and use. Every message names the file and the component (normalizer,
// pre-tokenizer, model, decoder, post-processor) it is about; unsupported configurations are errors,
// never silent fallbacks.
import Foundation

public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    /// The file (or directory) the tokenizer came from.
    public let source: String
    /// The pipeline component, e.g. `pre_tokenizer` or `model.merges`.
    public let component: String
    public let message: String

    public init(_ source: String, _ component: String, _ message: String) {
        self.source = source; self.component = component; self.message = message
    }

    public var description: String { "\(source): \(component): \(message)" }
}

/// Builds errors for one source file: `err("normalizer", "unknown type \"Foo\"")`.
struct TokenizerErrorContext: Sendable {
    let source: String
    func callAsFunction(_ component: String, _ message: String) -> TokenizerError {
        TokenizerError(source, component, message)
    }
}
