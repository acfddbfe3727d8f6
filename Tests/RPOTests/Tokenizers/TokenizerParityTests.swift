// Tokenizers against HF tokenizers/transformers ids and decodes (scripts/make_tokenizer_fixtures.py) on
// 2,705 real texts (HH-RLHF, AlpacaEval) plus hand-made edge cases, and against llama.cpp's tokenizer test
// vectors. Exact equality: tokenization has no tolerance.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite("Tokenizer parity with HF", .serialized)
struct TokenizerParityTests {
    static let gpt2 = Result { try Tokenizer.load(path: TokFixtures.directory("gpt2")) }
    static let smollm2 = Result { try Tokenizer.load(path: TokFixtures.directory("smollm2")) }
    static let llamaSPM = Result { try Tokenizer.load(path: TokFixtures.directory("llama-spm")) }

    @Test func gpt2VocabMerges() throws {
        let t = try Self.gpt2.get()
        #expect(t.vocabularySize == 50257)
        #expect(t.eosTokenId == 50256 && t.bosTokenId == 50256 && t.eosToken == "<|endoftext|>")
        #expect(t.encode("Hello world") == [15496, 995])
        try TokFixtures.checkParity(t, "gpt2")
    }

    @Test func smollm2TokenizerJSON() throws {
        let t = try Self.smollm2.get()
        #expect(t.bosTokenId == 1 && t.eosTokenId == 2 && t.padTokenId == 2 && t.unkTokenId == 0)
        #expect(t.bosToken == "<|im_start|>" && t.eosToken == "<|im_end|>")
        #expect(t.chatTemplate?.contains("<|im_start|>") == true)
        #expect(t.vocabularySize == 49152)
        try TokFixtures.checkParity(t, "smollm2")
    }

    @Test func llamaSentencePieceTokenizerJSON() throws {
        let t = try Self.llamaSPM.get()
        #expect(t.bosTokenId == 1 && t.eosTokenId == 2 && t.unkTokenId == 0)
        #expect(t.encode("Hello world") == [1, 15043, 3186])
        try TokFixtures.checkParity(t, "llama-spm")
    }

    /// The Llama-2 tokenizer.json of the HF hub (Prepend + Replace normalizer, no pre-tokenizer, unk <unk>),
    /// derived from the committed file exactly as the fixture script derives it.
    @Test func llamaLegacyTokenizerJSON() throws {
        try TokFixtures.checkParity(try Self.llamaLegacy.get(), "llama-legacy")
    }

    static let llamaLegacy = Result { () throws -> Tokenizer in
        let dir = try TokFixtures.directory("llama-spm")
        let raw = try TokFixtures.readAll(dir + "/tokenizer.json")
        var root = try raw.withUnsafeBufferPointer { try TokenizerJSONReader.parse($0) }.objectValue!
        root["normalizer"] = .object(JSONObject([("type", .string("Sequence")), ("normalizers", .array([
            .object(JSONObject([("type", .string("Prepend")), ("prepend", .string("\u{2581}"))])),
            .object(JSONObject([("type", .string("Replace")), ("pattern", .object(JSONObject([("String", .string(" "))]))),
                                ("content", .string("\u{2581}"))])),
        ]))]))
        root["pre_tokenizer"] = .null
        var model = root["model"]!.objectValue!
        model["unk_token"] = .string("<unk>")
        root["model"] = .object(model)
        var bytes: [UInt8] = []
        try JSONSerializer.write(root, to: &bytes)
        let tmp = TempDir()
        try Data(bytes).write(to: URL(fileURLWithPath: tmp.file("tokenizer.json")), options: .atomic)
        return try Tokenizer.load(path: tmp.path)
    }

    @Test func miniLMWordPiece() throws {
        let path = TestPaths.models("all-MiniLM-L6-v2")
        let t = try Tokenizer.load(path: path)
        #expect(t.encode("Hello, World!") == [101, 7592, 1010, 2088, 999, 102])
        #expect(t.padTokenId == 0 && t.unkTokenId == 100 && t.vocabularySize == 30522)
        // No padding to the file's fixed 128 and no truncation: long texts keep every token.
        #expect(t.encode(String(repeating: "word ", count: 300)).count == 302)
        try TokFixtures.checkParity(t, "minilm")
    }

    /// llama.cpp's test vectors (tests/test-tokenizer-0): ids without special tokens.
    @Test(arguments: [("gpt-2", "gpt2"), ("llama-spm", "llama-spm"), ("llama-bpe", "llama-bpe"), ("qwen2", "qwen2")])
    func llamaCppVectors(_ name: String, _ dir: String) throws {
        let vec = try TokFixtures.parse(TokFixtures.readAll(TokFixtures.fixture("llamacpp-vectors.json"))).objectValue!
        let inputs = vec["inputs"]!.arrayValue!.map { $0.stringValue! }
        let outs = vec[name]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } }
        // gpt-2's vectors run on vocab.json + merges.txt (the same vocabulary and merges as its GGUF);
        // llama-spm's on the hub's legacy tokenizer.json form, whose Prepend normalizer adds "▁" before every
        // text as llama.cpp's add_space_prefix does (transformers' Metaspace `first` form does not when the
        // text starts with a space).
        let t = dir == "llama-spm" ? try Self.llamaLegacy.get() : try Tokenizer.load(path: TokFixtures.directory(dir))
        var bad: [String] = []
        for (x, want) in zip(inputs, outs) {
            let got = t.encode(x, addSpecialTokens: false)
            if got != want { bad.append("\(x.debugDescription.prefix(40)): got \(got.prefix(12)) expected \(want.prefix(12))") }
        }
        #expect(inputs.count == 46 && outs.count == 46)
        #expect(bad.isEmpty, "\(name): \(bad.count) of \(inputs.count) cases differ:\n\(bad.prefix(5).joined(separator: "\n"))")
    }
}

