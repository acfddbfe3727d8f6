// The model files rpo-train reads and writes (through CausalLM.load(path:) and save(to:extraFiles:), Models/
// Checkpoints.swift): a Hugging Face directory or a GGUF file in, Hugging Face directories out with the source's
// tokenizer files; and the fingerprint that ties precomputed reference log-probs to the weights that made them.
import Foundation

public enum ModelFiles {
    /// Tokenizer and generation files copied from the source model directory into every checkpoint, so that
    /// `AutoTokenizer.from_pretrained(checkpoint)` works as for the original.
    public static let companionFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                        "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
                                        "generation_config.json", "chat_template.jinja"]

    package static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// Loads a causal LM from a Hugging Face directory or a GGUF file.
    public static func load(_ path: String) throws -> CausalLM {
        guard FileManager.default.fileExists(atPath: path) else { throw IOError(path, "no such model file or directory") }
        return try CausalLM.load(path: path)
    }

    /// Writes `model` as a Hugging Face directory at `directory` (replaced as a whole) with the companion files
    /// of `source`: copied from a model directory, or exported from a GGUF file's tokenizer (with
    /// generation_config.json).
    public static func save(_ model: CausalLM, to directory: String, companionsFrom source: String?) throws {
        if let src = source, isDirectory(src) {
            let extra = companionFiles.map { (src as NSString).appendingPathComponent($0) }
                .filter { FileManager.default.fileExists(atPath: $0) }
            try model.save(to: directory, extraFiles: extra)
        } else if let src = source, FileManager.default.fileExists(atPath: src) {
            // a GGUF source: its tokenizer exported (also when `model` was resumed from a checkpoint directory)
            try model.save(to: directory, extraFiles: [], tokenizer: Tokenizer.load(path: src))
        } else {
            // no source, or one that is gone: the model's own GGUF tokenizer if it has one (CausalLM.save)
            try model.save(to: directory, extraFiles: [])
        }
    }

    /// The fingerprint of a model's weights and tokenizer: "sha256:" + SHA-256 over the bytes of its weight
    /// files (model.safetensors, or the shards in index order, or a GGUF file) followed by tokenizer.json when
    /// the directory has one. Two copies of the same files fingerprint equally; any change to the weights
    /// or the tokenizer changes it. No model is loaded.
    public static func fingerprint(_ path: String) throws -> String {
        var h = SHA256()
        for f in try fingerprintFiles(path) { try h.update(file: f) }
        return "sha256:" + h.hexDigest()
    }

    static func fingerprintFiles(_ path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { throw IOError(path, "no such model file or directory") }
        guard isDirectory(path) else { return [path] }
        let dir = path as NSString
        var files: [String] = []
        let single = dir.appendingPathComponent("model.safetensors")
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: single) {
            files.append(single)
        } else if FileManager.default.fileExists(atPath: index) {
            let shards = try SafetensorsCheckpoint(path: index).shards.map(\.path)
            files.append(index)
            files += shards
        } else {
            throw IOError(path, "neither model.safetensors nor model.safetensors.index.json is in this directory")
        }
        let tok = dir.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tok) { files.append(tok) }
        return files
    }

    package static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let sink = try FileSink(path: path)
        try bytes.withUnsafeBytes { try sink.write($0) }
        try sink.finish()
    }
}
