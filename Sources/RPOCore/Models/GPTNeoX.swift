// GPT-NeoX / Pythia (HF `gpt_neox`): pre-LayerNorm blocks with parallel (or sequential) residual, partial
// rotary embedding, GELU MLP, untied `embed_out`; the fused query_key_value weight is stored per head as
// [q | k | v] rows and regrouped at load into the engine's [all q | all k | all v] layout.
// Reference: transformers 5.24.0 models/gpt_neox/{configuration,modeling}_gpt_neox.py.
import Foundation

struct GPTNeoXConfig: Decodable {
    var vocabSize = 50432, hiddenSize = 6144, numHiddenLayers = 44, numAttentionHeads = 64
    var intermediateSize = 24576
    var hiddenAct = "gelu"
    var maxPositionEmbeddings = 2048
    var layerNormEps = 1e-5
    var tieWordEmbeddings = false, useParallelResidual = true, attentionBias = true
    var rotaryPct: Double?, rotaryEmbBase: Double?
    var ropeParameters: RopeParameters?, ropeScaling: RopeParameters?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act", maxPositionEmbeddings = "max_position_embeddings"
        case layerNormEps = "layer_norm_eps", tieWordEmbeddings = "tie_word_embeddings"
        case useParallelResidual = "use_parallel_residual", attentionBias = "attention_bias"
        case rotaryPct = "rotary_pct", rotaryEmbBase = "rotary_emb_base"
        case ropeParameters = "rope_parameters", ropeScaling = "rope_scaling"
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? numAttentionHeads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? hiddenAct
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? maxPositionEmbeddings
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? layerNormEps
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        useParallelResidual = try c.decodeIfPresent(Bool.self, forKey: .useParallelResidual) ?? true
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? true
        rotaryPct = try c.decodeIfPresent(Double.self, forKey: .rotaryPct)
        rotaryEmbBase = try c.decodeIfPresent(Double.self, forKey: .rotaryEmbBase)
        ropeParameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeScaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
    }

    func modelConfig(json: JSONObject, source: String) throws(ModelError) -> ModelConfig {
        try ropeParameters?.checkDefault("rope_parameters", source)
        try ropeScaling?.checkDefault("rope_scaling", source)
        if numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0 {
            throw .invalidConfig(source: source, message: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        let hs = hiddenSize / numAttentionHeads
        // HF: rope_parameters.partial_rotary_factor, else rotary_pct (default 0.25); int(head_size * factor)
        let pct = ropeParameters?.partialRotaryFactor ?? rotaryPct ?? 0.25
        let theta = ropeParameters?.ropeTheta ?? rotaryEmbBase ?? 10000
        let rd = Int(Double(hs) * pct)
        return try ModelConfig(
            architecture: .gptNeoX, modelType: "gpt_neox", vocabSize: vocabSize, hiddenSize: hiddenSize,
            numLayers: numHiddenLayers, numHeads: numAttentionHeads, numKVHeads: numAttentionHeads, headDim: hs,
            intermediateSize: intermediateSize, maxPositions: maxPositionEmbeddings, norm: .layerNorm,
            normEps: Float(layerNormEps), mlp: .gelu(HFConfig.gelu(hiddenAct, key: "hidden_act", source: source)),
            position: .rotary(theta: theta, rotaryDim: rd), qkvBias: attentionBias, outBias: attentionBias,
            mlpBias: true, parallelResidual: useParallelResidual, tiedEmbeddings: tieWordEmbeddings,
            attentionScale: 1 / Float(hs).squareRoot(), slidingWindow: nil, json: json
        ).validated(source)
    }
}

enum GPTNeoX {
    static func tensors(_ c: ModelConfig) -> [HFTensor] {
        let C = c.hiddenSize, H = c.intermediateSize, A = c.attnSize
        let qkv = HFTensor.Transform.neoxQKV(heads: c.numHeads, headDim: c.headDim)
        var t: [HFTensor] = [.init("gpt_neox.embed_in.weight", [c.vocabSize, C], "embed")]
        for l in 0..<c.numLayers {
            let p = "gpt_neox.layers.\(l).", q = "layers.\(l)."
            t += [
                .init(p + "input_layernorm.weight", [C], q + "norm1.weight"),
                .init(p + "input_layernorm.bias", [C], q + "norm1.bias"),
                .init(p + "attention.query_key_value.weight", [3 * A, C], q + "qkv.weight", transform: qkv),
            ]
            if c.qkvBias { t.append(.init(p + "attention.query_key_value.bias", [3 * A], q + "qkv.bias", transform: qkv)) }
            t.append(.init(p + "attention.dense.weight", [C, A], q + "out.weight"))
            if c.outBias { t.append(.init(p + "attention.dense.bias", [C], q + "out.bias")) }
            t += [
                .init(p + "post_attention_layernorm.weight", [C], q + "norm2.weight"),
                .init(p + "post_attention_layernorm.bias", [C], q + "norm2.bias"),
                .init(p + "mlp.dense_h_to_4h.weight", [H, C], q + "up.weight"),
                .init(p + "mlp.dense_h_to_4h.bias", [H], q + "up.bias"),
                .init(p + "mlp.dense_4h_to_h.weight", [C, H], q + "down.weight"),
                .init(p + "mlp.dense_4h_to_h.bias", [C], q + "down.bias"),
            ]
        }
        t += [.init("gpt_neox.final_layer_norm.weight", [C], "final_norm.weight"),
              .init("gpt_neox.final_layer_norm.bias", [C], "final_norm.bias")]
        if !c.tiedEmbeddings { t.append(.init("embed_out.weight", [c.vocabSize, C], "lm_head")) }
        return t
    }

    /// Buffers of older checkpoints (causal mask, rotary inverse frequencies).
    static func ignorable(_ name: String) -> Bool {
        name.hasSuffix(".attention.bias") || name.hasSuffix(".attention.masked_bias")
            || name.hasSuffix(".rotary_emb.inv_freq")
    }
}
