// The sentence encoder (all-MiniLM-L6-v2, `make models`) against sentence-transformers 6.2.0: 1,040 real
// texts (HH-RLHF prompts in the official RPO format, AlpacaEval instructions, edge cases), the golden
// cosines of docs/models.md §2, other pooling modes, a Dense module and a plain HF directory; independence
// from batch composition. Fixtures: Tests/Fixtures/embed (scripts/make_embed_fixtures.py).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

enum EmbedFixtures {
    static let modelPath = TestPaths.models("all-MiniLM-L6-v2")

    /// Loaded once for every suite that needs it.
    static let encoder: Result<SentenceEncoder, Error> = Result { try SentenceEncoder.load(path: modelPath) }

    static func load() throws -> SentenceEncoder {
        switch encoder {
        case .success(let e): return e
        case .failure(let e): throw IOError(modelPath, "cannot load the model (run `make models`): \(e)")
        }
    }

    struct Text { let text: String; let source: String; let tokens: Int }

    static func texts() throws -> [Text] {
        let r = try RecordReader(path: TestPaths.fixture("embed/texts.jsonl.zst"))
        var out: [Text] = []
        while let o = try r.read() {
            out.append(Text(text: try r.field(o, "text").string(), source: try r.field(o, "source").string(),
                            tokens: try r.field(o, "tokens").int()))
        }
        return out
    }

    static func floats(_ file: String, _ name: String) throws -> (values: [Float], shape: [Int]) {
        let t = try SafetensorsFile(path: TestPaths.fixture("embed/\(file)")).tensor(name)
        return (t.array, t.shape)
    }

    static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
        return ab / (aa.squareRoot() * bb.squareRoot())
    }
}

@Suite struct SentenceEncoderTests {
    @Test func loadsTheSentenceTransformersPipeline() throws {
        let e = try EmbedFixtures.load()
        #expect(e.moduleNames == ["Transformer", "Pooling(mean)", "Normalize"])
        #expect(e.maxSeqLength == 256 && e.dimension == 384 && e.normalize && !e.doLowerCase)
        #expect(e.model.config.numLayers == 6 && e.model.config.hiddenSize == 384 && e.model.config.numHeads == 12)
        #expect(e.model.parameterCount == 22_565_376, "BertModel without its pooler (22,713,216 with it)")
    }

