// The architecture-neutral description of a causal LM that the engine (CausalLM) runs, the errors of the
// Models folder, and the pieces of HF config.json decoding the three architectures share.
// Each architecture's file (GPT2.swift, GPTNeoX.swift, Llama.swift) decodes its own config.json keys.
import Foundation

/// The architectures the engine implements.
public enum Architecture: String, Sendable {
    case gpt2, gptNeoX, llama
}

public enum NormKind: Sendable, Equatable { case layerNorm, rmsNorm }

public enum MLPKind: Sendable, Equatable {
    /// up -> GELU -> down (GPT-2, GPT-NeoX)
    case gelu(GELUKind)
    /// down(silu(gate) * up) (Llama family)
    case swiglu
}

public enum PositionEncoding: Sendable, Equatable {
    /// Learned absolute position embeddings (GPT-2's wpe).
    case learned
    /// Rotary embedding on the first `rotaryDim` channels of every q/k head (rotate_half layout).
    case rotary(theta: Double, rotaryDim: Int)
}

/// Hyper-parameters of one model, decoded from a HF config.json or GGUF metadata.
public struct ModelConfig: Sendable {
    public var architecture: Architecture
    /// HF `model_type` ("gpt2", "gpt_neox", "llama", "mistral", "qwen2").
    public var modelType: String
    public var vocabSize: Int
    /// C, the residual width.
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    /// Width of the MLP's hidden layer (H).
    public var intermediateSize: Int
    /// Longest sequence: a hard limit with learned positions, HF's `max_position_embeddings` otherwise.
    public var maxPositions: Int
    public var norm: NormKind
    public var normEps: Float
    public var mlp: MLPKind
    public var position: PositionEncoding
    public var qkvBias: Bool
    public var outBias: Bool
    public var mlpBias: Bool
    /// GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x)) instead of the sequential form.
    public var parallelResidual: Bool
    public var tiedEmbeddings: Bool
    /// Multiplies q kᵀ (1/sqrt(headDim) unless GPT-2's `scale_attn_weights` is false).
    public var attentionScale: Float
    /// Mistral/Qwen2 sliding-window attention: sequences longer than this are rejected (not implemented).
    public var slidingWindow: Int?
    /// The config.json object as read (or as built from GGUF metadata): written back when saving.
    public var json: JSONObject

    /// Width of a token's q, k, v row: (NH + 2 KVH) hs.
    public var qkvSize: Int { (numHeads + 2 * numKVHeads) * headDim }
    /// Width of the attention output (NH hs), the input of the output projection.
    public var attnSize: Int { numHeads * headDim }
    /// Rows of the fused up projection: H for GELU, 2H (gate then up) for SwiGLU.
    public var upSize: Int { mlp == .swiglu ? 2 * intermediateSize : intermediateSize }

    /// Largest vocabulary and context accepted from a model file (sizes beyond are taken as corrupt).
    public static let maxVocabulary = 1 << 24
    public static let maxContext = 1 << 24

