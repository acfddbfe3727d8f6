// Tokenizers exported as Hugging Face files (TokenizerExport.swift) and checkpoints of GGUF models
// (CheckpointTokenizer.swift), against scripts/make_tokexport_fixtures.py. That script loaded rpo's exports
// with HF tokenizers and with transformers and found ids and decodes identical to rpo's on 2,821 texts (the
// tokenizer fixtures' texts and llama.cpp's test inputs), SmolLM2's chat template rendering identically, and
// rpo's SmolLM2 and tiny checkpoints generating transformers' greedy tokens; it recorded the sha256 of every
// file it checked (Tests/Fixtures/tokexport/verified.json). These tests re-export and compare those bytes,
// reload every export with rpo's own loader (identical ids and decodes on the same texts), and cover each
// error path. Exact equality throughout: tokenization has no tolerance.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

enum ExportFixtures {
    static let verified: JSONObject = try! loadJSONFixture("tokexport/verified.json").objectValue!

    static func section(_ key: String) -> JSONObject { verified[key]!.objectValue! }

    /// The texts the script used: the tokenizer fixtures' texts, then llama.cpp's test inputs.
    static let llamaCppVectors: JSONObject = try! TokFixtures.parse(TokFixtures.readAll(TokFixtures.fixture("llamacpp-vectors.json"))).objectValue!
    static let llamaCppInputs: [String] = llamaCppVectors["inputs"]!.arrayValue!.map { $0.stringValue! }
    static let texts: [String] = TokFixtures.texts + llamaCppInputs

    /// A committed GGUF (tokexport/<name>.gguf.zst), decompressed once.
    static func gguf(_ name: String) throws -> String {
        if name == "smollm2" { return TestPaths.models("SmolLM2-135M-Instruct.Q4_1.gguf") }
        if name == "llama-spm" { return try TokFixtures.file("ggml-vocab-llama-spm.gguf.zst") }
        return try TokFixtures.file("../tokexport/\(name).gguf.zst")
    }

    /// A JSON file as an object (the tokenizer reader: the shared parser's duplicate-key check is quadratic
    /// on a vocabulary object).
    static func parse(_ bytes: [UInt8]) throws -> JSONObject {
        try bytes.withUnsafeBufferPointer { try TokenizerJSONReader.parse($0) }.objectValue!
    }

    static func sha(_ bytes: [UInt8]) -> String {
        var h = SHA256()
        h.update(bytes)
        return h.hexDigest()
    }

    static func sha(file: String) throws -> String {
        var h = SHA256()
        try h.update(file: file)
        return h.hexDigest()
    }

