// The real model file models/SmolLM2-135M-Instruct.Q4_1.gguf (`make models`): its metadata (docs/models.md §3
// and every key against gguf-py), its 272 tensor infos, dequantized tensors against gguf.quants.dequantize,
// and the q/k un-permutation against the q_proj/k_proj that transformers loads from the same file.
// Expected values: Tests/Fixtures/gguf/smollm2.json (scripts/make_gguf_fixtures.py).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct SmolLM2GGUFTests {
    static let path = TestPaths.models("SmolLM2-135M-Instruct.Q4_1.gguf")

    /// Opened once for the suite (mapping is cheap; tensors are dequantized on demand).
    static let model: GGUFFile? = try? GGUFFile(path: path)
    static let fixture: JSONObject? = {
        guard case .object(let o)? = try? loadJSONFixture("gguf/smollm2.json") else { return nil }
        return o
    }()

    static func load() throws -> (GGUFFile, JSONObject) {
        guard let m = model else {
            throw IOError(path, "cannot open the model (run `make models` to fetch it)")
        }
        guard let f = fixture else { throw IOError("smollm2.json", "fixture missing or invalid") }
        return (m, f)
    }

    @Test func metadataListedInResources() throws {
        let (g, _) = try SmolLM2GGUFTests.load()
        let m = g.metadata
        #expect(g.version == 3)
        #expect(m.count == 33)
        #expect(try m.string("general.architecture") == "llama")
        #expect(try m.string("general.name") == "Smollm2 135M 8k Lc100K Mix1 Ep2")
        #expect(try m.string("general.organization") == "HuggingFaceTB")
        #expect(try m.string("general.license") == "apache-2.0")
        #expect(try m.int("llama.block_count") == 30)
        #expect(try m.int("llama.embedding_length") == 576)
        #expect(try m.int("llama.feed_forward_length") == 1536)
        #expect(try m.int("llama.attention.head_count") == 9)
        #expect(try m.int("llama.attention.head_count_kv") == 3)
        #expect(try m.float("llama.rope.freq_base") == 100_000)
        #expect(try m.float("llama.attention.layer_norm_rms_epsilon") == 1e-5)
        #expect(try m.int("llama.context_length") == 8192)
        #expect(try m.stringArray("tokenizer.ggml.tokens").count == 49152)
        #expect(try m.string("tokenizer.ggml.model") == "gpt2")
        #expect(try m.string("tokenizer.ggml.pre") == "smollm")
        #expect(try m.stringArray("tokenizer.ggml.merges").count == 48900)
        #expect(try m.int("tokenizer.ggml.bos_token_id") == 1)
        #expect(try m.int("tokenizer.ggml.eos_token_id") == 2)
        #expect(try m.int("tokenizer.ggml.unknown_token_id") == 0)
        #expect(try m.int("tokenizer.ggml.padding_token_id") == 2)
        #expect(try m.bool("tokenizer.ggml.add_bos_token") == false)
        let tokens = try m.stringArray("tokenizer.ggml.tokens")
        #expect(Array(tokens[0..<3]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        #expect(try m.string("tokenizer.chat_template").hasPrefix("{% for message in messages %}"))
        #expect(try m.string("tokenizer.chat_template").contains("<|im_start|>"))
    }

    @Test func everyMetadataValueMatchesGGUFPy() throws {
        let (g, fx) = try SmolLM2GGUFTests.load()
        let keys = try fx.field("metadata_keys", source: "smollm2.json", record: nil).stringArray()
        #expect(g.metadata.keys == keys)
        let meta = fx["metadata"]!.objectValue!
        for key in keys {
            let e = meta[key]!.objectValue!
            let v = try g.metadata.value(key)
            #expect(typeNames(v) == (try e.field("types", source: "smollm2.json", record: nil).stringArray()), "\(key)")
            if let expected = e["value"] {
                #expect(sameNumber(fixtureForm(v), expected), "\(key)")
                continue
            }
            // Long arrays: count, samples at fixed indices, and a checksum.
            guard case .array(let a) = v else { Issue.record("\(key) is not an array"); continue }
            let values = fixtureForm(a)
            #expect(values.count == e["count"]?.intValue, "\(key)")
            for (i, sample) in e["samples"]!.objectValue! {
                #expect(sameNumber(values[Int(i)!], sample), "\(key)[\(i)]")
            }
            if case .string(let strings) = a {
                #expect(strings.reduce(0) { $0 + $1.utf8.count } == e["utf8_bytes"]?.intValue, "\(key)")
            } else {
                #expect(String(a.intValues!.reduce(0, +)) == e["sum"]?.stringValue, "\(key)")
            }
        }
    }

    @Test func tensorInfos() throws {
        let (g, fx) = try SmolLM2GGUFTests.load()
        #expect(g.file.count == fx["file_bytes"]?.intValue)
        #expect(g.alignment == 32)
        #expect(g.dataOffset == fx["data_offset"]?.intValue)
        let infos = fx["tensors"]!.arrayValue!
        #expect(g.tensors.count == 272)
        #expect(infos.count == 272)
        for (t, e) in zip(g.tensors, infos) {
            let a = e.arrayValue!
            #expect(t.name == a[0].stringValue)
            #expect(t.type.name == a[1].stringValue, "\(t.name)")
            #expect(t.dims == a[2].arrayValue!.map { $0.intValue! }, "\(t.name)")
            #expect(t.offset == a[3].intValue, "\(t.name)")
        }
        let counts = Dictionary(grouping: g.tensors, by: \.type).mapValues(\.count)
        #expect(counts == [.q4_1: 210, .q8_0: 1, .f32: 61])
    }

    /// Sums in f64 over the f32 values: numpy sums pairwise, we sum in order, so they agree to rounding of
    /// the f64 accumulation (relative 1e-9 is many orders above it and far below any wrong value).
    /// Samples are exact: dequantization is exact f32 arithmetic in the same order as gguf-py.
    static func check(_ values: [Float], _ e: JSONObject, _ label: String, rows: Int) {
        var sum = 0.0, sumsq = 0.0, weighted = 0.0
        let cols = values.count / rows
        for r in 0..<rows {
            var rowSum = 0.0
            for c in 0..<cols {
                let v = Double(values[r * cols + c])
                rowSum += v; sumsq += v * v
            }
            sum += rowSum
            weighted += Double(r + 1) * rowSum
        }
        func close(_ a: Double, _ key: String) {
            guard let b = e[key]?.doubleValue else { return }
            #expect(abs(a - b) <= 1e-9 * max(abs(b), 1), "\(label) \(key): \(a) vs \(b)")
        }
        close(sum, "sum"); close(sumsq, "sumsq"); close(weighted, "row_weighted")
        var bad = 0
        for (i, s) in e["samples"]!.objectValue! where values[Int(i)!] != Float(s.doubleValue!) { bad += 1 }
        #expect(bad == 0, "\(label): \(bad) samples differ")
    }

    @Test func dequantizedTensorsMatchGGUFPy() throws {
        let (g, fx) = try SmolLM2GGUFTests.load()
        for (name, e) in fx["dequantized"]!.objectValue! {
            let o = e.objectValue!
            let t = try g.tensor(name)
            #expect(t.shape == o["shape"]!.arrayValue!.map { $0.intValue! }, "\(name)")
            SmolLM2GGUFTests.check(t.array, o, name, rows: t.shape[0])
        }
    }

    @Test func qkUnpermutedEqualsTransformers() throws {
        let (g, fx) = try SmolLM2GGUFTests.load()
        let heads = try g.metadata.int("llama.attention.head_count")
        let kvHeads = try g.metadata.int("llama.attention.head_count_kv")
        for layer in [0, 29] {
            let hf = fx["transformers"]!.objectValue!
            let q = try g.llamaQK("blk.\(layer).attn_q.weight", heads: heads)
            let k = try g.llamaQK("blk.\(layer).attn_k.weight", heads: kvHeads)
            let v = try g.tensor("blk.\(layer).attn_v.weight")  // not permuted by the converter
            for (t, proj) in [(q, "q_proj"), (k, "k_proj"), (v, "v_proj")] {
                let e = hf["model.layers.\(layer).self_attn.\(proj).weight"]!.objectValue!
                #expect(t.shape == e["shape"]!.arrayValue!.map { $0.intValue! })
                SmolLM2GGUFTests.check(t.array, e, "layer \(layer) \(proj)", rows: t.shape[0])
            }
            // Into a caller's buffer: the same values; a wrong size is an error.
            var arena = [Float](repeating: 0, count: q.count)
            try arena.withUnsafeMutableBufferPointer { try g.readLlamaQK("blk.\(layer).attn_q.weight", heads: heads, into: $0) }
            #expect(arena == q.array)
            #expect(throws: GGUFError.self) {
                try arena.withUnsafeMutableBufferPointer { try g.readLlamaQK("blk.\(layer).attn_k.weight", heads: kvHeads, into: $0) }
            }
            #expect(throws: GGUFError.self) { _ = try g.llamaQK("blk.\(layer).attn_q.weight", heads: 7) }
            // Without the un-permutation q differs from transformers' q_proj (the check above is not vacuous).
            let raw = try g.tensor("blk.\(layer).attn_q.weight").array
            let samples = hf["model.layers.\(layer).self_attn.q_proj.weight"]!.objectValue!["samples"]!.objectValue!
            #expect(samples.contains { raw[Int($0.0)!] != Float($0.1.doubleValue!) })
        }
    }

    @Test func everyTensorDequantizes() throws {
        let (g, _) = try SmolLM2GGUFTests.load()
        var total = 0
        for t in g.tensors {
            let x = try g.tensor(t.name)
            total += x.count
            let finite = UnsafeBufferPointer(start: x.pointer, count: x.count).allSatisfy(\.isFinite)
            #expect(finite, "\(t.name)")
        }
        #expect(total == 134_515_008)
    }
}