    /// Internal consistency; the decoders call it after filling the fields.
    func validated(_ source: String) throws(ModelError) -> ModelConfig {
        func bad(_ m: String) -> ModelError { .invalidConfig(source: source, message: m) }
        if vocabSize <= 0 { throw bad("vocab_size must be positive, got \(vocabSize)") }
        if hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKVHeads <= 0 || headDim <= 0
            || intermediateSize <= 0 {
            throw bad("hidden size, layer, head, head-dim and intermediate counts must be positive")
        }
        // Sane bounds (beyond the largest published models), so that no size from a file can overflow the
        // parameter arithmetic or ask for an absurd allocation before the weights are checked against it.
        for (key, value, limit) in [("vocab_size", vocabSize, ModelConfig.maxVocabulary),
                                    ("hidden_size", hiddenSize, 1 << 16), ("num_hidden_layers", numLayers, 1 << 10),
                                    ("num_attention_heads", numHeads, 1 << 12), ("num_key_value_heads", numKVHeads, 1 << 12),
                                    ("head_dim", headDim, 1 << 12), ("intermediate_size", intermediateSize, 1 << 18),
                                    ("max_position_embeddings", maxPositions, ModelConfig.maxContext)] where value > limit {
            throw bad("\(key) \(value) is beyond the supported maximum \(limit)")
        }
        if numHeads % numKVHeads != 0 {
            throw bad("num_attention_heads \(numHeads) is not a multiple of num_key_value_heads \(numKVHeads)")
        }
        if maxPositions <= 0 { throw bad("max_position_embeddings must be positive") }
        if !(normEps > 0) { throw bad("the norm epsilon must be positive") }
        if case .rotary(let theta, let rd) = position {
            if rd <= 0 || rd % 2 != 0 || rd > headDim {
                throw bad("rotary dimension \(rd) must be even and within the head size \(headDim)")
            }
            if !(theta > 0) { throw bad("rope_theta must be positive, got \(theta)") }
        }
        return self
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unsupportedModelType(source: String, modelType: String)
    case invalidConfig(source: String, message: String)
    case missingTensor(source: String, name: String)
    case unexpectedTensor(source: String, name: String)
    case shapeMismatch(source: String, name: String, expected: [Int], found: [Int])
    case invalidBatch(String)
    case noTrainingForward
    case io(String)

    public var description: String {
        switch self {
        case .unsupportedModelType(let s, let t):
            return "\(s): unsupported model_type \"\(t)\" (supported: \(ModelRegistry.supported.joined(separator: ", ")))"
        case .invalidConfig(let s, let m): return "\(s): \(m)"
        case .missingTensor(let s, let n): return "\(s): missing tensor \"\(n)\""
        case .unexpectedTensor(let s, let n): return "\(s): unexpected tensor \"\(n)\" (not part of this architecture)"
        case .shapeMismatch(let s, let n, let e, let f):
            return "\(s): tensor \"\(n)\" has shape \(f), the config implies \(e)"
        case .invalidBatch(let m): return "invalid batch: \(m)"
        case .noTrainingForward: return "backward needs a preceding training forward (trainingLogProbs) of the same batch"
        case .io(let m): return m
        }
    }
}

// MARK: - Shared config.json decoding

/// RoPE settings as HF writes them: transformers >= 5 `rope_parameters` {rope_type, rope_theta,
/// partial_rotary_factor}, older files `rope_scaling` {type|rope_type, factor, ...} next to `rope_theta`.
struct RopeParameters: Decodable {
    var ropeType: String?
    var ropeTheta: Double?
    var partialRotaryFactor: Double?

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", type, ropeTheta = "rope_theta", partialRotaryFactor = "partial_rotary_factor"
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType) ?? c.decodeIfPresent(String.self, forKey: .type)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        partialRotaryFactor = try c.decodeIfPresent(Double.self, forKey: .partialRotaryFactor)
    }

    /// Only plain RoPE is implemented: scaled variants (linear, dynamic, yarn, llama3, ...) throw.
    func checkDefault(_ key: String, _ source: String) throws(ModelError) {
        if let t = ropeType, t != "default" {
            throw .invalidConfig(source: source, message: "\(key) type \"\(t)\" is not supported (only plain RoPE)")
        }
    }
}

enum HFConfig {
    /// Decodes `T` from config.json bytes, turning DecodingError into a ModelError naming the key.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String) throws(ModelError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let e as ModelError {
            throw e
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx),
                let DecodingError.dataCorrupted(ctx) {
            let key = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw .invalidConfig(source: source, message: "\(key.isEmpty ? "config" : key): \(ctx.debugDescription)")
        } catch {
            throw .invalidConfig(source: source, message: "\(error)")
        }
    }

    /// GELU variants by HF activation name.
    static func gelu(_ name: String, key: String, source: String) throws(ModelError) -> GELUKind {
        switch name {
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": return .tanh
        case "gelu": return .erf
        default:
            throw .invalidConfig(source: source, message: "\(key) \"\(name)\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast)")
        }
    }
}
