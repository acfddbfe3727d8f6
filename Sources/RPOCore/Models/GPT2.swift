// GPT-2 (HF `gpt2`): learned positions, pre-LayerNorm blocks, tanh-GELU MLP, tied lm_head; Conv1D weights
// stored (in, out) and transposed to the Linear layout at load.
// Reference: transformers 5.24.0 models/gpt2/{configuration,modeling}_gpt2.py; llm.c train_gpt2.c.
import Foundation

struct GPT2Config: Decodable {
    var vocabSize = 50257, nPositions = 1024, nEmbd = 768, nLayer = 12, nHead = 12
    var nInner: Int?
    var activationFunction = "gelu_new"
    var layerNormEpsilon = 1e-5
    var scaleAttnWeights = true, scaleAttnByInverseLayerIdx = false, addCrossAttention = false
    var tieWordEmbeddings = true

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", nPositions = "n_positions", nEmbd = "n_embd", nLayer = "n_layer"
        case nHead = "n_head", nInner = "n_inner", activationFunction = "activation_function"
        case layerNormEpsilon = "layer_norm_epsilon", scaleAttnWeights = "scale_attn_weights"
        case scaleAttnByInverseLayerIdx = "scale_attn_by_inverse_layer_idx"
        case addCrossAttention = "add_cross_attention", tieWordEmbeddings = "tie_word_embeddings"
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? vocabSize
        nPositions = try c.decodeIfPresent(Int.self, forKey: .nPositions) ?? nPositions
        nEmbd = try c.decodeIfPresent(Int.self, forKey: .nEmbd) ?? nEmbd
        nLayer = try c.decodeIfPresent(Int.self, forKey: .nLayer) ?? nLayer
        nHead = try c.decodeIfPresent(Int.self, forKey: .nHead) ?? nHead
        nInner = try c.decodeIfPresent(Int.self, forKey: .nInner)
        activationFunction = try c.decodeIfPresent(String.self, forKey: .activationFunction) ?? activationFunction
        layerNormEpsilon = try c.decodeIfPresent(Double.self, forKey: .layerNormEpsilon) ?? layerNormEpsilon
        scaleAttnWeights = try c.decodeIfPresent(Bool.self, forKey: .scaleAttnWeights) ?? true
        scaleAttnByInverseLayerIdx = try c.decodeIfPresent(Bool.self, forKey: .scaleAttnByInverseLayerIdx) ?? false
        addCrossAttention = try c.decodeIfPresent(Bool.self, forKey: .addCrossAttention) ?? false
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
    }

    func modelConfig(json: JSONObject, source: String) throws(ModelError) -> ModelConfig {
        if scaleAttnByInverseLayerIdx {
            throw .invalidConfig(source: source, message: "scale_attn_by_inverse_layer_idx = true is not supported")
        }
        if addCrossAttention {
            throw .invalidConfig(source: source, message: "add_cross_attention = true is not supported (decoder-only models)")
        }
        if nHead <= 0 || nEmbd % nHead != 0 {
            throw .invalidConfig(source: source, message: "n_embd \(nEmbd) is not a multiple of n_head \(nHead)")
        }
        let hs = nEmbd / nHead
        return try ModelConfig(
            architecture: .gpt2, modelType: "gpt2", vocabSize: vocabSize, hiddenSize: nEmbd, numLayers: nLayer,
            numHeads: nHead, numKVHeads: nHead, headDim: hs, intermediateSize: nInner ?? 4 * nEmbd,
            maxPositions: nPositions, norm: .layerNorm, normEps: Float(layerNormEpsilon),
            mlp: .gelu(HFConfig.gelu(activationFunction, key: "activation_function", source: source)),
            position: .learned, qkvBias: true, outBias: true, mlpBias: true, parallelResidual: false,
            tiedEmbeddings: tieWordEmbeddings, attentionScale: scaleAttnWeights ? 1 / Float(hs).squareRoot() : 1,
            slidingWindow: nil, json: json
        ).validated(source)
    }
}

enum GPT2 {
    /// HF tensor names and layouts. Conv1D weights (in, out) are transposed into (out, in).
    static func tensors(_ c: ModelConfig) -> [HFTensor] {
        let C = c.hiddenSize, H = c.intermediateSize
        var t: [HFTensor] = [
            .init("transformer.wte.weight", [c.vocabSize, C], "embed"),
            .init("transformer.wpe.weight", [c.maxPositions, C], "pos_embed"),
        ]
        for l in 0..<c.numLayers {
            let p = "transformer.h.\(l).", q = "layers.\(l)."
            t += [
                .init(p + "ln_1.weight", [C], q + "norm1.weight"), .init(p + "ln_1.bias", [C], q + "norm1.bias"),
                .init(p + "attn.c_attn.weight", [C, 3 * C], q + "qkv.weight", transform: .transpose),
                .init(p + "attn.c_attn.bias", [3 * C], q + "qkv.bias"),
                .init(p + "attn.c_proj.weight", [C, C], q + "out.weight", transform: .transpose),
                .init(p + "attn.c_proj.bias", [C], q + "out.bias"),
                .init(p + "ln_2.weight", [C], q + "norm2.weight"), .init(p + "ln_2.bias", [C], q + "norm2.bias"),
                .init(p + "mlp.c_fc.weight", [C, H], q + "up.weight", transform: .transpose),
                .init(p + "mlp.c_fc.bias", [H], q + "up.bias"),
                .init(p + "mlp.c_proj.weight", [H, C], q + "down.weight", transform: .transpose),
                .init(p + "mlp.c_proj.bias", [C], q + "down.bias"),
            ]
        }
        t += [.init("transformer.ln_f.weight", [C], "final_norm.weight"),
              .init("transformer.ln_f.bias", [C], "final_norm.bias")]
        if !c.tiedEmbeddings { t.append(.init("lm_head.weight", [c.vocabSize, C], "lm_head")) }
        return t
    }

    /// Buffers older GPT-2 checkpoints carry that are not parameters (the causal mask).
    static func ignorable(_ name: String) -> Bool {
        name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias")
    }
}
