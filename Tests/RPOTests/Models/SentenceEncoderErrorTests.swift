// Loading errors of the sentence encoder: each names the file at fault and what is wrong with it.
// Model directories are assembled in temporary directories: a tiny BERT (hidden 8, one layer) with the
// MiniLM tokenizer for the weight checks, the real model's files with one file replaced for the others.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct SentenceEncoderErrorTests {
    static let tinyConfig = #"{"model_type":"bert","vocab_size":30522,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":16,"type_vocab_size":2}"#

    /// The tensors of the tiny model, optionally edited, written to `dir/model.safetensors` with the tiny
    /// config and the MiniLM tokenizer.
    static func tinyModel(_ dir: String, prefix: String = "",
                          edit: (inout [(String, [Int])]) -> Void = { _ in }) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try tinyConfig.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir + "/tokenizer.json", withDestinationPath: EmbedFixtures.modelPath + "/tokenizer.json")
        let cfg = try BERTConfig.decode(Data(tinyConfig.utf8), source: "tiny")
        var tensors = BERTModel(config: cfg).hfTensors.map { (prefix + $0.name, $0.shape) }
        edit(&tensors)
        var rng = RNG(seed: 1)
        let entries = tensors.map { name, shape in
            SafetensorsEntry(name, Tensor(randomArray(shape.reduce(1, *), &rng, scale: 0.1), shape: shape))
        }
        try SafetensorsWriter.write(entries, to: dir + "/model.safetensors")
    }

    /// The real model's files (symlinked) with `replace` written over some of them, `remove` left out.
    static func realModel(_ dir: String, replace: [String: String] = [:], remove: Set<String> = []) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/1_Pooling", withIntermediateDirectories: true)
        for f in try fm.contentsOfDirectory(atPath: EmbedFixtures.modelPath) where f != "1_Pooling" && !remove.contains(f) {
            try fm.createSymbolicLink(atPath: dir + "/" + f, withDestinationPath: EmbedFixtures.modelPath + "/" + f)
        }
        try fm.copyItem(atPath: EmbedFixtures.modelPath + "/1_Pooling/config.json", toPath: dir + "/1_Pooling/config.json")
        for (f, text) in replace {
            try? fm.removeItem(atPath: dir + "/" + f)
            try text.write(toFile: dir + "/" + f, atomically: true, encoding: .utf8)
        }
    }

    func expectError(_ dir: String, _ file: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let e = try SentenceEncoder.load(path: dir)
            Issue.record("loaded \(e.directory) without an error; expected \(fragment)", sourceLocation: sourceLocation)
        } catch let e as BERTError {
            #expect(e.source.hasSuffix(file), "error names \(e.source), expected \(file)", sourceLocation: sourceLocation)
            #expect(e.description.contains(fragment), "\(e.description) should say \(fragment)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func tinyModelLoadsWithOrWithoutPrefixAndIgnoresHeads() throws {
        _ = try EmbedFixtures.load()
        let tmp = TempDir()
        try Self.tinyModel(tmp.file("a"))
        let a = try SentenceEncoder.load(path: tmp.file("a"))
        #expect(a.dimension == 8 && a.maxSeqLength == 16 && a.moduleNames == ["Transformer", "Pooling(mean)"])
        try Self.tinyModel(tmp.file("b"), prefix: "bert.") { t in
            t += [("bert.pooler.dense.weight", [8, 8]), ("bert.embeddings.position_ids", [1, 16]),
                  ("cls.predictions.bias", [30522])]
            // TF-era names of two LayerNorm parameters.
            t = t.map { ($0.0.replacingOccurrences(of: "embeddings.LayerNorm.weight", with: "embeddings.LayerNorm.gamma")
                        .replacingOccurrences(of: "embeddings.LayerNorm.bias", with: "embeddings.LayerNorm.beta"), $0.1) }
        }
        let b = try SentenceEncoder.load(path: tmp.file("b"))
        // Same seed, same tensor order: identical weights, identical embeddings.
        #expect(a.encode(["hello world"]) == b.encode(["hello world"]))
        // Texts longer than the 16 positions are truncated, not a crash.
        #expect(b.tokenize([String(repeating: "word ", count: 40)])[0].count == 16)
        #expect(b.encode([String(repeating: "word ", count: 40)]).count == 8)
    }

    @Test func weightErrors() throws {
        _ = try EmbedFixtures.load()
        let tmp = TempDir()
        try Self.tinyModel(tmp.file("missing")) { $0.removeAll { $0.0 == "encoder.layer.0.attention.self.key.bias" } }
        expectError(tmp.file("missing"), "model.safetensors", "missing tensor \"encoder.layer.0.attention.self.key.bias\"")
        try Self.tinyModel(tmp.file("extra")) { $0.append(("encoder.layer.0.extra.weight", [2])) }
        expectError(tmp.file("extra"), "model.safetensors", "unexpected tensor \"encoder.layer.0.extra.weight\"")
        try Self.tinyModel(tmp.file("shape")) { t in
            t = t.map { $0.0 == "encoder.layer.0.intermediate.dense.weight" ? ($0.0, [16, 9]) : $0 }
        }
        expectError(tmp.file("shape"), "model.safetensors", "has shape [16, 9], config.json implies [16, 8]")
        try Self.tinyModel(tmp.file("noweights"))
        try FileManager.default.removeItem(atPath: tmp.file("noweights/model.safetensors"))
        expectError(tmp.file("noweights"), "noweights", "no weights")
        try Self.tinyModel(tmp.file("notok"))
        try FileManager.default.removeItem(atPath: tmp.file("notok/tokenizer.json"))
        expectError(tmp.file("notok"), "tokenizer.json", "missing")
    }

    @Test func directoryAndConfigErrors() throws {
        _ = try EmbedFixtures.load()
        let tmp = TempDir()
        expectError(tmp.file("nowhere"), "nowhere", "no such model directory")
        try "x".write(toFile: tmp.file("file"), atomically: true, encoding: .utf8)
        expectError(tmp.file("file"), "file", "not a directory")
        try FileManager.default.createDirectory(atPath: tmp.file("empty"), withIntermediateDirectories: true)
        expectError(tmp.file("empty"), "config.json", "missing")
        try Self.realModel(tmp.file("roberta"), replace: ["config.json": #"{"model_type":"roberta"}"#])
        expectError(tmp.file("roberta"), "config.json", "model_type \"roberta\" is not supported")
        try Self.realModel(tmp.file("act"), replace: ["config.json": #"{"model_type":"bert","hidden_act":"swish"}"#])
        expectError(tmp.file("act"), "config.json", "hidden_act \"swish\" is not supported")
        try Self.realModel(tmp.file("heads"), replace: ["config.json": #"{"hidden_size":384,"num_attention_heads":5}"#])
        expectError(tmp.file("heads"), "config.json", "not a multiple of num_attention_heads 5")
        try Self.realModel(tmp.file("rel"), replace: ["config.json": #"{"position_embedding_type":"relative_key"}"#])
        expectError(tmp.file("rel"), "config.json", "position_embedding_type \"relative_key\" is not supported")
        try Self.realModel(tmp.file("badjson"), replace: ["config.json": "{not json"])
        expectError(tmp.file("badjson"), "config.json", "invalid JSON")
    }

    @Test func sentenceTransformersModuleErrors() throws {
        _ = try EmbedFixtures.load()
        let tmp = TempDir()
        let T = #"{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"}"#
        let P = #"{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}"#
        try Self.realModel(tmp.file("lstm"), replace: ["modules.json": "[\(T),\(P),{\"idx\":2,\"path\":\"\",\"type\":\"sentence_transformers.models.LSTM\"}]"])
        expectError(tmp.file("lstm"), "modules.json", "module 2 (sentence_transformers.models.LSTM) is not supported")
        try Self.realModel(tmp.file("nopool"), replace: ["modules.json": "[\(T)]"])
        expectError(tmp.file("nopool"), "modules.json", "no Pooling module")
        try Self.realModel(tmp.file("order"), replace: ["modules.json": "[\(P.replacingOccurrences(of: "\"idx\":1", with: "\"idx\":0")),\(T.replacingOccurrences(of: "\"idx\":0", with: "\"idx\":1"))]"])
        expectError(tmp.file("order"), "modules.json", "must follow the Transformer")
        try Self.realModel(tmp.file("notarray"), replace: ["modules.json": "{}"])
        expectError(tmp.file("notarray"), "modules.json", "must be a JSON array")
        try Self.realModel(tmp.file("mode"), replace: ["1_Pooling/config.json": #"{"pooling_mode":"median"}"#])
        expectError(tmp.file("mode"), "1_Pooling/config.json", "unknown pooling mode \"median\"")
        try Self.realModel(tmp.file("dim"), replace: ["1_Pooling/config.json": #"{"word_embedding_dimension":768,"pooling_mode_mean_tokens":true}"#])
        expectError(tmp.file("dim"), "1_Pooling/config.json", "the embedding dimension is 768, the model's hidden_size 384")
        try Self.realModel(tmp.file("nopoolcfg"), remove: [])
        try FileManager.default.removeItem(atPath: tmp.file("nopoolcfg/1_Pooling/config.json"))
        expectError(tmp.file("nopoolcfg"), "1_Pooling/config.json", "missing")
        try Self.realModel(tmp.file("long"), replace: ["sentence_bert_config.json": #"{"max_seq_length":1000}"#])
        expectError(tmp.file("long"), "sentence_bert_config.json", "max_seq_length 1000 exceeds the model's 512 positions")
        try Self.realModel(tmp.file("nodense"), replace: ["modules.json": "[\(T),\(P),{\"idx\":2,\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]"])
        expectError(tmp.file("nodense"), "2_Dense/config.json", "missing")
    }
}
