// rpo-convert's engine: a GGUF file or a Hugging Face model / tokenizer written as a complete Hugging Face
// directory, through ModelFiles.save (Models/ModelFiles.swift) and Tokenizer.save (TokenizerExport.swift).
import Foundation
import RPOCore
import RPOAlignment

/// rpo-convert's library side: a model or a tokenizer written as a complete Hugging Face directory.
public enum HFConversion {
    /// Writes `source` (a GGUF file, or a HF model / tokenizer directory, or a tokenizer.json file) into
    /// `directory`. A whole model: config.json, model.safetensors (F32), the tokenizer files (exported from a
    /// GGUF file, copied from a directory) and generation_config.json; the directory is replaced as a whole.
    /// `tokenizerOnly`: tokenizer.json, tokenizer_config.json and special_tokens_map.json of the tokenizer
    /// `Tokenizer.load(path:)` reads from `source`, each file written atomically into the directory.
    /// Returns the names of the files written.
    public static func run(source: String, directory: String, tokenizerOnly: Bool) throws -> [String] {
        if tokenizerOnly {
            try Tokenizer.load(path: source).save(to: directory)
            return Tokenizer.huggingFaceFileNames
        }
        try ModelFiles.save(CausalLM.load(path: source), to: directory, companionsFrom: source)
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }
}
