// Loading HF directories and saving them back: the saved model.safetensors is byte-identical to what
// transformers' save_pretrained wrote for the same weights, config.json equals the recorded expectation,
// and scripts/make_lm_fixtures.py check-saved confirmed that transformers loads the files rpo wrote with
// identical logits (Tests/Fixtures/lm/saved/check.json). Corrupt and mismatching files give clear errors.
// RPO_WRITE_LM_FIXTURES=1 rewrites Tests/Fixtures/lm/saved/ (then run the script's check-saved).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct CheckpointTests {
    static let writeFixtures = ProcessInfo.processInfo.environment["RPO_WRITE_LM_FIXTURES"] == "1"

    @Test(arguments: TinyFixture.names)
    func loadFromDirectoryAndSaveBack(_ name: String) throws {
        let f = try TinyFixture(name)
        let m = try CausalLM.load(directory: f.dir)
        let viaFixtureReader = try f.model()
        #expect(Array(UnsafeBufferPointer(start: m.parameters.pointer, count: m.layout.count))
                == Array(UnsafeBufferPointer(start: viaFixtureReader.parameters.pointer, count: m.layout.count)))
        let tmp = TempDir()
        let out = tmp.file(name)
        try m.save(to: out)
        let saved = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        let original = try Data(contentsOf: URL(fileURLWithPath: f.dir + "/model.safetensors"))
        #expect(saved == original, "\(name): saved model.safetensors differs from transformers' save_pretrained output")
        let config = try Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))
        let expectedDir = TestPaths.fixture("lm/saved/\(name)")
        if CheckpointTests.writeFixtures {
            try? FileManager.default.removeItem(atPath: expectedDir)
            try m.save(to: expectedDir)
        }
        let expected = try Data(contentsOf: URL(fileURLWithPath: expectedDir + "/config.json"))
        #expect(config == expected, "\(name): config.json differs from the one transformers was checked to load")
        // Saving over an existing directory replaces it whole.
        try viaFixtureReader.save(to: out)
        let reloaded = try CausalLM.load(directory: out)
        #expect(try reloaded.sequenceLogProbs(f.batch) == m.sequenceLogProbs(f.batch))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == [name], "no temporary left behind")
    }

    /// scripts/make_lm_fixtures.py check-saved loaded every saved directory with transformers.
    @Test func transformersLoadedTheSavedCheckpoints() throws {
        let check = try loadJSONFixture("lm/saved/check.json")
        guard let diffs = check.objectValue?["max_abs_logit_diff"]?.objectValue else {
            Issue.record("check.json has no max_abs_logit_diff"); return
        }
        #expect(Set(diffs.keys) == Set(TinyFixture.names + ["smollm2-from-gguf"]))
        for (name, d) in diffs { #expect(d.doubleValue == 0, "\(name): transformers' logits differ by \(d)") }
    }

    @Test func corruptAndMismatchingFiles() throws {
        let f = try TinyFixture("neox")
        let tmp = TempDir()
        func copyFixture(_ to: String) throws -> String {
            let d = tmp.file(to)
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            for file in ["config.json", "model.safetensors"] {
                try FileManager.default.copyItem(atPath: f.dir + "/" + file, toPath: d + "/" + file)
            }
            return d
        }
        // Truncated safetensors: the reader names the file and the problem.
        let truncated = try copyFixture("truncated")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: truncated + "/model.safetensors"))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: truncated + "/model.safetensors"))
        do { _ = try CausalLM.load(directory: truncated); Issue.record("loaded a truncated file") } catch {
            #expect("\(error)".contains("model.safetensors"), "\(error)")
        }
        // config.json that does not match the weights.
        let wide = try copyFixture("wide")
        var cfg = try String(contentsOfFile: wide + "/config.json", encoding: .utf8)
        cfg = cfg.replacingOccurrences(of: "\"intermediate_size\": 96", with: "\"intermediate_size\": 128")
        try cfg.write(toFile: wide + "/config.json", atomically: true, encoding: .utf8)
        do { _ = try CausalLM.load(directory: wide); Issue.record("loaded mismatching weights") } catch let e as ModelError {
            #expect(e == .shapeMismatch(source: wide + "/model.safetensors", name: "gpt_neox.layers.0.mlp.dense_h_to_4h.bias",
                                        expected: [128], found: [96]) || e.description.contains("has shape"), "\(e)")
        }
        // Unknown model_type in the directory's config.
        let bert = try copyFixture("bert")
        try #"{"model_type": "bert"}"#.write(toFile: bert + "/config.json", atomically: true, encoding: .utf8)
        #expect(throws: ModelError.unsupportedModelType(source: bert + "/config.json", modelType: "bert")) {
            try CausalLM.load(directory: bert)
        }
        // No config at all; no weights.
        #expect(throws: ModelError.self) { try CausalLM.load(directory: tmp.file("missing")) }
        let noWeights = try copyFixture("noweights")
        try FileManager.default.removeItem(atPath: noWeights + "/model.safetensors")
        do { _ = try CausalLM.load(directory: noWeights); Issue.record("loaded without weights") } catch {
            #expect("\(error)".contains("model.safetensors"), "\(error)")
        }
    }
}
