// Sizes from model files that the weights do not bear out: a GGUF head count of 0, block counts of a million or
// a thousand, config.json sizes of 10^9..10^12, a BERT hidden size that overflows. Each is a clear error before
// any parameter memory is allocated (the in-bounds cases would ask for terabytes were the check after it).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct HostileSizeTests {
    /// A llama GGUF file: the metadata given (plus the architecture) and one F32 `token_embd.weight` of
    /// vocab x width, its values zero.
    static func gguf(_ path: String, metadata: [(String, UInt32)], vocab: Int = 16, width: Int = 8) throws {
        var b = GGUFBuilder(tensors: 1, kvs: UInt64(metadata.count + 1))
        b.str("general.architecture"); b.u32(8); b.str("llama")
        for (k, v) in metadata { b.str(k); b.u32(4); b.u32(v) }
        b.tensorInfo("token_embd.weight", dims: [UInt64(width), UInt64(vocab)], type: 0, offset: 0)
        b.pad()
        b.raw([UInt8](repeating: 0, count: vocab * width * 4))
        try Data(b.bytes).write(to: URL(fileURLWithPath: path))
    }

    static func expectModelError(_ path: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try CausalLM.load(path: path)
            Issue.record("loaded \(path); expected an error saying \(fragment)", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(fragment), "\(error) should say \(fragment)", sourceLocation: sourceLocation)
        }
    }

    @Test func ggufHeadAndBlockCounts() throws {
        let dir = TempDir()
        func meta(heads: UInt32 = 2, blocks: UInt32 = 1, width: UInt32 = 8, ffn: UInt32 = 16) -> [(String, UInt32)] {
            [("llama.embedding_length", width), ("llama.attention.head_count", heads), ("llama.block_count", blocks),
             ("llama.feed_forward_length", ffn)]
        }
        let cases: [([(String, UInt32)], String)] = [
            (meta(heads: 0), "llama.attention.head_count must be positive, got 0"),
            (meta(blocks: 1_000_000), "num_hidden_layers 1000000 is beyond the supported maximum 1024"),
            (meta(width: 1 << 20), "hidden_size 1048576 is beyond the supported maximum 65536"),
            // In bounds, but 3.9 TB of parameters that the file does not hold: the tensors are checked first.
            (meta(heads: 64, blocks: 1000, width: 8192, ffn: 28672), "has shape [16, 8], the config implies [16, 8192]"),
            (meta(blocks: 1000), "missing tensor \"model.layers.0."),
        ]
        for (i, (m, fragment)) in cases.enumerated() {
            let path = dir.file("m\(i).gguf")
            try Self.gguf(path, metadata: m)
            Self.expectModelError(path, fragment)
        }
    }

    @Test func configSizesBeyondBoundsOrTheWeights() throws {
        let tiny = TestPaths.fixture("train/tiny")
        let base = try JSONParser.parse(String(contentsOfFile: tiny + "/config.json", encoding: .utf8)).objectValue!
        let dir = TempDir()
        let cases: [([(String, Int)], String)] = [
            ([("vocab_size", 1_000_000_000_000)], "vocab_size 1000000000000 is beyond the supported maximum"),
            ([("intermediate_size", 1_000_000_000_000)], "intermediate_size 1000000000000 is beyond the supported maximum"),
            ([("max_position_embeddings", 1_000_000_000_000)], "max_position_embeddings 1000000000000 is beyond the supported maximum"),
            ([("num_hidden_layers", 1_000_000_000)], "num_hidden_layers 1000000000 is beyond the supported maximum"),
            // In bounds: 13.9 T parameters the checkpoint does not hold.
            ([("hidden_size", 16384), ("head_dim", 128), ("num_attention_heads", 128), ("num_key_value_heads", 128),
              ("num_hidden_layers", 1000), ("intermediate_size", 262_144)], "has shape [64, 32], the config implies [64, 16384]"),
        ]
        for (i, (edits, fragment)) in cases.enumerated() {
            let d = dir.file("m\(i)")
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
            try FileManager.default.createSymbolicLink(atPath: d + "/model.safetensors", withDestinationPath: tiny + "/model.safetensors")
            var c = base
            for (k, v) in edits { c[k] = .int(v) }
            try JSONSerializer.string(.object(c)).write(toFile: d + "/config.json", atomically: true, encoding: .utf8)
            Self.expectModelError(d, fragment)
        }
    }

    @Test func bertSizesBeyondBoundsOrTheWeights() throws {
        let dir = TempDir()
        let cases: [([(String, Int)], String)] = [
            ([("hidden_size", 1_200_000_000)], "\"hidden_size\" 1200000000 is beyond the supported maximum 65536"),
            ([("max_position_embeddings", 1_000_000_000_000)], "\"max_position_embeddings\" 1000000000000 is beyond"),
            ([("vocab_size", 1_000_000_000_000)], "\"vocab_size\" 1000000000000 is beyond"),
            ([("num_hidden_layers", 1_000_000_000)], "\"num_hidden_layers\" 1000000000 is beyond"),
            // In bounds: 52 T parameters the checkpoint does not hold.
            ([("hidden_size", 65536), ("num_attention_heads", 64), ("num_hidden_layers", 1024), ("intermediate_size", 262_144)],
             "config.json implies [30522, 65536]"),
        ]
        for (i, (edits, fragment)) in cases.enumerated() {
            let d = dir.file("m\(i)")
            try SentenceEncoderErrorTests.tinyModel(d)
            var c = try JSONParser.parse(SentenceEncoderErrorTests.tinyConfig).objectValue!
            for (k, v) in edits { c[k] = .int(v) }
            try JSONSerializer.string(.object(c)).write(toFile: d + "/config.json", atomically: true, encoding: .utf8)
            do {
                _ = try SentenceEncoder.load(path: d)
                Issue.record("loaded \(edits)")
            } catch {
                #expect("\(error)".contains(fragment), "\(error) should say \(fragment)")
            }
        }
    }
}
