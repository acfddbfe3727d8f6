// Loading a CausalLM from a Hugging Face directory (config.json + model.safetensors or a sharded index;
// F32/F16/BF16) or a GGUF file (weights dequantized to f32, config from the metadata, llama.cpp's q/k row
// permutation undone so the weights equal the HF layout), and saving one as a HF directory that
// transformers loads unchanged (config.json, model.safetensors in F32, tokenizer files copied), written
// to a temporary directory and renamed into place.
// Reference: transformers 5.24.0 modeling_gguf_pytorch_utils.py / integrations/ggml.py (GGUF -> HF names).
import Foundation

extension SafetensorsCheckpoint: TensorSource {
    public var sourceName: String { path }
    public var tensorNames: [String] { names }
    public func shape(of name: String) throws -> [Int] { try info(name).shape }
}

extension CausalLM {
    /// A model from a HF directory: `config.json` and `model.safetensors` (or `model.safetensors.index.json`).
    public static func load(directory: String) throws -> CausalLM {
        let cfgPath = (directory as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: cfgPath) else {
            throw ModelError.io("\(cfgPath): cannot read the model's config.json")
        }
        let config = try ModelRegistry.config(json: data, source: cfgPath)
        let weights = try SafetensorsCheckpoint(path: directory)
        try CausalLM.checkTensors(config, in: weights)  // before the parameters are allocated
        let model = CausalLM(config: config)
        try model.load(from: weights)
        return model
    }

    /// A model from a path: a GGUF file (by extension or magic) or a HF directory.
    public static func load(path: String) throws -> CausalLM {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            return try load(directory: path)
        }
        return try load(gguf: path)
    }

    /// A model from a GGUF file (`general.architecture` = llama).
    public static func load(gguf path: String) throws -> CausalLM {
        let file = try GGUFFile(path: path)
        let source = try GGUFLlamaSource(file)
        try CausalLM.checkTensors(source.config, in: source)  // before the parameters are allocated
        let model = CausalLM(config: source.config)
        try model.load(from: source)
        model.ggufSource = path
        return model
    }

    // MARK: - Saving

    /// Writes the model as a HF directory at `directory`: config.json (the decoded config object with
    /// `dtype` float32), model.safetensors (F32, `{"format": "pt"}` metadata) and copies of `extraFiles`
    /// (tokenizer.json, tokenizer_config.json, ...). Unless `extraFiles` brings tokenizer files, `tokenizer`
    /// (or, for a model loaded from a GGUF file, that file's tokenizer) is exported beside the weights with
    /// a generation_config.json (CheckpointTokenizer.swift). The directory appears complete or not at all:
    /// it is written under a temporary name beside it, then renamed (an existing directory is replaced).
    public func save(to directory: String, extraFiles: [String] = [], tokenizer: Tokenizer? = nil) throws {
        let generated = try companionsToWrite(besides: extraFiles, tokenizer: tokenizer)
        let fm = FileManager.default
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        let parent = url.deletingLastPathComponent()
        let tmp = parent.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
            var json = config.json
            json["dtype"] = .string("float32")
            if json["torch_dtype"] != nil { json["torch_dtype"] = .string("float32") }
            var bytes: [UInt8] = []
            try JSONSerializer.write(.object(json), to: &bytes)
            bytes.append(0x0A)
            try Data(bytes).write(to: tmp.appendingPathComponent("config.json"))
            let entries = checkpointTensors().map { t -> SafetensorsEntry in
                SafetensorsEntry(t.name, Tensor(t.values, shape: t.shape))
            }
            try SafetensorsWriter.write(entries, metadata: ["format": "pt"],
                                        to: tmp.appendingPathComponent("model.safetensors").path)
            for f in extraFiles {
                let src = URL(fileURLWithPath: f)
                try fm.copyItem(at: src, to: tmp.appendingPathComponent(src.lastPathComponent))
            }
            for f in generated { try Data(f.bytes).write(to: tmp.appendingPathComponent(f.name)) }
            if fm.fileExists(atPath: url.path) {
                let old = parent.appendingPathComponent(".\(url.lastPathComponent).old-\(getpid())")
                try fm.moveItem(at: url, to: old)
                try fm.moveItem(at: tmp, to: url)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: tmp, to: url)
            }
        } catch {
            try? fm.removeItem(at: tmp)
            throw ModelError.io("\(directory): cannot save the model: \(error)")
        }
    }
}

/// A GGUF file of a Llama-architecture model seen through HF tensor names (transformers' GGUF mapping).
struct GGUFLlamaSource: TensorSource {
    let file: GGUFFile
    let config: ModelConfig
    /// HF name -> GGUF name
    let map: [String: String]
    var sourceName: String { file.path }
    var tensorNames: [String] { Array(map.keys) + file.names.filter { n in !map.values.contains(n) } }

