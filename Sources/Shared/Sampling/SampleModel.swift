// The model, tokenizer and generation defaults rpo-sample loads from --model: a GGUF file (Llama
// architecture; weights dequantized to fp32, llama.cpp's q/k row permutation undone, tokenizer and chat
// template from its metadata) or a Hugging Face directory (config.json, model.safetensors or a sharded
// index, tokenizer files, generation_config.json).
// Reference: transformers 5.24.0 integrations/ggml.py (GGUF -> HF tensor names) and
// generation/configuration_utils.py (generation_config.json keys and library defaults).
import Foundation

public struct SampleModel {
    public let model: CausalLM
    public let tokenizer: Tokenizer
    /// Sampling defaults of the model's generation_config.json (nil: not set there).
    public let defaults: GenerationDefaults
    /// The model's name for the records: the file or directory name.
    public let name: String

    public static func load(path: String) throws -> SampleModel {
        let name = URL(fileURLWithPath: path).lastPathComponent
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw IOError(path, "no such file or directory")
        }
        if isDir.boolValue {
            let cfgPath = (path as NSString).appendingPathComponent("config.json")
            guard let data = FileManager.default.contents(atPath: cfgPath) else { throw IOError(cfgPath, "cannot read the model's config.json") }
            let config = try ModelRegistry.config(json: data, source: cfgPath)
            let m = CausalLM(config: config)
            try m.load(from: SafetensorsTensors(try SafetensorsCheckpoint(path: path)))
            return SampleModel(model: m, tokenizer: try Tokenizer.load(path: path),
                               defaults: try GenerationDefaults.load(directory: path), name: name)
        }
        let g = try GGUFFile(path: path)
        let m = try loadGGUF(g)
        return SampleModel(model: m, tokenizer: try Tokenizer.load(path: path), defaults: GenerationDefaults(), name: name)
    }

    static func loadGGUF(_ g: GGUFFile) throws -> CausalLM {
        let md = g.metadata
        let arch = try md.string("general.architecture")
        guard arch == "llama" else {
            throw ModelError.unsupportedModelType(source: g.path, modelType: "GGUF architecture \(arch)")
        }
        var o = JSONObject()
        o["model_type"] = .string("llama")
        o["vocab_size"] = .int(try md.array("tokenizer.ggml.tokens").count)
        o["hidden_size"] = .int(try md.int("llama.embedding_length"))
        o["intermediate_size"] = .int(try md.int("llama.feed_forward_length"))
        o["num_hidden_layers"] = .int(try md.int("llama.block_count"))
        o["num_attention_heads"] = .int(try md.int("llama.attention.head_count"))
        o["num_key_value_heads"] = .int(try md.int("llama.attention.head_count_kv", default: md.int("llama.attention.head_count")))
        o["rms_norm_eps"] = .double(try md.double("llama.attention.layer_norm_rms_epsilon"))
        o["rope_theta"] = .double(md.contains("llama.rope.freq_base") ? try md.double("llama.rope.freq_base") : 10000)
        o["max_position_embeddings"] = .int(try md.int("llama.context_length", default: 2048))
        o["tie_word_embeddings"] = .bool(!g.contains("output.weight"))
        let config = try ModelRegistry.config(json: Data(try JSONSerializer.string(.object(o)).utf8), source: g.path)
        let m = CausalLM(config: config)
        try m.load(from: GGUFLlamaTensors(g, heads: config.numHeads, kvHeads: config.numKVHeads))
        return m
    }
}

/// Sampling settings a model's generation_config.json sets (transformers' defaults apply to the others).
public struct GenerationDefaults: Sendable {
    public var temperature: Double?
    public var topK: Int?
    public var topP: Double?
    public var repetitionPenalty: Double?
    public var eosTokenIds: [Int]?

    public init() {}

