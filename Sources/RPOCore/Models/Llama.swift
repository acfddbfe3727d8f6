// The Llama family (HF `llama`, `mistral`, `qwen2`; SmolLM is `llama`): pre-RMSNorm blocks, RoPE with
// rope_theta, grouped-query attention, SwiGLU MLP, tied or untied lm_head, Qwen2's q/k/v biases, Llama's
// optional attention_bias / mlp_bias. q/k/v and gate/up are fused into one projection each.
// Reference: transformers 5.24.0 models/{llama,mistral,qwen2}/{configuration,modeling}_*.py.
import Foundation

struct LlamaConfig: Decodable {
    var vocabSize = 32000, hiddenSize = 4096, intermediateSize = 11008, numHiddenLayers = 32
    var numAttentionHeads = 32
    var numKeyValueHeads: Int?
    var headDim: Int?
    var hiddenAct = "silu"
    var maxPositionEmbeddings = 2048
    var rmsNormEps = 1e-6
    var tieWordEmbeddings = false, attentionBias = false, mlpBias = false
    var ropeTheta: Double?
    var ropeParameters: RopeParameters?, ropeScaling: RopeParameters?
    var slidingWindow: Int?, useSlidingWindow: Bool?, maxWindowLayers: Int?
    var layerTypes: [String]?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias", mlpBias = "mlp_bias"
        case ropeTheta = "rope_theta", ropeParameters = "rope_parameters", ropeScaling = "rope_scaling"
        case slidingWindow = "sliding_window", useSlidingWindow = "use_sliding_window"
        case maxWindowLayers = "max_window_layers", layerTypes = "layer_types"
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? numAttentionHeads
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? hiddenAct
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? maxPositionEmbeddings
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? rmsNormEps
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        ropeParameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeScaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        slidingWindow = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        useSlidingWindow = try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow)
        maxWindowLayers = try c.decodeIfPresent(Int.self, forKey: .maxWindowLayers)
        layerTypes = try c.decodeIfPresent([String].self, forKey: .layerTypes)
    }

    func modelConfig(modelType: String, json: JSONObject, source: String) throws(ModelError) -> ModelConfig {
        try ropeParameters?.checkDefault("rope_parameters", source)
        try ropeScaling?.checkDefault("rope_scaling", source)
        if hiddenAct != "silu" && hiddenAct != "swish" {
            throw .invalidConfig(source: source, message: "hidden_act \"\(hiddenAct)\" is not supported (silu)")
        }
        if headDim == nil && (numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0) {
            throw .invalidConfig(source: source, message: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        let hs = headDim ?? hiddenSize / max(numAttentionHeads, 1)
        // Which layers would use a sliding window (HF: Mistral all layers when sliding_window is set; Qwen2
        // only with use_sliding_window, from max_window_layers on, or as listed in layer_types).
        var window: Int? = nil
        switch modelType {
        case "mistral": window = slidingWindow
        case "qwen2":
            if useSlidingWindow == true, let w = slidingWindow {
                let sliding = layerTypes.map { $0.contains("sliding_attention") }
                    ?? ((maxWindowLayers ?? 28) < numHiddenLayers)
                if sliding { window = w }
            }
        default: if let w = slidingWindow { window = w }
        }
        let isQwen2 = modelType == "qwen2"
        return try ModelConfig(
            architecture: .llama, modelType: modelType, vocabSize: vocabSize, hiddenSize: hiddenSize,
            numLayers: numHiddenLayers, numHeads: numAttentionHeads,
            numKVHeads: numKeyValueHeads ?? numAttentionHeads, headDim: hs, intermediateSize: intermediateSize,
            maxPositions: maxPositionEmbeddings, norm: .rmsNorm, normEps: Float(rmsNormEps), mlp: .swiglu,
            position: .rotary(theta: ropeParameters?.ropeTheta ?? ropeTheta ?? 10000, rotaryDim: hs),
            qkvBias: isQwen2 || attentionBias, outBias: !isQwen2 && attentionBias, mlpBias: mlpBias,
            parallelResidual: false, tiedEmbeddings: tieWordEmbeddings, attentionScale: 1 / Float(hs).squareRoot(),
            slidingWindow: window, json: json
        ).validated(source)
    }
}

enum Llama {
    static func tensors(_ c: ModelConfig) -> [HFTensor] {
        let C = c.hiddenSize, H = c.intermediateSize, hs = c.headDim
        let qRows = c.numHeads * hs, kvRows = c.numKVHeads * hs
        var t: [HFTensor] = [.init("model.embed_tokens.weight", [c.vocabSize, C], "embed")]
        for l in 0..<c.numLayers {
            let p = "model.layers.\(l).", q = "layers.\(l)."
            t.append(.init(p + "input_layernorm.weight", [C], q + "norm1.weight"))
            for (i, (proj, rows)) in [("q_proj", qRows), ("k_proj", kvRows), ("v_proj", kvRows)].enumerated() {
                let at = i == 0 ? 0 : (i == 1 ? qRows : qRows + kvRows)
                t.append(.init(p + "self_attn.\(proj).weight", [rows, C], q + "qkv.weight", row: at))
                if c.qkvBias { t.append(.init(p + "self_attn.\(proj).bias", [rows], q + "qkv.bias", row: at)) }
            }
            t.append(.init(p + "self_attn.o_proj.weight", [C, qRows], q + "out.weight"))
            if c.outBias { t.append(.init(p + "self_attn.o_proj.bias", [C], q + "out.bias")) }
            t.append(.init(p + "post_attention_layernorm.weight", [C], q + "norm2.weight"))
            t.append(.init(p + "mlp.gate_proj.weight", [H, C], q + "up.weight", row: 0))
            t.append(.init(p + "mlp.up_proj.weight", [H, C], q + "up.weight", row: H))
            if c.mlpBias {
                t.append(.init(p + "mlp.gate_proj.bias", [H], q + "up.bias", row: 0))
                t.append(.init(p + "mlp.up_proj.bias", [H], q + "up.bias", row: H))
            }
            t.append(.init(p + "mlp.down_proj.weight", [C, H], q + "down.weight"))
            if c.mlpBias { t.append(.init(p + "mlp.down_proj.bias", [C], q + "down.bias")) }
        }
        t.append(.init("model.norm.weight", [C], "final_norm.weight"))
        if !c.tiedEmbeddings { t.append(.init("lm_head.weight", [c.vocabSize, C], "lm_head")) }
        return t
    }

    static func ignorable(_ name: String) -> Bool { name.hasSuffix(".rotary_emb.inv_freq") }
}
