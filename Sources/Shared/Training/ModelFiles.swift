// The model files rpo-train reads and writes: Hugging Face directories (config.json + model.safetensors or a
// sharded index, tokenizer files alongside), and the fingerprint that ties precomputed reference log-probs to
// the weights that produced them. Checkpoints are written as transformers' save_pretrained writes them:
// config.json, model.safetensors (F32, HF tensor names, {"format": "pt"}) and the source's tokenizer files.
import Foundation

public enum ModelFiles {
    /// Tokenizer and generation files copied from the source model directory into every checkpoint, so that
    /// `AutoTokenizer.from_pretrained(checkpoint)` works as for the original.
    public static let companionFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                        "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
                                        "generation_config.json", "chat_template.jinja"]

    static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// Loads a causal LM from a Hugging Face directory or a GGUF file.
    public static func load(_ path: String) throws -> CausalLM {
        guard FileManager.default.fileExists(atPath: path) else { throw IOError(path, "no such model file or directory") }
        if !isDirectory(path) && path.hasSuffix(".gguf") { return try CausalLM.load(gguf: path) }
        guard isDirectory(path) else {
            throw IOError(path, "not a model directory or .gguf file (expected a Hugging Face directory with config.json and model.safetensors)")
        }
        let configPath = (path as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw IOError(configPath, "cannot read config.json")
        }
        let config = try ModelRegistry.config(json: data, source: configPath)
        let model = CausalLM(config: config)
        try model.load(from: SafetensorsTensorSource(try SafetensorsCheckpoint(path: path)))
        return model
    }

    /// Writes `model` as a Hugging Face directory at `directory` (created if needed): config.json,
    /// model.safetensors, and the companion files found in `companionsFrom` if given: copied from a model
    /// directory, or exported from a GGUF file's tokenizer (with generation_config.json).
    public static func save(_ model: CausalLM, to directory: String, companionsFrom source: String?) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config: [UInt8] = []
        try JSONSerializer.write(model.config.json, to: &config)
        config.append(0x0A)
        try writeFile((directory as NSString).appendingPathComponent("config.json"), config)
        let entries = model.checkpointTensors().map { t in SafetensorsEntry(t.name, Tensor(t.values, shape: t.shape)) }
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"],
                                    to: (directory as NSString).appendingPathComponent("model.safetensors"))
        if let src = source, isDirectory(src) {
            for name in companionFiles {
                let from = (src as NSString).appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: from) {
                    try writeFile((directory as NSString).appendingPathComponent(name),
                                  [UInt8](try Data(contentsOf: URL(fileURLWithPath: from))))
                }
            }
        } else if let src = source, !isDirectory(src), src.hasSuffix(".gguf") {
            for f in try model.huggingFaceCompanions(gguf: src) {
                try writeFile((directory as NSString).appendingPathComponent(f.name), f.bytes)
            }
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

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let sink = try FileSink(path: path)
        try bytes.withUnsafeBytes { try sink.write($0) }
        try sink.finish()
    }
}

/// A safetensors checkpoint as the tensor source of `CausalLM.load(from:)`.
struct SafetensorsTensorSource: TensorSource {
    let checkpoint: SafetensorsCheckpoint
    init(_ c: SafetensorsCheckpoint) { checkpoint = c }
    var sourceName: String { checkpoint.path }
    var tensorNames: [String] { checkpoint.names }
    func shape(of name: String) throws -> [Int] { try checkpoint.info(name).shape }
    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try checkpoint.read(name, into: destination)
    }
}
