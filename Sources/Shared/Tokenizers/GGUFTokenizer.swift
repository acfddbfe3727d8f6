// Tokenizers from GGUF metadata (`tokenizer.ggml.*`). Reading GGUF is the formats area's reader
// (Sources/Shared/IO/GGUF.swift); until it is merged into this branch, a .gguf path is a clear error.
import Foundation

extension Tokenizer {
    static func loadGGUF(path: String) throws -> Tokenizer {
        throw TokenizerError(path, "gguf", "loading a tokenizer from GGUF metadata needs the GGUF reader, which this build does not have yet")
    }
}
