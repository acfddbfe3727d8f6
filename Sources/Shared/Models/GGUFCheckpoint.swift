// A llama-architecture GGUF file (llama.cpp's format, e.g. SmolLM2-135M-Instruct.Q4_1.gguf) seen as a
// Hugging Face checkpoint: the config.json that its metadata implies, and its tensors under HF names,
// dequantized to f32, with llama.cpp's q/k row permutation undone (resources.md §3; the inverse of
// llama.cpp convert_hf_to_gguf.py LlamaModel.permute). What transformers' GGUF loader does for llama.
import Foundation

public final class GGUFCheckpoint: TensorSource {
    public let gguf: GGUFFile
    /// The model configuration (model_type "llama"), from the file's metadata.
    public let config: ModelConfig
    /// HF name -> GGUF name, and for q/k the head count whose permutation is undone.
    let names: [String: (gguf: String, qkHeads: Int?)]
    public let tensorNames: [String]
    public var sourceName: String { gguf.path }

    public convenience init(path: String) throws { try self.init(gguf: GGUFFile(path: path)) }

    public init(gguf: GGUFFile) throws {
        self.gguf = gguf
        let m = gguf.metadata
        let source = gguf.path
        let arch = try m.string("general.architecture")
        guard arch == "llama" else {
            throw ModelError.invalidConfig(source: source, message: "GGUF architecture \"\(arch)\" is not supported (llama only)")
        }
        if let scaling = m["llama.rope.scaling.type"], case .string(let s) = scaling, s != "none" {
            throw ModelError.invalidConfig(source: source, message: "GGUF RoPE scaling \"\(s)\" is not supported")
        }
        let heads = try m.int("llama.attention.head_count")
        let kvHeads = try m.int("llama.attention.head_count_kv", default: heads)
        let hidden = try m.int("llama.embedding_length")
        let embed = try gguf.info("token_embd.weight")
        var c = JSONObject()
        c["model_type"] = .string("llama")
        c["vocab_size"] = .int(embed.shape[0])
        c["hidden_size"] = .int(hidden)
        c["intermediate_size"] = .int(try m.int("llama.feed_forward_length"))
        c["num_hidden_layers"] = .int(try m.int("llama.block_count"))
        c["num_attention_heads"] = .int(heads)
        c["num_key_value_heads"] = .int(kvHeads)
        c["head_dim"] = .int(try m.int("llama.attention.key_length", default: hidden / heads))
        c["max_position_embeddings"] = .int(try m.int("llama.context_length", default: 2048))
        c["rms_norm_eps"] = .double(try m.double("llama.attention.layer_norm_rms_epsilon"))
        c["rope_theta"] = .double(m.contains("llama.rope.freq_base") ? try m.double("llama.rope.freq_base") : 10_000)
        c["tie_word_embeddings"] = .bool(!gguf.contains("output.weight"))
        c["hidden_act"] = .string("silu")
        var bytes: [UInt8] = []
        try JSONSerializer.write(c, to: &bytes)
        config = try ModelRegistry.config(json: Data(bytes), source: source)

        var map: [String: (String, Int?)] = [:]
        var order: [String] = []
        func add(_ hf: String, _ g: String, _ qk: Int? = nil) {
            guard gguf.contains(g) else { return }  // a missing tensor is reported by CausalLM.load
            map[hf] = (g, qk); order.append(hf)
        }
        add("model.embed_tokens.weight", "token_embd.weight")
        for l in 0..<config.numLayers {
            let b = "blk.\(l).", h = "model.layers.\(l)."
            add(h + "input_layernorm.weight", b + "attn_norm.weight")
            add(h + "self_attn.q_proj.weight", b + "attn_q.weight", heads)
            add(h + "self_attn.k_proj.weight", b + "attn_k.weight", kvHeads)
            add(h + "self_attn.v_proj.weight", b + "attn_v.weight")
            add(h + "self_attn.o_proj.weight", b + "attn_output.weight")
            add(h + "post_attention_layernorm.weight", b + "ffn_norm.weight")
            add(h + "mlp.gate_proj.weight", b + "ffn_gate.weight")
            add(h + "mlp.up_proj.weight", b + "ffn_up.weight")
            add(h + "mlp.down_proj.weight", b + "ffn_down.weight")
        }
        add("model.norm.weight", "output_norm.weight")
        add("lm_head.weight", "output.weight")
        let known = Set(map.values.map(\.0))
        if let extra = gguf.names.first(where: { !known.contains($0) && $0 != "rope_freqs.weight" }) {
            throw ModelError.unexpectedTensor(source: source, name: extra)
        }
        if gguf.contains("rope_freqs.weight") {
            throw ModelError.invalidConfig(source: source, message: "GGUF rope_freqs (Llama-3 RoPE scaling) is not supported")
        }
        names = map
        tensorNames = order
    }

    public func shape(of name: String) throws -> [Int] {
        guard let n = names[name] else { throw ModelError.missingTensor(source: sourceName, name: name) }
        return try gguf.info(n.gguf).shape
    }

    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let n = names[name] else { throw ModelError.missingTensor(source: sourceName, name: name) }
        if let heads = n.qkHeads {
            let t = try gguf.llamaQK(n.gguf, heads: heads)
            precondition(t.count == destination.count)
            destination.baseAddress!.update(from: t.pointer, count: t.count)
        } else {
            try gguf.read(n.gguf, into: destination)
        }
    }

    /// A CausalLM with this file's weights.
    public func model() throws -> CausalLM {
        let m = CausalLM(config: config)
        try m.load(from: self)
        return m
    }
}
