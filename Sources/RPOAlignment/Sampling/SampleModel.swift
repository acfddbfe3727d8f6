// The model, tokenizer and generation defaults rpo-sample loads from --model: a GGUF file (weights, tokenizer
// and chat template from it) or a Hugging Face directory (config.json, weights, tokenizer files,
// generation_config.json).
// Reference: transformers 5.24.0 generation/configuration_utils.py (generation_config.json keys, defaults).
import Foundation
import RPOCore

public struct SampleModel {
    public let model: CausalLM
    public let tokenizer: Tokenizer
    /// Sampling defaults of the model's generation_config.json (nil: not set there).
    public let defaults: GenerationDefaults
    /// The model's name for the records: the file or directory name.
    public let name: String

    /// The model (CausalLM.load), its tokenizer (Tokenizer.load) and, for a directory, the settings of its
    /// generation_config.json.
    public static func load(path: String) throws -> SampleModel {
        let name = URL(fileURLWithPath: path).lastPathComponent
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw IOError(path, "no such file or directory")
        }
        let defaults = isDir.boolValue ? try GenerationDefaults.load(directory: path) : GenerationDefaults()
        return SampleModel(model: try CausalLM.load(path: path), tokenizer: try Tokenizer.load(path: path),
                           defaults: defaults, name: name)
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
        let parsed: JSON
        do { parsed = try JSONParser.parse(String(decoding: data, as: UTF8.self)) } catch { throw IOError(path, "\(error)") }
        guard let o = parsed.objectValue else { throw IOError(path, "not a JSON object") }
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
