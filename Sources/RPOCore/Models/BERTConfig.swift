// BERT encoder hyper-parameters from a HF config.json (`model_type` "bert"), and the error type of the BERT
// files. Only what changes the forward pass is read; options this encoder does not implement throw.
// Reference: transformers 5.24.0 models/bert/configuration_bert.py (defaults below are BertConfig's).
import Foundation

/// An error of the BERT encoder or the sentence-encoder directory it is loaded from, naming the file.
public struct BERTError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file or directory at fault.
    public let source: String
    public let message: String

    public init(_ source: String, _ message: String) { self.source = source; self.message = message }

    public var description: String { "\(source): \(message)" }
}

/// The activation of BERT's intermediate (feed-forward) layer, by HF `hidden_act`.
public enum BERTActivation: String, Sendable {
    /// `gelu`: 0.5 x (1 + erf(x / sqrt 2)), the BERT default.
    case geluErf
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    case geluTanh
    case relu

    static func named(_ name: String) -> BERTActivation? {
        switch name {
        case "gelu": return .geluErf
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": return .geluTanh
        case "relu": return .relu
        default: return nil
        }
    }
}

public struct BERTConfig: Sendable, Equatable {
    public var vocabSize = 30522
    /// C, the residual width.
    public var hiddenSize = 768
    public var numLayers = 12
    public var numHeads = 12
    /// Width of the feed-forward hidden layer (I).
    public var intermediateSize = 3072
    public var activation = BERTActivation.geluErf
    /// Rows of the absolute position table: the longest sequence the model can read.
    public var maxPositions = 512
    public var typeVocabSize = 2
    public var layerNormEps: Float = 1e-12

    public var headDim: Int { hiddenSize / numHeads }

    public init() {}

    /// Decodes config.json bytes; `source` names the file in errors.
    public static func decode(_ data: Data, source: String) throws -> BERTConfig {
        func bad(_ m: String) -> BERTError { BERTError(source, m) }
        let json: JSON
        do { json = try JSONParser.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw bad(error.description)
        }
        guard let o = json.objectValue else { throw bad("config.json is not a JSON object") }
        var c = BERTConfig()
        if let t = o["model_type"], !t.isNull {
            guard let s = t.stringValue else { throw bad("\"model_type\" must be a string") }
            if s != "bert" {
                throw bad("model_type \"\(s)\" is not supported by the BERT encoder (only \"bert\")")
            }
        }
        func int(_ key: String, _ value: inout Int) throws {
            guard let v = o[key], !v.isNull else { return }
            guard let i = v.intValue else { throw bad("\"\(key)\" must be an integer, found \(v.typeName)") }
            if i <= 0 { throw bad("\"\(key)\" must be positive, found \(i)") }
            value = i
        }
        try int("vocab_size", &c.vocabSize)
        try int("hidden_size", &c.hiddenSize)
        try int("num_hidden_layers", &c.numLayers)
        try int("num_attention_heads", &c.numHeads)
        try int("intermediate_size", &c.intermediateSize)
        try int("max_position_embeddings", &c.maxPositions)
        try int("type_vocab_size", &c.typeVocabSize)
        if let v = o["layer_norm_eps"], !v.isNull {
            guard let d = v.doubleValue, d > 0 else { throw bad("\"layer_norm_eps\" must be a positive number") }
            c.layerNormEps = Float(d)
        }
        if let v = o["hidden_act"], !v.isNull {
            guard let s = v.stringValue, let a = BERTActivation.named(s) else {
                throw bad("hidden_act \(v.stringValue.map { "\"\($0)\"" } ?? v.typeName) is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)")
            }
            c.activation = a
        }
        if let v = o["position_embedding_type"], !v.isNull, v.stringValue != "absolute" {
            throw bad("position_embedding_type \(v.stringValue.map { "\"\($0)\"" } ?? v.typeName) is not supported (only \"absolute\")")
        }
        if o["is_decoder"]?.boolValue == true || o["add_cross_attention"]?.boolValue == true {
            throw bad("decoder BERT configurations (is_decoder, add_cross_attention) are not supported")
        }
        // Sane bounds (beyond any published BERT), so that no size from the file can overflow the parameter
        // arithmetic or ask for an absurd allocation before the weights are checked against it.
        for (key, value, limit) in [("vocab_size", c.vocabSize, 1 << 24), ("hidden_size", c.hiddenSize, 1 << 16),
                                    ("num_hidden_layers", c.numLayers, 1 << 10), ("num_attention_heads", c.numHeads, 1 << 12),
                                    ("intermediate_size", c.intermediateSize, 1 << 18),
                                    ("max_position_embeddings", c.maxPositions, 1 << 20),
                                    ("type_vocab_size", c.typeVocabSize, 1 << 16)] where value > limit {
            throw bad("\"\(key)\" \(value) is beyond the supported maximum \(limit)")
        }
        if c.hiddenSize % c.numHeads != 0 {
            throw bad("hidden_size \(c.hiddenSize) is not a multiple of num_attention_heads \(c.numHeads)")
        }
        return c
    }
}