    init(_ file: GGUFFile) throws {
        self.file = file
        let m = file.metadata, src = file.path
        let arch = try m.string("general.architecture")
        guard arch == "llama" else {
            throw ModelError.invalidConfig(source: src, message: "GGUF architecture \"\(arch)\" is not supported (llama)")
        }
        if let t = m["llama.rope.scaling.type"], case .string(let s) = t, s != "none" {
            throw ModelError.invalidConfig(source: src, message: "llama.rope.scaling.type \"\(s)\" is not supported (only plain RoPE)")
        }
        let C = try m.int("llama.embedding_length"), NH = try m.int("llama.attention.head_count")
        let layers = try m.int("llama.block_count")
        guard NH > 0 else {
            throw ModelError.invalidConfig(source: src, message: "llama.attention.head_count must be positive, got \(NH)")
        }
        guard let embd = file.tensors.first(where: { $0.name == "token_embd.weight" }) else {
            throw ModelError.missingTensor(source: src, name: "token_embd.weight")
        }
        let tied = !file.contains("output.weight")
        var j = JSONObject()
        j["architectures"] = .array([.string("LlamaForCausalLM")])
        j["model_type"] = .string("llama")
        j["vocab_size"] = .int(embd.shape[0])
        j["hidden_size"] = .int(C)
        j["intermediate_size"] = .int(try m.int("llama.feed_forward_length"))
        j["num_hidden_layers"] = .int(layers)
        j["num_attention_heads"] = .int(NH)
        j["num_key_value_heads"] = .int(try m.int("llama.attention.head_count_kv", default: NH))
        j["max_position_embeddings"] = .int(try m.int("llama.context_length", default: 2048))
        j["rms_norm_eps"] = .double(Double(try m.float("llama.attention.layer_norm_rms_epsilon", default: 1e-5)))
        // transformers 5 style, as its GGUF loader writes it (rope_parameters, explicit head_dim)
        j["rope_parameters"] = .object(JSONObject([
            ("rope_theta", .double(Double(try m.float("llama.rope.freq_base", default: 10000)))),
            ("rope_type", .string("default"))]))
        j["head_dim"] = .int(C / NH)
        j["hidden_act"] = .string("silu")
        j["attention_bias"] = .bool(false)
        j["mlp_bias"] = .bool(false)
        j["tie_word_embeddings"] = .bool(tied)
        for (k, key) in [("bos_token_id", "tokenizer.ggml.bos_token_id"), ("eos_token_id", "tokenizer.ggml.eos_token_id"),
                         ("pad_token_id", "tokenizer.ggml.padding_token_id"),
                         ("unk_token_id", "tokenizer.ggml.unknown_token_id")] where m.contains(key) {
            j[k] = .int(try m.int(key))
        }
        let data = Data(try JSONSerializer.string(.object(j)).utf8)
        let config = try ModelRegistry.config(json: data, source: src)
        if m.contains("llama.rope.dimension_count"), try m.int("llama.rope.dimension_count") != config.headDim {
            throw ModelError.invalidConfig(source: src, message: "llama.rope.dimension_count differs from the head size (partial rotary is not supported for llama)")
        }
        self.config = config
        var map: [String: String] = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"]
        if !tied { map["lm_head.weight"] = "output.weight" }
        for l in 0..<layers {
            let p = "model.layers.\(l).", g = "blk.\(l)."
            map[p + "input_layernorm.weight"] = g + "attn_norm.weight"
            map[p + "post_attention_layernorm.weight"] = g + "ffn_norm.weight"
            map[p + "self_attn.q_proj.weight"] = g + "attn_q.weight"
            map[p + "self_attn.k_proj.weight"] = g + "attn_k.weight"
            map[p + "self_attn.v_proj.weight"] = g + "attn_v.weight"
            map[p + "self_attn.o_proj.weight"] = g + "attn_output.weight"
            map[p + "mlp.gate_proj.weight"] = g + "ffn_gate.weight"
            map[p + "mlp.up_proj.weight"] = g + "ffn_up.weight"
            map[p + "mlp.down_proj.weight"] = g + "ffn_down.weight"
        }
        self.map = map.filter { file.contains($0.value) }
    }

    func shape(of name: String) throws -> [Int] {
        guard let g = map[name] else { return try file.info(name).shape }
        return try file.info(g).shape
    }

    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let g = map[name] else { return try file.read(name, into: destination) }
        if name.hasSuffix("q_proj.weight") || name.hasSuffix("k_proj.weight") {
            // llama.cpp permutes q/k rows for its interleaved RoPE; undo it for HF's rotate_half.
            let heads = name.hasSuffix("q_proj.weight") ? config.numHeads : config.numKVHeads
            let t = try file.llamaQK(g, heads: heads)
            destination.baseAddress!.update(from: t.pointer, count: destination.count)
        } else {
            try file.read(g, into: destination)
        }
    }
}
