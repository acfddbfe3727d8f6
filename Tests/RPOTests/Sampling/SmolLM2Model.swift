// SmolLM2-135M-Instruct (models/SmolLM2-135M-Instruct.Q4_1.gguf) with its tokenizer, loaded once per test
// process for the sampling tests (dequantizing it takes seconds).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

enum SmolLM2 {
    static let path = TestPaths.models("SmolLM2-135M-Instruct.Q4_1.gguf")

    /// The model, or nil when models/ lacks it (`make models`).
    nonisolated(unsafe) static let loaded: SampleModel? = try? SampleModel.load(path: path)

    static func require() throws -> SampleModel {
        guard let m = loaded else { throw FixtureError(description: "\(path): cannot load (run `make models`)") }
        return m
    }

    static let fixture: JSONObject? = {
        guard case .object(let o)? = try? loadJSONFixture("sample/smollm2.json") else { return nil }
        return o
    }()
}