    static func load(directory: String) throws -> GenerationDefaults {
        let path = (directory as NSString).appendingPathComponent("generation_config.json")
        var d = GenerationDefaults()
        guard let data = FileManager.default.contents(atPath: path) else { return d }
        guard let o = try JSONParser.parse(String(decoding: data, as: UTF8.self)).objectValue else {
            throw IOError(path, "not a JSON object")
        }
        func number(_ k: String) throws -> Double? {
            guard let v = o[k], v != .null else { return nil }
            guard let x = v.doubleValue else { throw IOError(path, "\(k) is not a number") }
            return x
        }
        d.temperature = try number("temperature")
        d.topK = try number("top_k").map { Int($0) }
        d.topP = try number("top_p")
        d.repetitionPenalty = try number("repetition_penalty")
        if let e = o["eos_token_id"], e != .null {
            if let i = e.intValue { d.eosTokenIds = [i] }
            else if let a = e.arrayValue, a.allSatisfy({ $0.intValue != nil }) { d.eosTokenIds = a.map { $0.intValue! } }
            else { throw IOError(path, "eos_token_id is neither an integer nor a list of integers") }
        }
        return d
    }
}

/// A safetensors checkpoint as a TensorSource.
final class SafetensorsTensors: TensorSource {
    let checkpoint: SafetensorsCheckpoint
    init(_ c: SafetensorsCheckpoint) { checkpoint = c }
    var sourceName: String { checkpoint.path }
    var tensorNames: [String] { checkpoint.names }
    func shape(of name: String) throws -> [Int] { try checkpoint.info(name).shape }
    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try checkpoint.read(name, into: destination)
    }
}

/// A GGUF file of a Llama-architecture model under its HF tensor names, q/k rows un-permuted.
final class GGUFLlamaTensors: TensorSource {
    let file: GGUFFile
    let heads: Int, kvHeads: Int
    var map: [String: String] = [:]  // HF name -> GGUF name
    var sourceName: String { file.path }
    var tensorNames: [String] { file.names.map { hf[$0] ?? $0 } }
    var hf: [String: String] = [:]   // GGUF name -> HF name

    init(_ file: GGUFFile, heads: Int, kvHeads: Int) {
        self.file = file
        self.heads = heads
        self.kvHeads = kvHeads
        let per = ["attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                   "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                   "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"]
        for name in file.names {
            let parts = name.split(separator: ".")
            var h: String?
            if name == "token_embd.weight" { h = "model.embed_tokens.weight" }
            else if name == "output_norm.weight" { h = "model.norm.weight" }
            else if name == "output.weight" { h = "lm_head.weight" }
            else if parts.count == 4, parts[0] == "blk", let p = per[String(parts[2])] {
                h = "model.layers.\(parts[1]).\(p).\(parts[3])"
            }
            if let h { map[h] = name; hf[name] = h }  // unmapped names stay as they are (load rejects them)
        }
    }

    func shape(of name: String) throws -> [Int] { try file.info(map[name] ?? name).shape }

    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let g = map[name] ?? name
        if g.hasSuffix(".attn_q.weight") {
            try file.readLlamaQK(g, heads: heads, into: destination)
        } else if g.hasSuffix(".attn_k.weight") {
            try file.readLlamaQK(g, heads: kvHeads, into: destination)
        } else {
            try file.read(g, into: destination)
        }
    }
}

extension GenerationDefaults {
    /// transformers' library defaults for what neither the command line nor generation_config.json sets.
    public static let library = (temperature: 1.0, topK: 50, topP: 1.0, repetitionPenalty: 1.0)

    /// Settings from explicit values, else the model's generation_config.json, else transformers' defaults
    /// (the official sampling passes only top_p, so temperature and top-k come from the model's file).
    public func settings(temperature: Double?, topK: Int?, topP: Double?, minP: Double?,
                         repetitionPenalty: Double?) -> SamplingSettings {
        let l = Self.library
        return SamplingSettings(temperature: temperature ?? self.temperature ?? l.temperature,
                                topK: topK ?? self.topK ?? l.topK, topP: topP ?? self.topP ?? l.topP, minP: minP,
                                repetitionPenalty: repetitionPenalty ?? self.repetitionPenalty ?? l.repetitionPenalty)
    }
}
