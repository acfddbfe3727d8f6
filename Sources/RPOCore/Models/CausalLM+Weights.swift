// Moving weights between a checkpoint and the parameter arena, by each architecture's HF tensor table:
// every table entry must be present with the shape the config implies; tensors the architecture does not
// know are an error (buffers such as causal masks excepted), never silently skipped.
import Foundation

/// A source of named fp32 tensors (a safetensors checkpoint, a GGUF file, a test fixture).
public protocol TensorSource {
    /// Names the source in error messages (usually a path).
    var sourceName: String { get }
    var tensorNames: [String] { get }
    func shape(of name: String) throws -> [Int]
    /// Reads a tensor, converted to fp32, into `destination` (exactly its element count).
    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws
}

extension CausalLM {
    /// The checkpoint tensors of this architecture (HF names and shapes).
    package var hfTensors: [HFTensor] { ModelRegistry.tensors(config) }

    /// Checks, before a model of `config` is allocated, that `source` holds every tensor of the architecture
    /// with the shape the config implies: sizes in a config that the weights do not bear out are an error,
    /// not an allocation.
    public static func checkTensors(_ config: ModelConfig, in source: TensorSource) throws {
        let names = Set(source.tensorNames)
        for t in ModelRegistry.tensors(config) {
            guard let n = checkpointName(t.name, names, config) else {
                throw ModelError.missingTensor(source: source.sourceName, name: t.name)
            }
            let shape = try source.shape(of: n)
            if shape != t.shape {
                throw ModelError.shapeMismatch(source: source.sourceName, name: n, expected: t.shape, found: shape)
            }
        }
    }

    /// The name under which `source` holds the table tensor `name` (GPT-2 checkpoints from the original
    /// conversion omit the "transformer." prefix).
    static func checkpointName(_ name: String, _ names: Set<String>, _ config: ModelConfig) -> String? {
        if names.contains(name) { return name }
        if config.architecture == .gpt2, name.hasPrefix("transformer."),
           names.contains(String(name.dropFirst("transformer.".count))) {
            return String(name.dropFirst("transformer.".count))
        }
        return nil
    }

    /// Fills the parameters from `source`, which must hold exactly this architecture's tensors.
    public func load(from source: TensorSource) throws {
        let names = Set(source.tensorNames)
        let table = hfTensors
        func find(_ name: String) -> String? { CausalLM.checkpointName(name, names, config) }
        var used = Set<String>()
        var buffer = [Float]()
        for t in table {
            guard let n = find(t.name) else { throw ModelError.missingTensor(source: source.sourceName, name: t.name) }
            let shape = try source.shape(of: n)
            if shape != t.shape {
                throw ModelError.shapeMismatch(source: source.sourceName, name: n, expected: t.shape, found: shape)
            }
            if buffer.count < t.count { buffer = [Float](repeating: 0, count: t.count) }
            try buffer.withUnsafeMutableBufferPointer { b in
                try source.read(n, into: UnsafeMutableBufferPointer(rebasing: b[0..<t.count]))
                t.place(b.baseAddress!, into: parameters.pointer, layout: layout)
            }
            used.insert(n)
        }
        for n in source.tensorNames where !used.contains(n) {
            let tiedHead = config.tiedEmbeddings && (n == "lm_head.weight" || n == "embed_out.weight")
            if !tiedHead && !ModelRegistry.ignorable(n, config) {
                throw ModelError.unexpectedTensor(source: source.sourceName, name: n)
            }
        }
    }

    /// The parameters (or, with `gradients: true`, the gradients) as HF checkpoint tensors: name, shape and
    /// row-major values in the checkpoint's layout.
    public func checkpointTensors(gradients useGradients: Bool = false) -> [(name: String, shape: [Int], values: [Float])] {
        let base = useGradients ? gradients!.pointer : parameters.pointer
        return hfTensors.map { t in
            var v = [Float](repeating: 0, count: t.count)
            v.withUnsafeMutableBufferPointer { t.extract(from: base, to: $0.baseAddress!, layout: layout) }
            return (t.name, t.shape, v)
        }
    }
}