    static func files(_ dir: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
            out[f] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)))
        }
        return out
    }

    /// The sha256 of each exported file equals the verified one.
    static func expectVerified(_ files: [HFFile], _ record: JSONObject, _ label: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        let want = record["sha256"]!.objectValue!
        for f in files {
            #expect(sha(f.bytes) == want[f.name]?.stringValue, "\(label): \(f.name) differs from the export the script verified",
                    sourceLocation: sourceLocation)
        }
    }

    /// Ids (with and without special tokens) and decodes of `b` equal `a`'s on every text.
    static func expectSameTokenizer(_ a: Tokenizer, _ b: Tokenizer, _ label: String,
                                    sourceLocation: SourceLocation = #_sourceLocation) {
        for special in [true, false] {
            let x = a.encode(batch: texts, addSpecialTokens: special), y = b.encode(batch: texts, addSpecialTokens: special)
            let bad = (0..<texts.count).filter { x[$0] != y[$0] }
            #expect(bad.isEmpty, "\(label): \(bad.count) of \(texts.count) texts encode differently (special \(special)), e.g. #\(bad.first ?? 0) \(texts[bad.first ?? 0].debugDescription.prefix(50))",
                    sourceLocation: sourceLocation)
            if special {
                let badDecode = (0..<texts.count).filter {
                    a.decode(x[$0]) != b.decode(x[$0]) || a.decode(x[$0], skipSpecialTokens: true) != b.decode(x[$0], skipSpecialTokens: true)
                }
                #expect(badDecode.isEmpty, "\(label): \(badDecode.count) decodes differ", sourceLocation: sourceLocation)
            }
        }
        #expect(a.bosTokenId == b.bosTokenId && a.eosTokenId == b.eosTokenId && a.padTokenId == b.padTokenId
                && a.unkTokenId == b.unkTokenId && a.vocabularySize == b.vocabularySize, "\(label): special ids",
                sourceLocation: sourceLocation)
        #expect(a.chatTemplate == b.chatTemplate && a.modelMaxLength == b.modelMaxLength, "\(label): config",
                sourceLocation: sourceLocation)
    }

    /// The script's verdict: every comparison held on every text.
    static func expectAllIdentical(_ record: JSONObject, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(record["texts"]?.intValue == texts.count, "\(label): the script checked \(record["texts"].map { "\($0)" } ?? "no") texts",
                sourceLocation: sourceLocation)
        for k in ["tokenizers_ids", "tokenizers_ids_no_special", "tokenizers_decode", "tokenizers_decode_skip",
                  "transformers_ids", "transformers_ids_no_special", "transformers_decode", "transformers_decode_skip"] {
            #expect(record[k]?.intValue == texts.count, "\(label): \(k)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("Tokenizer export", .serialized)
struct TokenizerExportTests {
    /// GGUF tokenizers of every kind the loader reads: exported bytes as verified, and the export reloads
    /// (rpo's tokenizer.json loader) to the same tokenizer.
    @Test(arguments: ["smollm2", "llama-spm", "gpt2-mini", "llama-bpe-mini", "qwen2-mini"])
    func ggufExport(_ name: String) throws {
        let record = ExportFixtures.section("gguf")[name]!.objectValue!
        ExportFixtures.expectAllIdentical(record, name)
        let path = try ExportFixtures.gguf(name)
        if let want = record["gguf_sha256"]?.stringValue { #expect(try ExportFixtures.sha(file: path) == want) }
        let t = try Tokenizer.load(path: path)
        let files = try t.huggingFaceFiles()
        #expect(files.map(\.name) == Tokenizer.huggingFaceFileNames)
        ExportFixtures.expectVerified(files, record, name)
        let tmp = TempDir()
        try t.save(to: tmp.path)
        #expect(try ExportFixtures.files(tmp.path) == Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.bytes) }))
        let back = try Tokenizer.load(path: tmp.path)
        ExportFixtures.expectSameTokenizer(t, back, name)
        // Exporting the reloaded tokenizer gives the same tokenizer.json (its post-processor is kept as read).
        let again = try back.huggingFaceFiles()
        #expect(again[0].bytes == files[0].bytes && again[2].bytes == files[2].bytes, "\(name): re-export differs")
        if let vectors = record["llamacpp_vectors"]?.arrayValue {
            // An independent reference: llama.cpp's ids for its test inputs, in the mini vocabulary's numbering.
            let want = vectors.map { $0.arrayValue!.map { $0.intValue! } }
            let got = ExportFixtures.llamaCppInputs.map { t.encode($0, addSpecialTokens: false) }
            #expect(got == want, "\(name): llama.cpp vectors")
        }
    }

    @Test func ggufExportContents() throws {
        // SmolLM2: the digit split of pre "smollm", no BOS, ChatML template, context length as model_max_length.
        let s = try Tokenizer.load(path: ExportFixtures.gguf("smollm2"))
        let sj = try ExportFixtures.parse(s.tokenizerJSON())
        #expect(sj["pre_tokenizer"]?.member("pretokenizers")?.arrayValue?.first?.member("type")?.stringValue == "Digits")
        #expect(sj["model"]?.member("merges")?.arrayValue?.count == 48900)
        let sc = try ExportFixtures.parse(s.configJSON())
        #expect(sc.keys == ["add_bos_token", "add_eos_token", "bos_token", "chat_template", "clean_up_tokenization_spaces",
                            "eos_token", "model_max_length", "pad_token", "tokenizer_class", "unk_token"])
        #expect(sc["add_bos_token"] == .bool(false) && sc["model_max_length"] == .int(8192))
        #expect(sc["chat_template"]?.stringValue == s.chatTemplate && sc["tokenizer_class"] == .string("PreTrainedTokenizerFast"))
        // Llama SPM: BOS template, byte fallback, merges of equal score in transformers' order (the script
        // found them identical to transformers' own conversion of the GGUF).
        let l = try Tokenizer.load(path: ExportFixtures.gguf("llama-spm"))
        let lc = try ExportFixtures.parse(l.configJSON())
        #expect(lc["add_bos_token"] == .bool(true) && lc["bos_token"] == .string("<s>") && lc["pad_token"] == nil)
        let lm = try ExportFixtures.parse(l.tokenizerJSON())["model"]!.objectValue!
        #expect(lm["byte_fallback"] == .bool(true) && lm["fuse_unk"] == .bool(true) && lm["unk_token"] == .string("<unk>"))
        for name in ["smollm2", "llama-spm"] {
            #expect(ExportFixtures.section("gguf")[name]?.member("same_vocab_and_merges_as_transformers_gguf") == .bool(true))
        }
        // qwen2-mini: EOS template, user-defined tokens exported as non-special added tokens.
        let q = try Tokenizer.load(path: ExportFixtures.gguf("qwen2-mini"))
        let qc = try ExportFixtures.parse(q.configJSON())
        #expect(qc["add_bos_token"] == .bool(false) && qc["add_eos_token"] == .bool(true) && qc["bos_token"] == nil)
        let qa = try ExportFixtures.parse(q.tokenizerJSON())["added_tokens"]!.arrayValue!
        #expect(qa.contains { $0.member("special") == .bool(false) } && qa.contains { $0.member("special") == .bool(true) })
    }

    /// Tokenizers read from tokenizer.json or vocab.json + merges.txt written back: the bytes the script
    /// verified, the HF ids of the tokenizer fixtures after reloading, and a byte-identical second round.
    @Test(arguments: ["gpt2", "smollm2", "llama-spm", "qwen2", "minilm"])
    func roundTrip(_ name: String) throws {
        let record = ExportFixtures.section("roundtrip")[name]!.objectValue!
        ExportFixtures.expectAllIdentical(record, "roundtrip \(name)")
        let src = name == "minilm" ? TestPaths.models("all-MiniLM-L6-v2") : try TokFixtures.directory(name)
        let t = try Tokenizer.load(path: src)
        let files = try t.huggingFaceFiles()
        ExportFixtures.expectVerified(files, record, "roundtrip \(name)")
        let tmp = TempDir()
        try t.save(to: tmp.path)
        let back = try Tokenizer.load(path: tmp.path)
        if name == "qwen2" {
            let want = ExportFixtures.llamaCppVectors["qwen2"]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } }
            #expect(ExportFixtures.llamaCppInputs.map { back.encode($0, addSpecialTokens: false) } == want)
        } else {
            try TokFixtures.checkParity(back, name)
        }
        #expect(try back.huggingFaceFiles() == files, "\(name): the second round trip changes the files")
    }

    /// The pruned Llama-3 fixture numbers "<|endoftext|>" 128256 after a 991-token vocabulary with gaps: HF
    /// tokenizers would renumber it on reading, so no tokenizer.json can say what rpo's tokenizer does.
    @Test func unexpressibleAddedTokenIsRefused() throws {
        let t = try Tokenizer.load(path: TokFixtures.directory("llama-bpe"))
        #expect(t.tokenId("<|endoftext|>") == 128256)
        do {
            _ = try t.huggingFaceFiles()
            Issue.record("exported a tokenizer HF would read differently")
        } catch let e as TokenizerError {
            #expect(e.component == "added_tokens" && e.message.contains("\"<|endoftext|>\" has id 128256") && e.message.contains("id 991"), "\(e)")
            let script = ExportFixtures.section("roundtrip")["llama-bpe"]!.objectValue!
            #expect(script["refused"]?.stringValue?.hasSuffix(e.message) == true, "rpo-convert refused it with the same message")
            #expect(script["hf_tokenizers_id"] == .int(991) && script["rpo_id"] == .array([.int(128256)]))
        }
    }

    // MARK: - Checkpoints

    /// What a SmolLM2 checkpoint holds besides the weights: exactly the files transformers was checked with
    /// (AutoTokenizer + AutoModelForCausalLM on them gave transformers' greedy tokens from the GGUF).
    @Test func smollm2CheckpointCompanions() throws {
        let path = try ExportFixtures.gguf("smollm2")
        let record = ExportFixtures.section("checkpoint")
        let config = try GGUFLlamaSource(GGUFFile(path: path)).config
        let files = try Tokenizer.load(path: path).huggingFaceFiles() + [try #require(try CausalLM.generationConfigFile(config: config))]
        ExportFixtures.expectVerified(files, record, "smollm2 checkpoint")
        // config.json: the bytes the LM tests check CausalLM.save writes for this model.
        #expect(try ExportFixtures.sha(file: TestPaths.fixture("lm/saved/smollm2-config.json")) == record["sha256"]?.member("config.json")?.stringValue)
        #expect(record["files"] == .array(["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
                                           "tokenizer.json", "tokenizer_config.json"].map { .string($0) }))
        #expect(String(decoding: files[3].bytes, as: UTF8.self) == "{\n  \"_from_model_config\": true,\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n  \"pad_token_id\": 2\n}\n")
        let runs = record["generations"]!.arrayValue!
        #expect(runs.count == 3 && record["identical_to_transformers_gguf"] == .int(3))
        #expect(runs[0].member("text") == .string("The capital of France is Paris."))
        #expect(record["generation_config"] == .object(JSONObject([("bos_token_id", .int(1)), ("eos_token_id", .int(2)), ("pad_token_id", .int(2))])))
        #expect(ExportFixtures.verified["chat_template"]?.member("identical") == .int(6))
    }

    /// A tiny llama GGUF (random weights, gpt2-mini tokenizer) saved by CausalLM.save and by ModelFiles.save:
    /// every file byte-identical to the directory transformers loaded with logits equal to its own load of
    /// the GGUF; the directory reloads in rpo to the same model and tokenizer.
    @Test func tinyGGUFCheckpoint() throws {
        let record = ExportFixtures.section("tiny_checkpoint")
        let gguf = try ExportFixtures.gguf("tiny-llama")
        #expect(try ExportFixtures.sha(file: gguf) == record["gguf_sha256"]?.stringValue)
        #expect(record["max_abs_logit_diff"] == .double(0) || record["max_abs_logit_diff"] == .int(0))
        let m = try CausalLM.load(gguf: gguf)
        #expect(m.ggufSource == gguf)
        let tmp = TempDir()
        let out = tmp.file("ckpt")
        try m.save(to: out)
        let saved = try ExportFixtures.files(out)
        let want = record["sha256"]!.objectValue!
        #expect(Set(saved.keys) == Set(want.keys))
        for (name, bytes) in saved { #expect(ExportFixtures.sha(bytes) == want[name]?.stringValue, "tiny checkpoint: \(name)") }
        // rpo reads its own checkpoint back: same weights, same tokenizer.
        let back = try CausalLM.load(directory: out)
        #expect(memcmp(back.parameters.pointer, m.parameters.pointer, 4 * m.layout.count) == 0)
        let tok = try Tokenizer.load(path: out)
        ExportFixtures.expectSameTokenizer(try Tokenizer.load(path: gguf), tok, "tiny checkpoint")
        let ids = record["ids"]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } }
        #expect(record["texts"]!.arrayValue!.map { tok.encode($0.stringValue!) } == ids)
        // The trainer's path: ModelFiles loads the GGUF and exports its tokenizer into each checkpoint.
        let viaFiles = try ModelFiles.load(gguf)
        try ModelFiles.save(viaFiles, to: tmp.file("mf"), companionsFrom: gguf)
        let mf = try ExportFixtures.files(tmp.file("mf"))
        for name in ["model.safetensors", "generation_config.json"] + Tokenizer.huggingFaceFileNames {
            #expect(mf[name] == saved[name], "ModelFiles.save: \(name)")
        }
        // A resumed run: the policy comes back from a checkpoint directory (no GGUF source of its own), and
        // its next checkpoint still carries the tokenizer of the run's GGUF model, byte for byte.
        let resumed = try ModelFiles.load(tmp.file("mf"))
        #expect(resumed.ggufSource == nil)
        try ModelFiles.save(resumed, to: tmp.file("resumed"), companionsFrom: gguf)
        #expect(try ExportFixtures.files(tmp.file("resumed")) == mf)
    }

    /// Which files save(to:) adds: none for a model from a directory (as before), the given tokenizer's,
    /// none of the exported tokenizer files when the caller copies tokenizer files.
    @Test func saveCompanionRules() throws {
        let tmp = TempDir()
        let gguf = try ExportFixtures.gguf("tiny-llama")
        let m = try CausalLM.load(gguf: gguf)
        try m.save(to: tmp.file("a"))
        let plain = try CausalLM.load(directory: tmp.file("a"))
        #expect(plain.ggufSource == nil)
        try plain.save(to: tmp.file("b"))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: tmp.file("b"))) == ["config.json", "model.safetensors"])
        #expect(try plain.huggingFaceCompanions().isEmpty)
        let spm = try Tokenizer.load(path: ExportFixtures.gguf("llama-spm"))
        try plain.save(to: tmp.file("c"), tokenizer: spm)
        let c = try ExportFixtures.files(tmp.file("c"))
        #expect(Set(c.keys) == Set(["config.json", "model.safetensors", "generation_config.json"] + Tokenizer.huggingFaceFileNames))
        for f in try spm.huggingFaceFiles() { #expect(c[f.name] == f.bytes) }
        let own = tmp.file("tokenizer.json")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: own), options: .atomic)
        try m.save(to: tmp.file("d"), extraFiles: [own])
        let d = try ExportFixtures.files(tmp.file("d"))
        #expect(Set(d.keys) == ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json"])
        #expect(d["tokenizer.json"] == Array("{}".utf8))
        #expect(try m.huggingFaceCompanions().map(\.name) == Tokenizer.huggingFaceFileNames + ["generation_config.json"])
    }

    // MARK: - Errors

    static let err = TokenizerErrorContext(source: "test")

    /// A character-level BPE tokenizer over `vocab` (token, id), for states the loaders never build.
    static func tokenizer(_ vocab: [(String, Int)], merges: [(String, String)] = [], model: ((Vocabulary) -> BPEModel)? = nil,
                          normalizer: Normalizer? = nil, pre: PreTokenizer? = nil, post: PostProcessor? = nil,
                          added: [AddedToken] = []) throws -> Tokenizer {
        var v = Vocabulary(capacity: vocab.count)
        for (t, i) in vocab { v.add(t, i) }
        let m = try model?(v) ?? Tokenizer.buildBPE(vocab: v, merges: merges, byteLevel: false, unkToken: nil, fuseUnk: false,
                                                     byteFallback: false, ignoreMerges: false, prefix: nil, suffix: nil, err)
        return Tokenizer(Tokenizer.Parts(source: "test", normalizer: normalizer, preTokenizer: pre, model: .bpe(m),
                                         postProcessor: post, decoder: nil, addedTokens: added, vocab: v))
    }

    static func added(_ id: Int32, _ content: String) -> AddedToken {
        AddedToken(id: id, content: content, singleWord: false, lstrip: false, rstrip: false, normalized: false, special: true)
    }

    /// A BPE model over `v` with the given merge table and unk id.
    static func bpe(_ v: Vocabulary, _ pairs: [(Int32, Int32, Int32)], unk: Int32? = nil) -> BPEModel {
        var table = PairTable(capacity: 4)
        for (k, (a, b, n)) in pairs.enumerated() { table.insert(a, b, rank: UInt32(k), newId: n) }
        return BPEModel(byteIds: [Int32](repeating: -1, count: 256), charIds: [:], fallbackIds: [Int32](repeating: -1, count: 256),
                        byteLevel: false, byteFallback: false, unkId: unk, fuseUnk: false, ignoreMerges: false,
                        rawVocab: UncheckedSendable(BytesTable(capacity: 4)), merges: table, prefix: nil, suffix: nil, vocab: v)
    }

    @Test func unexpressibleTokenizersAreErrorsNamingWhat() throws {
        let abc = [("a", 0), ("b", 1), ("ab", 2)]
        let cases: [(String, () throws -> Tokenizer, String, String)] = [
            ("two tokens, one id", { try Self.tokenizer([("a", 0), ("b", 0)]) }, "model.vocab", "the tokens \"a\" and \"b\" share the id 0"),
            ("Llama-3 split with 2 digits", { try Self.tokenizer(abc, pre: PreTokenizer(steps: [.split(.llama3(maxDigits: 2), .isolated, invert: false)])) },
             "pre_tokenizer", "runs of up to 2 digits"),
            ("whitespace split kept", { try Self.tokenizer(abc, pre: PreTokenizer(steps: [.chars(.whitespace, .isolated)])) },
             "pre_tokenizer", "whitespace split with behavior Isolated"),
            ("metaspace surrogate", { try Self.tokenizer(abc, pre: PreTokenizer(steps: [.metaspace(replacement: 0xD800, prependScheme: .always, split: true)])) },
             "pre_tokenizer", "U+d800 is not a character"),
            ("normalizer bytes", { try Self.tokenizer(abc, normalizer: Normalizer(steps: [.prepend([0xFF])])) }, "normalizer", "not valid UTF-8"),
            ("special id without token", { try Self.tokenizer(abc, post: PostProcessor(single: [.special([99]), .sequence])) },
             "post_processor", "special token id 99 has no token"),
            ("two pieces named alike", { try Self.tokenizer(abc, post: PostProcessor(single: [.special([0, 1]), .sequence, .special([2])])) },
             "post_processor", "two special pieces are both named \"ab\""),
            ("added token beyond the vocabulary", { try Self.tokenizer(abc, added: [Self.added(7, "<x>")]) },
             "added_tokens", "\"<x>\" has id 7, but HF tokenizers would give it id 3"),
            ("added token under another id", { try Self.tokenizer(abc, added: [Self.added(3, "ab")]) },
             "added_tokens", "\"ab\" has id 3, but HF tokenizers would give it id 2 (its id in the model vocabulary)"),
            ("added token twice", { try Self.tokenizer(abc, added: [Self.added(3, "<x>"), Self.added(4, "<x>")]) },
             "added_tokens", "\"<x>\" has the ids 3 and 4"),
            ("merge into another token", { try Self.tokenizer(abc, model: { Self.bpe($0, [(0, 1, 0)]) }) },
             "model.merges", "the merge \"a\" + \"b\" produces id 0"),
            ("merge of an unknown id", { try Self.tokenizer(abc, model: { Self.bpe($0, [(7, 1, 2)]) }) },
             "model.merges", "id 7 is not in the model vocabulary"),
            ("unk outside the vocabulary", { try Self.tokenizer(abc, model: { Self.bpe($0, [], unk: 9) }) },
             "model.unk_token", "id 9 is not in the model vocabulary"),
        ]
        for (label, make, component, words) in cases {
            let t = try make()
            do {
                _ = try t.huggingFaceFiles()
                Issue.record("\(label): exported")
            } catch let e as TokenizerError {
                #expect(e.component == component && e.message.contains(words) && e.source == "test", "\(label): \(e)")
            }
        }
        // The same vocabulary states export fine when expressible.
        #expect(try Self.tokenizer(abc, merges: [("a", "b")], added: [Self.added(3, "<x>"), Self.added(2, "ab")]).huggingFaceFiles().count == 3)
        do {
            var out: [UInt8] = []
            try PrettyJSON.write(.double(.nan), indent: 0, to: &out, Self.err, "post_processor")
            Issue.record("wrote NaN")
        } catch let e as TokenizerError {
            #expect(e.component == "post_processor" && e.message.contains("non-finite"), "\(e)")
        }
    }

    /// A GGUF listing a token twice loads (encoding uses the first id) but cannot be exported.
    @Test func ggufWithADuplicateTokenIsAnExportError() throws {
        let d = TempDir()
        let p = d.file("dup.gguf")
        try GGUFTokenizerTests.writeGGUF([("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.tokens", ["a", "b", "ab", "a"]),
                                      ("tokenizer.ggml.merges", ["a b"])], to: p)
        let t = try Tokenizer.load(path: p)
        #expect(t.encode("ab") == [2])
        #expect { try t.save(to: d.file("out")) } throws: { e in
            let te = e as? TokenizerError
            return te?.component == "model.vocab" && te?.message.contains("the token \"a\" has the ids 0 and 3") == true && te?.source == p
        }
        #expect(!FileManager.default.fileExists(atPath: d.file("out")), "nothing written")
        // A checkpoint of a model whose GGUF tokenizer cannot be exported is refused before anything is written.
        let m = try CausalLM.load(gguf: ExportFixtures.gguf("tiny-llama"))
        m.ggufSource = p
        #expect(throws: TokenizerError.self) { try m.save(to: d.file("ckpt")) }
        #expect(!FileManager.default.fileExists(atPath: d.file("ckpt")))
    }

    @Test func writingIntoAFileIsAnIOError() throws {
        let d = TempDir()
        let t = try Tokenizer.load(path: ExportFixtures.gguf("gpt2-mini"))
        try Data().write(to: URL(fileURLWithPath: d.file("f")), options: .atomic)
        #expect { try t.save(to: d.file("f")) } throws: { ($0 as? IOError).map { "\($0)".contains("exists and is not a directory") } == true }
        #expect { try t.save(to: d.file("f") + "/sub") } throws: { ($0 as? IOError).map { "\($0)".contains("cannot create the directory") } == true }
    }
}
