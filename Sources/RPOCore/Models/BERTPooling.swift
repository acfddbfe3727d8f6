// sentence-transformers' modules after the transformer: Pooling (cls, max, mean, mean_sqrt_len_tokens,
// weightedmean, lasttoken, concatenated in the configured order), Dense (linear + activation) and
// Normalize (L2). Pooling reads packed sequences, so its masks are implicit: only a sequence's own tokens.
// Reference: sentence-transformers 6.2.0 sentence_transformer/modules/pooling.py (Pooling._forward_padded,
// legacy pooling_mode_* keys), base/modules/dense.py, base/modules/normalize.py (F.normalize, eps 1e-12).
// Legend: N packed tokens, C hidden, D output width.
import Foundation

public enum PoolingMode: String, Sendable, CaseIterable {
    case cls, max, mean
    case meanSqrtLenTokens = "mean_sqrt_len_tokens"
    case weightedMean = "weightedmean"
    case lastToken = "lasttoken"

    /// The legacy config keys, in the order sentence-transformers concatenates their outputs.
    static let legacyKeys: [(String, PoolingMode)] = [
        ("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_tokens", .mean),
        ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLenTokens),
        ("pooling_mode_weightedmean_tokens", .weightedMean), ("pooling_mode_lasttoken", .lastToken),
    ]

    /// The modes of a `1_Pooling/config.json`: `pooling_mode` (a name or a list of names), or the legacy
    /// boolean keys (none set means mean, as sentence-transformers reads them).
    static func parse(_ o: JSONObject, source: String) throws -> [PoolingMode] {
        func bad(_ m: String) -> BERTError { BERTError(source, m) }
        func mode(_ v: JSON) throws -> PoolingMode {
            guard let s = v.stringValue else { throw bad("\"pooling_mode\" entries must be strings, found \(v.typeName)") }
            guard let m = PoolingMode(rawValue: s) else {
                throw bad("unknown pooling mode \"\(s)\" (known: \(PoolingMode.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return m
        }
        if let v = o["pooling_mode"], !v.isNull {
            if let a = v.arrayValue {
                if a.isEmpty { throw bad("\"pooling_mode\" is an empty list") }
                return try a.map(mode)
            }
            return [try mode(v)]
        }
        var modes: [PoolingMode] = []
        for (key, m) in legacyKeys {
            guard let v = o[key], !v.isNull else { continue }
            guard let b = v.boolValue else { throw bad("\"\(key)\" must be a boolean, found \(v.typeName)") }
            if b { modes.append(m) }
        }
        return modes.isEmpty ? [.mean] : modes
    }

    /// out (D = modes.count C) = the pooled rows of one sequence's L tokens `x` (L, C), L > 0.
    static func pool(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, L: Int, C: Int,
                     modes: [PoolingMode]) {
        var o = out
        for m in modes {
            switch m {
            case .cls:
                o.update(from: x, count: C)
            case .lastToken:
                o.update(from: x + (L - 1) * C, count: C)
            case .max:
                o.update(from: x, count: C)
                for t in 1..<Swift.max(L, 1) {
                    let r = x + t * C
                    for c in 0..<C { o[c] = Swift.max(o[c], r[c]) }
                }
            case .mean, .meanSqrtLenTokens:
                // ST: sum(x * mask) / clamp(sum(mask), 1e-9), or / sqrt of it.
                o.update(repeating: 0, count: C)
                for t in 0..<L {
                    let r = x + t * C
                    for c in 0..<C { o[c] += r[c] }
                }
                let d = m == .mean ? Float(L) : Float(L).squareRoot()
                for c in 0..<C { o[c] /= d }
            case .weightedMean:
                // ST: weights 1, 2, ..., L from the first token; sum(w x) / sum(w).
                o.update(repeating: 0, count: C)
                for t in 0..<L {
                    let r = x + t * C, w = Float(t + 1)
                    for c in 0..<C { o[c] += w * r[c] }
                }
                let d = Float(L * (L + 1) / 2)
                for c in 0..<C { o[c] /= d }
            }
            o += C
        }
    }
}

/// A sentence-transformers Dense module: y = act(W x + b), W (out, in).
public struct DenseLayer: Sendable {
    public enum Activation: String, Sendable {
        case identity, tanh, relu, sigmoid, gelu
    }

    public let inFeatures: Int
    public let outFeatures: Int
    public let activation: Activation
    let weight: Tensor
    let bias: Tensor?

    /// Reads `<dir>/config.json` (in_features, out_features, bias, activation_function) and
    /// `<dir>/model.safetensors` (linear.weight, linear.bias).
    static func load(directory dir: String) throws -> DenseLayer {
        let cfgPath = (dir as NSString).appendingPathComponent("config.json")
        let o = try SentenceEncoder.readObject(cfgPath)
        func int(_ k: String) throws -> Int {
            guard let v = o[k]?.intValue, v > 0 else { throw BERTError(cfgPath, "\"\(k)\" must be a positive integer") }
            return v
        }
        let inF = try int("in_features"), outF = try int("out_features")
        if let m = o["module_input_name"]?.stringValue, m != "sentence_embedding" {
            throw BERTError(cfgPath, "Dense on \"\(m)\" is not supported (only on the sentence embedding)")
        }
        let hasBias = o["bias"]?.boolValue ?? true
        let actName = o["activation_function"]?.stringValue ?? "torch.nn.modules.activation.Tanh"
        let act: Activation
        switch actName.split(separator: ".").last.map(String.init) ?? actName {
        case "Identity": act = .identity
        case "Tanh": act = .tanh
        case "ReLU": act = .relu
        case "Sigmoid": act = .sigmoid
        case "GELU": act = .gelu
        default: throw BERTError(cfgPath, "activation_function \"\(actName)\" is not supported (Identity, Tanh, ReLU, Sigmoid, GELU)")
        }
        let wPath = (dir as NSString).appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: wPath) else {
            throw BERTError(dir, "Dense module without model.safetensors (pytorch_model.bin is not read)")
        }
        let f = try SafetensorsFile(path: wPath)
        let w = try f.tensor("linear.weight")
        if w.shape != [outF, inF] { throw BERTError(wPath, "\"linear.weight\" has shape \(w.shape), expected \([outF, inF])") }
        var b: Tensor?
        if hasBias {
            b = try f.tensor("linear.bias")
            if b!.shape != [outF] { throw BERTError(wPath, "\"linear.bias\" has shape \(b!.shape), expected \([outF])") }
        }
        return DenseLayer(inFeatures: inF, outFeatures: outF, activation: act, weight: w, bias: b)
    }

    /// out (N, out) = act(inp (N, in) Wᵀ + b).
    func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, N: Int) {
        Linear.forward(out, inp, weight: weight.pointer, bias: bias?.pointer, N: N, C: inFeatures, OC: outFeatures)
        let n = N * outFeatures
        switch activation {
        case .identity: break
        case .tanh: for i in 0..<n { out[i] = tanhf(out[i]) }
        case .relu: for i in 0..<n { out[i] = Swift.max(out[i], 0) }
        case .sigmoid: for i in 0..<n { out[i] = 1 / (1 + expf(-out[i])) }
        case .gelu: for i in 0..<n { out[i] = 0.5 * out[i] * (1 + erff(out[i] * 0.7071067811865476)) }
        }
    }
}

enum L2Normalize {
    /// Each row of x (N, D) divided by max(‖row‖₂, 1e-12), as torch.nn.functional.normalize.
    static func rows(_ x: UnsafeMutablePointer<Float>, N: Int, D: Int) {
        for n in 0..<N {
            let r = x + n * D
            var ss = 0.0
            for d in 0..<D { ss += Double(r[d]) * Double(r[d]) }
            let norm = Float(ss.squareRoot())
            let denom = Swift.max(norm, 1e-12)
            for d in 0..<D { r[d] /= denom }
        }
    }
}
