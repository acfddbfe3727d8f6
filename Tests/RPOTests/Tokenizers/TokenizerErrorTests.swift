// Bad tokenizer files: each is a TokenizerError naming the file and the component, never a crash or a
// silent fallback.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite("Tokenizer file errors")
struct TokenizerErrorTests {
    /// A minimal valid byte-level BPE tokenizer.json, with `patch` applied to its top-level object.
    static func write(_ patch: (inout JSONObject) -> Void, _ dir: TempDir) throws -> String {
        var vocab = JSONObject()
        for (i, t) in ["a", "b", "ab", "Ġ", "[UNK]"].enumerated() { vocab[t] = .int(i) }
        var model = JSONObject([("type", .string("BPE")), ("vocab", .object(vocab)), ("merges", .array([.string("a b")]))])
        model["unk_token"] = .null
        var root = JSONObject([
            ("version", .string("1.0")), ("added_tokens", .array([])), ("normalizer", .null),
            ("pre_tokenizer", .object(JSONObject([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false))]))),
            ("post_processor", .null), ("decoder", .object(JSONObject([("type", .string("ByteLevel"))]))),
            ("model", .object(model)),
        ])
        patch(&root)
        var bytes: [UInt8] = []
        try JSONSerializer.write(root, to: &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file("tokenizer.json")), options: .atomic)
        return dir.path
    }

    static func setModel(_ root: inout JSONObject, _ key: String, _ value: JSON?) {
        var m = root["model"]!.objectValue!
        m[key] = value
        root["model"] = .object(m)
    }

    static func obj(_ pairs: [(String, JSON)]) -> JSON { .object(JSONObject(pairs)) }

    /// Loading must throw a TokenizerError whose component and message contain the given words.
    func expectError(_ component: String, _ words: [String], _ patch: (inout JSONObject) -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = TempDir()
        let path = try Self.write(patch, dir)
        do {
            _ = try Tokenizer.load(path: path)
            Issue.record("loading succeeded; expected an error about \(component)", sourceLocation: sourceLocation)
        } catch let e as TokenizerError {
            #expect(e.component.hasPrefix(component), "component \(e.component) for \(e)", sourceLocation: sourceLocation)
            #expect(e.source.hasSuffix("tokenizer.json"), "source \(e.source)", sourceLocation: sourceLocation)
            for w in words { #expect(e.description.contains(w), "\(e) lacks \(w)", sourceLocation: sourceLocation) }
        }
    }

    @Test func validMinimalFileLoads() throws {
        let dir = TempDir()
        let t = try Tokenizer.load(path: Self.write({ _ in }, dir))
        #expect(t.encode("ab a") == [2, 3, 0])  // "ab", "Ġ" (no merge for Ġa), "a"
        #expect(t.decode([2, 3, 0]) == "ab a")
    }

    @Test func unknownComponentTypes() throws {
        try expectError("normalizer", ["unsupported normalizer type", "\"Precompiled\""]) {
            $0["normalizer"] = Self.obj([("type", .string("Precompiled"))])
        }
        try expectError("pre_tokenizer", ["unsupported pre-tokenizer type", "\"UnicodeScripts\""]) {
            $0["pre_tokenizer"] = Self.obj([("type", .string("UnicodeScripts"))])
        }
        try expectError("model", ["unsupported model type", "\"Unigram\""]) { Self.setModel(&$0, "type", .string("Unigram")) }
        try expectError("decoder", ["unsupported decoder type", "\"CTC\""]) {
            $0["decoder"] = Self.obj([("type", .string("CTC"))])
        }
        try expectError("post_processor", ["unsupported post-processor type", "\"Mystery\""]) {
            $0["post_processor"] = Self.obj([("type", .string("Mystery"))])
        }
        try expectError("normalizer.normalizers[1]", ["unsupported normalizer type"]) {
            $0["normalizer"] = Self.obj([("type", .string("Sequence")), ("normalizers", .array([
                Self.obj([("type", .string("NFC"))]), Self.obj([("type", .string("Nope"))])]))])
        }
        try expectError("normalizer", ["has no \"type\""]) { $0["normalizer"] = Self.obj([("lowercase", .bool(true))]) }
    }

    @Test func unsupportedOptions() throws {
        try expectError("pre_tokenizer", ["unsupported Split regex", "[a-z]+"]) {
            $0["pre_tokenizer"] = Self.obj([("type", .string("Split")), ("pattern", Self.obj([("Regex", .string("[a-z]+"))])),
                                            ("behavior", .string("Isolated"))])
        }
        try expectError("pre_tokenizer", ["unknown split behavior"]) {
            $0["pre_tokenizer"] = Self.obj([("type", .string("Split")), ("pattern", Self.obj([("String", .string(" "))])),
                                            ("behavior", .string("Sideways"))])
        }
        try expectError("pre_tokenizer.pretokenizers[1]", ["after ByteLevel"]) {
            $0["pre_tokenizer"] = Self.obj([("type", .string("Sequence")), ("pretokenizers", .array([
                Self.obj([("type", .string("ByteLevel"))]), Self.obj([("type", .string("Digits"))])]))])
        }
        try expectError("normalizer", ["Replace with a Regex"]) {
            $0["normalizer"] = Self.obj([("type", .string("Replace")), ("pattern", Self.obj([("Regex", .string(" +"))])),
                                         ("content", .string(" "))])
        }
        try expectError("model.dropout", ["dropout"]) { Self.setModel(&$0, "dropout", .double(0.1)) }
        try expectError("pre_tokenizer", ["unknown prepend_scheme"]) {
            $0["pre_tokenizer"] = Self.obj([("type", .string("Metaspace")), ("prepend_scheme", .string("sometimes"))])
        }
    }

    @Test func missingOrMalformedModelData() throws {
        try expectError("model.vocab", ["missing"]) { Self.setModel(&$0, "vocab", nil) }
        try expectError("model.vocab", ["must be an object"]) { Self.setModel(&$0, "vocab", .array([])) }
        try expectError("model.vocab", ["not a non-negative integer"]) {
            Self.setModel(&$0, "vocab", Self.obj([("a", .string("zero"))]))
        }
        try expectError("model.merges", ["missing"]) { Self.setModel(&$0, "merges", nil) }
        try expectError("model.merges[0]", ["two tokens"]) { Self.setModel(&$0, "merges", .array([.string("ab")])) }
        try expectError("model.merges[0]", ["\"a\", \"b\""]) { Self.setModel(&$0, "merges", .array([.int(3)])) }
        try expectError("model.merges[1]", ["\"zz\" is not in the vocabulary"]) {
            Self.setModel(&$0, "merges", .array([.string("a b"), .string("zz a")]))
        }
        try expectError("model.merges[0]", ["merged token \"ba\""]) { Self.setModel(&$0, "merges", .array([.string("b a")])) }
        try expectError("model.unk_token", ["\"<unk>\" is not in the vocabulary"]) { Self.setModel(&$0, "unk_token", .string("<unk>")) }
        try expectError("model", ["missing"]) { $0["model"] = nil }
        try expectError("added_tokens[0]", ["\"id\""]) { $0["added_tokens"] = .array([Self.obj([("content", .string("x"))])]) }
        // ids beyond 32 bits or far beyond the vocabulary: errors, not a trap or a terabyte table
        try expectError("added_tokens[0]", ["id 4294967296 is not a token id"]) {
            $0["added_tokens"] = .array([Self.obj([("id", .int(1 << 32)), ("content", .string("x"))])])
        }
        try expectError("model.vocab", ["the id 1000000000000 of \"a\" is far beyond the vocabulary's"]) {
            Self.setModel(&$0, "vocab", Self.obj([("a", .int(1_000_000_000_000))]))
        }
        try expectError("post_processor", ["cls must be [token, id] with a token id"]) {
            $0["post_processor"] = Self.obj([("type", .string("BertProcessing")), ("cls", .array([.string("a"), .int(-1)])),
                                             ("sep", .array([.string("b"), .int(1)]))])
        }
        try expectError("post_processor.single[0]", ["missing from special_tokens"]) {
            $0["post_processor"] = Self.obj([("type", .string("TemplateProcessing")), ("single", .array([
                Self.obj([("SpecialToken", Self.obj([("id", .string("<s>")), ("type_id", .int(0))]))])])),
                ("special_tokens", Self.obj([]))])
        }
    }

    @Test func wordPieceNeedsItsUnknownToken() throws {
        try expectError("model.unk_token", ["\"[MISSING]\" is not in the vocabulary"]) {
            Self.setModel(&$0, "type", .string("WordPiece"))
            Self.setModel(&$0, "unk_token", .string("[MISSING]"))
            $0["pre_tokenizer"] = Self.obj([("type", .string("BertPreTokenizer"))])
        }
    }

    @Test func badFilesAndDirectories() throws {
        let dir = TempDir()
        try Data("{\"model\": [1,".utf8).write(to: URL(fileURLWithPath: dir.file("tokenizer.json")), options: .atomic)
        #expect { try Tokenizer.load(path: dir.path) } throws: { e in
            (e as? TokenizerError).map { $0.component == "tokenizer.json" && $0.message.contains("invalid JSON") } ?? false
        }
        let empty = TempDir()
        #expect { try Tokenizer.load(path: empty.path) } throws: { e in
            (e as? TokenizerError)?.message.contains("neither tokenizer.json nor vocab.json") ?? false
        }
        #expect { try Tokenizer.load(path: empty.file("nope")) } throws: { e in
            (e as? TokenizerError)?.message.contains("no such file") ?? false
        }
        // vocab.json + merges.txt with a malformed merges line.
        let g = TempDir()
        try Data("{\"a\": 0, \"b\": 1, \"ab\": 2}".utf8).write(to: URL(fileURLWithPath: g.file("vocab.json")), options: .atomic)
        try Data("#version: 0.2\na b\na b c\n".utf8).write(to: URL(fileURLWithPath: g.file("merges.txt")), options: .atomic)
        #expect { try Tokenizer.load(path: g.path) } throws: { e in
            guard let e = e as? TokenizerError else { return false }
            return e.source.hasSuffix("merges.txt") && e.component == "merges.txt line 3" && e.message.contains("\"a b c\"")
        }
    }
}
