// model_type -> architecture: config decoding and the HF tensor table. An unknown model_type throws.
// Reference: transformers' AutoConfig mapping; mlx-swift-lm LLMModelFactory.
import Foundation

public enum ModelRegistry {
    public static let supported = ["gpt2", "gpt_neox", "llama", "mistral", "qwen2"]

    /// Decodes a HF config.json. `source` names the file in errors.
    public static func config(json data: Data, source: String) throws(ModelError) -> ModelConfig {
        let object: JSONObject
        do {
            guard let o = try JSONParser.parse(String(decoding: data, as: UTF8.self)).objectValue else {
                throw ModelError.invalidConfig(source: source, message: "config.json is not a JSON object")
            }
            object = o
        } catch let e as JSONParseError {
            throw .invalidConfig(source: source, message: e.description)
        } catch let e as ModelError {
            throw e
        } catch {
            throw .invalidConfig(source: source, message: "\(error)")
        }
        guard let modelType = object["model_type"]?.stringValue else {
            throw .invalidConfig(source: source, message: "config.json has no \"model_type\"")
        }
        switch modelType {
        case "gpt2":
            return try HFConfig.decode(GPT2Config.self, from: data, source: source).modelConfig(json: object, source: source)
        case "gpt_neox":
            return try HFConfig.decode(GPTNeoXConfig.self, from: data, source: source).modelConfig(json: object, source: source)
        case "llama", "mistral", "qwen2":
            return try HFConfig.decode(LlamaConfig.self, from: data, source: source)
                .modelConfig(modelType: modelType, json: object, source: source)
        default:
            throw .unsupportedModelType(source: source, modelType: modelType)
        }
    }

    /// The HF tensors of a model with this configuration, in checkpoint order.
    static func tensors(_ c: ModelConfig) -> [HFTensor] {
        switch c.architecture {
        case .gpt2: return GPT2.tensors(c)
        case .gptNeoX: return GPTNeoX.tensors(c)
        case .llama: return Llama.tensors(c)
        }
    }

    /// Tensors a checkpoint may carry that are not parameters (buffers), skipped at load.
    static func ignorable(_ name: String, _ c: ModelConfig) -> Bool {
        switch c.architecture {
        case .gpt2: return GPT2.ignorable(name)
        case .gptNeoX: return GPTNeoX.ignorable(name)
        case .llama: return Llama.ignorable(name)
        }
    }
}
