// The files that make a saved model a complete Hugging Face directory when its tokenizer is not a set of
// files to copy (a model loaded from a GGUF file): the tokenizer exported (tokenizer.json,
// tokenizer_config.json, special_tokens_map.json; TokenizerExport.swift) and generation_config.json with the
// config's bos / eos / pad ids — what transformers' `GenerationConfig.from_model_config` derives and
// `save_pretrained` writes, so that `generate` stops at the same end-of-sequence token.
import Foundation

extension CausalLM {
    /// Tokenizer files a checkpoint directory may hold; when a caller copies any of them, none is exported.
    public static let tokenizerFileNames: Set<String> = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
        "tokenizer.model", "added_tokens.json", "chat_template.jinja",
    ]

    /// The exported files of `tokenizer` and generation_config.json.
    public func huggingFaceCompanions(tokenizer: Tokenizer) throws -> [HFFile] {
        try tokenizer.huggingFaceFiles() + (generationConfigFile().map { [$0] } ?? [])
    }

    /// The companion files for the tokenizer of the GGUF file at `path`.
    public func huggingFaceCompanions(gguf path: String) throws -> [HFFile] {
        try huggingFaceCompanions(tokenizer: Tokenizer.load(path: path))
    }

    /// The companion files of the GGUF file the model was loaded from; none for other models. Exporting
    /// can fail (a tokenizer tokenizer.json cannot express): a trainer can call this before its first step.
    public func huggingFaceCompanions() throws -> [HFFile] {
        guard let g = ggufSource else { return [] }
        return try huggingFaceCompanions(gguf: g)
    }

    /// generation_config.json for this model's config.
    public func generationConfigFile() throws -> HFFile? { try Self.generationConfigFile(config: config) }

    /// generation_config.json as transformers 5.24 writes it for a model whose generation settings come from
    /// its config (`_from_model_config`, then the special token ids the config has), nil when it has none.
    public static func generationConfigFile(config: ModelConfig) throws -> HFFile? {
        let c = config.json
        var o: [(String, JSON)] = []
        for key in ["bos_token_id", "eos_token_id", "pad_token_id"] {
            if let v = c[key], !v.isNull { o.append((key, v)) }
        }
        guard !o.isEmpty else { return nil }
        let bytes = try PrettyJSON.document(.object(JSONObject([("_from_model_config", .bool(true))] + o)),
                                            TokenizerErrorContext(source: "config.json"), "generation_config.json")
        return HFFile(name: "generation_config.json", bytes: bytes)
    }

    /// What `save(to:extraFiles:tokenizer:)` writes besides copies of `extraFiles`: the companions of
    /// `tokenizer` or of the GGUF source, without the tokenizer files when `extraFiles` brings any, and
    /// without a file `extraFiles` brings under the same name.
    func companionsToWrite(besides extraFiles: [String], tokenizer: Tokenizer?) throws -> [HFFile] {
        let given = Set(extraFiles.map { ($0 as NSString).lastPathComponent })
        let bringsTokenizer = !given.isDisjoint(with: Self.tokenizerFileNames)
        let files: [HFFile]
        if let t = tokenizer {
            files = try bringsTokenizer ? [] : t.huggingFaceFiles()
        } else if let g = ggufSource, !bringsTokenizer {
            files = try Tokenizer.load(path: g).huggingFaceFiles()
        } else {
            files = []
        }
        let generation = (tokenizer != nil || ggufSource != nil) ? try generationConfigFile() : nil
        return (files + (generation.map { [$0] } ?? [])).filter { !given.contains($0.name) }
    }
}