@Suite("Tokenizers from GGUF", .serialized)
struct GGUFTokenizerTests {
    /// llama.cpp's SPM vocabulary (= Llama-2 tokenizer.model): llama.cpp's own vectors and HF's ids of the
    /// equivalent hub tokenizer.json on the parity texts (BOS added: add_bos_token is true).
    @Test func llamaSPMFromGGUF() throws {
        let t = try Tokenizer.load(path: TokFixtures.file("ggml-vocab-llama-spm.gguf.zst"))
        #expect(t.bosTokenId == 1 && t.eosTokenId == 2 && t.unkTokenId == 0 && t.bosToken == "<s>")
        let vec = try TokFixtures.parse(TokFixtures.readAll(TokFixtures.fixture("llamacpp-vectors.json"))).objectValue!
        let inputs = vec["inputs"]!.arrayValue!.map { $0.stringValue! }
        let outs = vec["llama-spm"]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } }
        var bad: [String] = []
        for (x, want) in zip(inputs, outs) where t.encode(x, addSpecialTokens: false) != want { bad.append(x.debugDescription) }
        #expect(bad.isEmpty, "\(bad.count) llama.cpp vectors differ: \(bad.prefix(5))")
        try TokFixtures.checkParity(t, "llama-legacy")
    }

    /// SmolLM2's GGUF (models/): pre `smollm` is llama.cpp's digit split + GPT-2 regex, i.e. the original HF
    /// SmolLM2 pre-tokenizer, not the plain ByteLevel that transformers writes from the GGUF.
    @Test func smollm2FromGGUF() throws {
        let t = try Tokenizer.load(path: TestPaths.models("SmolLM2-135M-Instruct.Q4_1.gguf"))
        #expect(t.bosTokenId == 1 && t.eosTokenId == 2 && t.unkTokenId == 0 && t.padTokenId == 2)
        #expect(t.chatTemplate?.contains("<|im_start|>") == true)
        #expect(t.encode("Year 2024") == [19840, 216, 34, 32, 34, 36])  // HF tokenizers 0.23.3
        try TokFixtures.checkParity(t, "smollm2-gguf")
    }

    /// A minimal GGUF v3 file holding only string / string-array metadata.
    static func writeGGUF(_ kv: [(String, Any)], to path: String) throws {
        var b: [UInt8] = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
        u32(3); u64(0); u64(UInt64(kv.count))
        for (k, v) in kv {
            str(k)
            if let s = v as? String { u32(8); str(s) }
            else if let a = v as? [String] { u32(9); u32(8); u64(UInt64(a.count)); a.forEach(str) }
        }
        try Data(b).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    @Test func ggufErrors() throws {
        let d = TempDir()
        let cases: [([(String, Any)], String, String)] = [
            ([("tokenizer.ggml.model", "bert"), ("tokenizer.ggml.tokens", ["a"])], "tokenizer.ggml.model", "unsupported tokenizer model \"bert\""),
            ([("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.tokens", ["a", "b", "ab"]), ("tokenizer.ggml.merges", ["a b"]),
              ("tokenizer.ggml.pre", "deepseek-coder")], "tokenizer.ggml.pre", "unsupported pre-tokenizer \"deepseek-coder\""),
            ([("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.tokens", ["a", "b"]), ("tokenizer.ggml.merges", ["a b"])],
             "model.merges[0]", "merged token \"ab\""),
            ([("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.tokens", ["a"])], "tokenizer.ggml.merges", "no metadata key"),
            ([("tokenizer.ggml.tokens", ["a"])], "tokenizer.ggml.model", "no metadata key"),
        ]
        for (i, (kv, component, words)) in cases.enumerated() {
            let p = d.file("t\(i).gguf")
            try Self.writeGGUF(kv, to: p)
            do {
                _ = try Tokenizer.load(path: p)
                Issue.record("case \(i) loaded; expected an error about \(component)")
            } catch let e as TokenizerError {
                #expect(e.component == component && e.description.contains(words) && e.source == p, "case \(i): \(e)")
            }
        }
        try Data("GGUF\u{3}".utf8).write(to: URL(fileURLWithPath: d.file("bad.gguf")), options: .atomic)
        #expect { try Tokenizer.load(path: d.file("bad.gguf")) } throws: { ($0 as? TokenizerError)?.component == "gguf" }
    }
}
