// Bad configs, checkpoints and batches give clear errors, never a crash.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct ModelErrorTests {
    func config(_ json: String) throws(ModelError) -> ModelConfig {
        try ModelRegistry.config(json: Data(json.utf8), source: "config.json")
    }

    @Test func unknownModelTypeAndBadConfigs() {
        #expect(throws: ModelError.unsupportedModelType(source: "config.json", modelType: "bert")) {
            try config(#"{"model_type": "bert"}"#)
        }
        #expect(throws: ModelError.invalidConfig(source: "config.json", message: "config.json has no \"model_type\"")) {
            try config(#"{"vocab_size": 3}"#)
        }
        let cases: [(String, String)] = [
            (#"{"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8}}"#, "rope_scaling type \"llama3\""),
            (#"{"model_type": "llama", "rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4}}"#, "rope_parameters type \"yarn\""),
            (#"{"model_type": "llama", "hidden_act": "gelu"}"#, "hidden_act \"gelu\""),
            (#"{"model_type": "llama", "num_attention_heads": 6, "num_key_value_heads": 4, "hidden_size": 48}"#, "not a multiple of num_key_value_heads"),
            (#"{"model_type": "gpt2", "activation_function": "relu"}"#, "activation_function \"relu\""),
            (#"{"model_type": "gpt2", "scale_attn_by_inverse_layer_idx": true}"#, "scale_attn_by_inverse_layer_idx"),
            (#"{"model_type": "gpt_neox", "hidden_size": 10, "num_attention_heads": 3}"#, "not a multiple of num_attention_heads"),
            (#"{"model_type": "gpt2", "n_embd": "wide"}"#, "n_embd"),
            (#"{"model_type": "gpt2", "#, "invalid JSON"),
        ]
        for (json, fragment) in cases {
            do {
                _ = try config(json)
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.description.contains(fragment), "\(error.description) should mention \(fragment)")
                #expect(error.description.hasPrefix("config.json"))
            }
        }
    }

    @Test func slidingWindowIsAcceptedButLongerSequencesAreRejected() throws {
        let c = try config(#"{"model_type": "mistral", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "sliding_window": 4}"#)
        #expect(c.slidingWindow == 4)
        let m = CausalLM(config: c)
        _ = try m.sequenceLogProbs([ScoredSequence(inputIds: [1, 2, 3, 4], labelStart: 1)])
        #expect(throws: ModelError.self) { try m.sequenceLogProbs([ScoredSequence(inputIds: [1, 2, 3, 4, 5], labelStart: 1)]) }
        let q = try config(#"{"model_type": "qwen2", "sliding_window": 4096, "use_sliding_window": false}"#)
        #expect(q.slidingWindow == nil)
    }

    /// The context (max_position_embeddings) bounds rotary models too: longer sequences and decoders are errors.
    @Test func sequencesLongerThanTheContextAreRejected() throws {
        let c = try config(#"{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 4}"#)
        let m = CausalLM(config: c)
        _ = try m.sequenceLogProbs([ScoredSequence(inputIds: [1, 2, 3, 4], labelStart: 1)])
        #expect(throws: ModelError.invalidBatch("sequence 0 has 5 tokens; the model has 4 positions")) {
            try m.sequenceLogProbs([ScoredSequence(inputIds: [1, 2, 3, 4, 5], labelStart: 1)])
        }
        #expect(throws: ModelError.self) { try m.trainingLogProbs([ScoredSequence(inputIds: [1, 2, 3, 4, 5], labelStart: 1)]) }
        #expect(throws: ModelError.invalidBatch("5 positions requested; the model has 4 positions")) {
            _ = try LMDecoder(model: m, slots: 1, capacity: 5)
        }
    }

    @Test func badBatches() throws {
        let f = try TinyFixture("gpt2")
        let m = try f.model()
        let bad: [([ScoredSequence], String)] = [
            ([], "no sequences"),
            ([ScoredSequence(inputIds: [], labelStart: 0)], "sequence 0 is empty"),
            ([ScoredSequence(inputIds: [1, 2], labelStart: 0), ScoredSequence(inputIds: [1, 96], labelStart: 0)], "sequence 1 token 1: id 96 outside the vocabulary"),
            ([ScoredSequence(inputIds: [1, 2], labelStart: 3)], "label start 3 outside 0...2"),
            ([ScoredSequence(inputIds: [1, -1], labelStart: 0)], "id -1"),
            ([ScoredSequence(inputIds: Array(repeating: 1, count: 33), labelStart: 0)], "the model has 32 positions"),
        ]
        for (b, fragment) in bad {
            do { _ = try m.sequenceLogProbs(b); Issue.record("accepted \(b)") } catch {
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
        #expect(throws: ModelError.noTrainingForward) { try m.backward(dLogProbs: [1]) }
        _ = try m.trainingLogProbs(f.batch)
        #expect(throws: ModelError.self) { try m.backward(dLogProbs: [1]) }
        #expect(throws: ModelError.self) { try m.backward(dLogProbs: [1, .nan, 0, 0]) }
    }

    /// A checkpoint that does not fit the config: a missing tensor, a wrong shape, a foreign tensor.
    @Test func checkpointMismatches() throws {
        let f = try TinyFixture("llama-gqa-tied")
        let good = try FixtureSafetensors(path: f.dir + "/model.safetensors")
        struct Edited: TensorSource {
            let base: FixtureSafetensors
            var drop: String? = nil, extra: String? = nil, reshape: String? = nil
            var sourceName: String { "edited.safetensors" }
            var tensorNames: [String] { base.tensorNames.filter { $0 != drop } + (extra.map { [$0] } ?? []) }
            func shape(of name: String) throws -> [Int] {
                if name == extra { return [1] }
                let s = try base.shape(of: name)
                return name == reshape ? s.reversed() : s
            }
            func read(_ name: String, into d: UnsafeMutableBufferPointer<Float>) throws { try base.read(name, into: d) }
        }
        let m = CausalLM(config: f.config)
        #expect(throws: ModelError.missingTensor(source: "edited.safetensors", name: "model.layers.1.self_attn.k_proj.weight")) {
            try m.load(from: Edited(base: good, drop: "model.layers.1.self_attn.k_proj.weight"))
        }
        #expect(throws: ModelError.shapeMismatch(source: "edited.safetensors", name: "model.layers.0.mlp.up_proj.weight", expected: [80, 48], found: [48, 80])) {
            try m.load(from: Edited(base: good, reshape: "model.layers.0.mlp.up_proj.weight"))
        }
        #expect(throws: ModelError.unexpectedTensor(source: "edited.safetensors", name: "model.layers.2.mlp.up_proj.weight")) {
            try m.load(from: Edited(base: good, extra: "model.layers.2.mlp.up_proj.weight"))
        }
        // A tied model tolerates a redundant lm_head.weight (HF re-ties it on load).
        try m.load(from: Edited(base: good, extra: "model.layers.0.self_attn.rotary_emb.inv_freq"))
    }
}
