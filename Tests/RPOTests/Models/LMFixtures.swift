// Loading the reference fixtures of Tests/Fixtures/lm (made by scripts/make_lm_fixtures.py).
// FixtureSafetensors is a minimal fp32-only safetensors reader for the test fixtures alone (header JSON +
// little-endian f32 data), so the model tests do not depend on the IO reader's API.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

struct FixtureError: Error, CustomStringConvertible { let description: String }

final class FixtureSafetensors: TensorSource {
    let sourceName: String
    let data: Data
    var shapes: [String: [Int]] = [:]
    var ranges: [String: Range<Int>] = [:]
    var tensorNames: [String] = []

    init(path: String) throws {
        sourceName = path
        data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        guard case .object(let header) = try JSONParser.parse(String(decoding: data[8..<(8 + n)], as: UTF8.self)) else {
            throw FixtureError(description: "\(path): header is not an object")
        }
        for (name, v) in header where name != "__metadata__" {
            guard let o = v.objectValue, o["dtype"]?.stringValue == "F32",
                  let shape = o["shape"]?.arrayValue?.compactMap(\.intValue),
                  let offs = o["data_offsets"]?.arrayValue?.compactMap(\.intValue) else {
                throw FixtureError(description: "\(path): \(name) is not an F32 tensor")
            }
            shapes[name] = shape
            ranges[name] = (8 + n + offs[0])..<(8 + n + offs[1])
            tensorNames.append(name)
        }
    }

    func shape(of name: String) throws -> [Int] {
        guard let s = shapes[name] else { throw FixtureError(description: "\(sourceName): no tensor \(name)") }
        return s
    }

    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let r = ranges[name] else { throw FixtureError(description: "\(sourceName): no tensor \(name)") }
        precondition(r.count == destination.count * 4)
        _ = data[r].withUnsafeBytes { memcpy(destination.baseAddress!, $0.baseAddress!, r.count) }
    }

    func floats(_ name: String) throws -> [Float] {
        let s = try shape(of: name)
        var v = [Float](repeating: 0, count: s.reduce(1, *))
        try v.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return v
    }
}

/// One tiny reference model: its directory, config, weights, batch and expected values.
struct TinyFixture {
    let name: String
    let dir: String
    let config: ModelConfig
    let batch: [ScoredSequence]
    let coefficients: [Double]
    let logprobs: [Double]
    let parameterNames: [String]
    let ref: FixtureSafetensors

    static let names = ["gpt2", "neox", "neox-sequential", "llama-gqa-tied", "mistral-untied", "qwen2-bias"]

    init(_ name: String) throws {
        self.name = name
        dir = TestPaths.fixture("lm/\(name)")
        config = try ModelRegistry.config(json: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")),
                                          source: dir + "/config.json")
        let j = try JSONParser.parse(String(decoding: Data(contentsOf: URL(fileURLWithPath: dir + "/ref.json")), as: UTF8.self))
        guard let o = j.objectValue, let ids = o["input_ids"]?.arrayValue, let ls = o["label_starts"]?.arrayValue,
              let c = o["coefficients"]?.arrayValue, let lp = o["logprobs"]?.arrayValue,
              let pn = o["parameters"]?.arrayValue else { throw FixtureError(description: "\(dir)/ref.json: bad") }
        batch = zip(ids, ls).map { ScoredSequence(inputIds: $0.0.arrayValue!.map { $0.intValue! }, labelStart: $0.1.intValue!) }
        coefficients = c.map { $0.doubleValue! }
        logprobs = lp.map { $0.doubleValue! }
        parameterNames = pn.map { $0.stringValue! }
        ref = try FixtureSafetensors(path: dir + "/ref.safetensors")
    }

    /// The model; `context` replaces its max_position_embeddings (rotary models: the weights do not depend on it).
    func model(context: Int? = nil) throws -> CausalLM {
        var c = config
        if let n = context { c.maxPositions = n }
        let m = CausalLM(config: c)
        try m.load(from: FixtureSafetensors(path: dir + "/model.safetensors"))
        return m
    }
}