    /// Every fixture text: same word-piece count as sentence-transformers, and the same embedding.
    @Test func matchesSentenceTransformersOnRealTexts() throws {
        let e = try EmbedFixtures.load()
        let texts = try EmbedFixtures.texts()
        let (want, shape) = try EmbedFixtures.floats("embeddings.safetensors", "embeddings")
        #expect(texts.count == 1040 && shape == [1040, 384])
        #expect(texts.filter { $0.tokens == 256 }.count >= 50, "the fixture exercises truncation")
        let tokens = e.tokenize(texts.map(\.text))
        for (t, ids) in zip(texts, tokens) where ids.count != t.tokens {
            Issue.record("\(t.source) text \(t.text.prefix(40).debugDescription): \(ids.count) word-pieces, sentence-transformers \(t.tokens)")
        }
        let got = try e.encode(tokenized: tokens)
        #expect(got.count == want.count)
        var worstCos = 1.0, worstDiff: Float = 0
        for i in 0..<texts.count {
            let a = got[(i * 384)..<((i + 1) * 384)], b = want[(i * 384)..<((i + 1) * 384)]
            let cos = EmbedFixtures.cosine(a, b)
            let diff = zip(a, b).map { abs($0 - $1) }.max()!
            worstCos = min(worstCos, cos); worstDiff = max(worstDiff, diff)
            // Both sides are fp32 forwards of the same weights that sum in different orders (OpenBLAS vs MKL
            // sgemm, packed vs padded attention, polynomial vs Sleef exp/erf): each of the ~10^4 roundings per
            // output contributes ~1e-7 relative, and the unit-norm output's components are ~0.05, so the
            // differences are ~1e-7..1e-6. 1e-5 and cosine 0.99999 (the spec's bounds) leave a 10x margin
            // while still catching any real error (a wrong mask, truncation or pooling moves them by >1e-3).
            #expect(cos >= 0.99999 && diff <= 1e-5,
                    "\(texts[i].source) text \(i) \(texts[i].text.prefix(40).debugDescription): cosine \(cos), max |diff| \(diff)")
        }
        print("SentenceEncoderTests: \(texts.count) texts, worst cosine \(worstCos), worst max |diff| \(worstDiff)")
    }

    /// docs/models.md §2: cosines of "A man is eating food." with three sentences, to 4 decimals.
    @Test func goldenCosines() throws {
        let e = try EmbedFixtures.load()
        let v = e.encode(["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
                          "A man is riding a horse."])
        let golden = [0.7553, -0.1050, 0.2474]
        for k in 0..<3 {
            let c = EmbedFixtures.cosine(v[0..<384], v[((k + 1) * 384)..<((k + 2) * 384)])
            // The golden values are rounded to 4 decimals: half a unit of the last place.
            #expect(abs(c - golden[k]) <= 0.00005, "cosine \(k): \(c) vs \(golden[k])")
        }
        for i in 0..<4 {
            let n = v[(i * 384)..<((i + 1) * 384)].reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(n - 1) < 1e-6, "Normalize makes unit vectors")
        }
    }

    /// A text's embedding does not depend on what it is batched with: alone, in one batch of mixed lengths
    /// (where PyTorch would pad), in tiny chunks, on one core or two. Attention and pooling only ever see a
    /// sequence's own rows, and sgemm rows do not depend on the other rows of the matrix, so the results are
    /// identical to the bit; the comparison allows 1e-7 in case an OpenBLAS kernel ever blocks by row count.
    @Test func batchCompositionDoesNotChangeEmbeddings() throws {
        let e = try EmbedFixtures.load()
        let all = try EmbedFixtures.texts()
        let texts = stride(from: 0, to: all.count, by: 26).map { all[$0].text }  // 40 texts of all lengths
        let batched = e.encode(texts)
        var alone: [Float] = []
        for t in texts { alone += e.encode([t]) }
        expectClose(alone, batched, atol: 1e-7, "one text per batch vs one batch")
        let saved = (e.chunkTokens, Parallel.threads)
        defer { e.chunkTokens = saved.0; Parallel.threads = saved.1 }
        e.chunkTokens = 64
        expectClose(e.encode(texts), batched, atol: 1e-7, "chunks of 64 tokens")
        Parallel.threads = 1
        expectClose(e.encode(texts), batched, atol: 1e-7, "one core")
        let reversed = e.encode(texts.reversed())
        var unreversed: [Float] = []
        for i in (0..<texts.count).reversed() { unreversed += reversed[(i * 384)..<((i + 1) * 384)] }
        expectClose(unreversed, batched, atol: 1e-7, "another order")
    }

    @Test func emptyAndInvalidInputs() throws {
        let e = try EmbedFixtures.load()
        #expect(e.encode([]).isEmpty)
        #expect(e.tokenize([""]) == [[101, 102]], "an empty text is [CLS] [SEP]")
        #expect(throws: BERTError(e.directory, "input 1 has token id 30522, outside the vocabulary of 30522")) {
            try e.encode(tokenized: [[101, 102], [101, 30522, 102]])
        }
        #expect(throws: BERTError(e.directory, "input 0 has 257 token ids, more than max_seq_length 256")) {
            try e.encode(tokenized: [[Int32](repeating: 1000, count: 257)])
        }
    }

    // MARK: - Other module stacks

    /// A model directory sharing all-MiniLM-L6-v2's files, with its own modules.json and pooling config.
    static func variantDirectory(_ tmp: TempDir, pooling: JSON, dense: Bool = false, normalize: Bool = false) throws -> String {
        let fm = FileManager.default
        let dir = tmp.file("model")
        try fm.createDirectory(atPath: dir + "/1_Pooling", withIntermediateDirectories: true)
        for f in try fm.contentsOfDirectory(atPath: EmbedFixtures.modelPath) where f != "modules.json" && f != "1_Pooling" {
            try fm.createSymbolicLink(atPath: dir + "/" + f, withDestinationPath: EmbedFixtures.modelPath + "/" + f)
        }
        try JSONSerializer.string(pooling).write(toFile: dir + "/1_Pooling/config.json", atomically: true, encoding: .utf8)
        var modules = [#"{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"}"#,
                       #"{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}"#]
        if dense {
            try fm.copyItem(atPath: TestPaths.fixture("embed/dense/2_Dense"), toPath: dir + "/2_Dense")
            modules.append(#"{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}"#)
        }
        if normalize {
            modules.append(#"{"idx":\#(modules.count),"name":"n","path":"n_Normalize","type":"sentence_transformers.models.Normalize"}"#)
        }
        try "[\(modules.joined(separator: ","))]".write(toFile: dir + "/modules.json", atomically: true, encoding: .utf8)
        return dir
    }

    static let variantTexts: [String] = {
        guard let o = try? loadJSONFixture("embed/variants.json"), let t = o.member("texts")?.arrayValue else { return [] }
        return t.compactMap(\.stringValue)
    }()

    static func variantConfig(_ name: String) throws -> JSON {
        guard let p = try loadJSONFixture("embed/variants.json").member("variants")?.member(name)?.member("pooling") else {
            throw FixtureError(description: "variants.json has no \(name)")
        }
        return p
    }

    /// Pooling modes other than mean (each alone, and three concatenated through the legacy boolean keys),
    /// without Normalize, so the raw pooled values are compared. Tolerance as for the real texts, relative to
    /// the values' scale (unnormalised hidden states are O(1): 1e-5 relative).
    @Test(arguments: ["cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken", "cls_max_mean"])
    func poolingModesMatchSentenceTransformers(_ name: String) throws {
        _ = try EmbedFixtures.load()
        let tmp = TempDir()
        let e = try SentenceEncoder.load(path: try Self.variantDirectory(tmp, pooling: try Self.variantConfig(name)))
        let (want, shape) = try EmbedFixtures.floats("variants.safetensors", name)
        #expect(shape == [Self.variantTexts.count, e.dimension])
        let got = e.encode(Self.variantTexts)
        let scale = want.map(abs).max()!
        expectClose(got, want, atol: 1e-5 * scale, "pooling \(name)")
        #expect(!e.normalize)
    }

    /// Transformer -> mean -> Dense(384 -> 64, tanh) -> Normalize.
    @Test func denseModuleMatchesSentenceTransformers() throws {
        _ = try EmbedFixtures.load()
        let tmp = TempDir()
        let e = try SentenceEncoder.load(path: try Self.variantDirectory(tmp, pooling: .object(JSONObject(["pooling_mode": .string("mean")])),
                                                                         dense: true, normalize: true))
        #expect(e.moduleNames == ["Transformer", "Pooling(mean)", "Dense", "Normalize"] && e.dimension == 64)
        let (want, _) = try EmbedFixtures.floats("variants.safetensors", "dense")
        // Unit vectors of 64 components: the same 1e-5 bound as the main fixture.
        expectClose(e.encode(Self.variantTexts), want, atol: 1e-5, "dense")
    }

    /// A plain HF directory with "bert."-prefixed weights: mean pooling, no normalisation, 512 positions.
    @Test func plainHuggingFaceDirectory() throws {
        _ = try EmbedFixtures.load()
        let tmp = TempDir()
        let fm = FileManager.default
        let dir = tmp.file("plain")
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            try fm.copyItem(atPath: EmbedFixtures.modelPath + "/" + f, toPath: dir + "/" + f)
        }
        let src = try SafetensorsFile(path: EmbedFixtures.modelPath + "/model.safetensors")
        let entries = try src.names.map { n -> SafetensorsEntry in
            let info = try src.info(n)
            return SafetensorsEntry("bert." + n, dtype: info.dtype, shape: info.shape, bytes: [UInt8](try src.bytes(n)))
        }
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: dir + "/model.safetensors")
        let e = try SentenceEncoder.load(path: dir)
        #expect(e.moduleNames == ["Transformer", "Pooling(mean)"] && !e.normalize && e.maxSeqLength == 512)
        let (want, _) = try EmbedFixtures.floats("variants.safetensors", "plain_hf")
        let scale = want.map(abs).max()!
        expectClose(e.encode(Self.variantTexts), want, atol: 1e-5 * scale, "plain HF directory")
    }
}
