// Tokenizers against HF tokenizers/transformers ids and decodes (scripts/make_tokenizer_fixtures.py) on
// 2,705 real texts (HH-RLHF, AlpacaEval) plus hand-made edge cases, and against llama.cpp's tokenizer test
// vectors. Exact equality: tokenization has no tolerance.
import Foundation
import Testing
@testable import Shared

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
        FileManager.default.createFile(atPath: tmp.file("tokenizer.json"), contents: Data(bytes))
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
