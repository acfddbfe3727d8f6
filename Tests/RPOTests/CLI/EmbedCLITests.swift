// rpo-embed run as a user would: fields passed through in order, embeddings that read back as the library's
// Float values, --text, the default model resolution, bad records and bad model directories (exit 1 with
// the record number or the file), usage errors (exit 64), independence from --batch-size and --threads.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct EmbedCLITests {
    static let model = EmbedFixtures.modelPath

    static func jsonl(_ records: [JSONObject]) -> [UInt8] {
        var out: [UInt8] = []
        for r in records { try! JSONSerializer.write(r, to: &out); out.append(0x0A) }
        return out
    }

    static func records(_ bytes: [UInt8]) throws -> [JSONObject] {
        let r = RecordReader(MemorySource(bytes, name: "<stdout>"))
        var out: [JSONObject] = []
        while let o = try r.read() { out.append(o) }
        return out
    }

    static let input: [JSONObject] = [
        JSONObject([("id", .int(1)), ("prompt", .string("\n<|user|>\nHow do I bake bread?\n<|assistant|>\n")), ("x", .array([.int(1), .null]))]),
        JSONObject([("prompt", .string("A man is eating food.")), ("id", .int(2))]),
        JSONObject([("id", .int(3)), ("prompt", .string("\n<|user|>\nHow do I bake bread?\n<|assistant|>\n")), ("prompt_embedding", .int(0)), ("z", .bool(true))]),
    ]

    @Test func addsEmbeddingsAndPassesFieldsThrough() throws {
        let e = try EmbedFixtures.load()
        let r = try Tools.run("rpo-embed", ["--model", Self.model, "--no-compress"], stdin: Self.jsonl(Self.input))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("3 records, 2 texts embedded"), "duplicate texts of a batch are embedded once: \(r.stderr)")
        let out = try Self.records(r.stdout)
        #expect(out.count == 3)
        #expect(out.map(\.keys) == [["id", "prompt", "x", "prompt_embedding"], ["prompt", "id", "prompt_embedding"],
                                    ["id", "prompt", "prompt_embedding", "z"]], "appended, or replaced in place")
        for (o, i) in zip(out, Self.input) {
            for k in i.keys where k != "prompt_embedding" { #expect(o[k] == i[k], "field \(k) passes through") }
        }
        // The written decimal strings read back as exactly the library's Float values.
        let want = e.encode(Self.input.map { $0["prompt"]!.stringValue! })
        for (n, o) in out.enumerated() {
            let got = try o.field("prompt_embedding", source: "out", record: n + 1).floatArray()
            #expect(got == Array(want[(n * 384)..<((n + 1) * 384)]), "record \(n + 1): embedding round-trips exactly")
        }
        // The same bytes whatever the batch size or thread count.
        for args in [["--batch-size", "1"], ["--threads", "1"], ["--batch-size", "2", "--threads", "2"]] {
            let again = try Tools.run("rpo-embed", ["--model", Self.model, "--no-compress"] + args, stdin: Self.jsonl(Self.input))
            #expect(again.status == 0 && again.stdout == r.stdout, "\(args) changes the output")
        }
    }

    @Test func plainTextLinesAndOtherFieldNames() throws {
        let text = "first line\n\nA man is eating food.\n"
        let r = try Tools.run("rpo-embed", ["--model", Self.model, "--text", "--no-compress"], stdin: Array(text.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let out = try Self.records(r.stdout)
        #expect(out.map { $0["text"]?.stringValue } == ["first line", "", "A man is eating food."], "blank lines are texts too")
        #expect(out.allSatisfy { $0.keys == ["text", "embedding"] && $0["embedding"]?.arrayValue?.count == 384 })
        let renamed = try Tools.run("rpo-embed", ["--model", Self.model, "--field", "q", "--into", "v", "--no-compress"],
                                    stdin: Self.jsonl([JSONObject([("q", .string("A man is eating food."))])]))
        #expect(renamed.status == 0)
        let o = try Self.records(renamed.stdout)
        #expect(o.first?.keys == ["q", "v"] && o.first?["v"] == out[2]["embedding"])
    }

    @Test func defaultModelResolution() throws {
        let dir = TempDir()
        // No --model, no $RPO_EMBED_MODEL, no ./models: an error naming all three.
        let none = try Tools.run("rpo-embed", [], stdin: [], env: ["RPO_EMBED_MODEL": ""], cwd: dir.path)
        #expect(none.status == 1)
        #expect(none.stderr.hasPrefix("rpo-embed: error: no model: --model was not given, $RPO_EMBED_MODEL is not set, and "))
        #expect(none.stderr.contains("models/all-MiniLM-L6-v2 does not exist"), "\(none.stderr)")
        // $RPO_EMBED_MODEL, then ./models/all-MiniLM-L6-v2.
        let env = try Tools.run("rpo-embed", ["--text", "-q", "--no-compress"], stdin: Array("hi\n".utf8),
                                env: ["RPO_EMBED_MODEL": Self.model], cwd: dir.path)
        #expect(env.status == 0 && env.stderr.isEmpty, "\(env.stderr)")
        try FileManager.default.createDirectory(atPath: dir.file("models"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("models/all-MiniLM-L6-v2"), withDestinationPath: Self.model)
        let local = try Tools.run("rpo-embed", ["--text", "-q", "--no-compress"], stdin: Array("hi\n".utf8),
                                  env: ["RPO_EMBED_MODEL": ""], cwd: dir.path)
        #expect(local.status == 0 && local.stdout == env.stdout, "\(local.stderr)")
    }

    @Test func badRecordsStopWithTheirNumber() throws {
        let ok = JSONObject([("prompt", .string("fine"))])
        let missing = try Tools.run("rpo-embed", ["--model", Self.model, "--no-compress"],
                                    stdin: Self.jsonl([ok, JSONObject([("text", .string("no prompt"))])]))
        #expect(missing.status == 1)
        #expect(missing.stderr == "rpo-embed: error: <stdin>:2: missing field \"prompt\"\n", "\(missing.stderr)")
        let number = try Tools.run("rpo-embed", ["--model", Self.model, "--no-compress"],
                                   stdin: Self.jsonl([ok, ok, JSONObject([("prompt", .int(7))])]))
        #expect(number.status == 1)
        #expect(number.stderr == "rpo-embed: error: <stdin>:3: field \"prompt\" must be a string, found number\n", "\(number.stderr)")
        let notJSON = try Tools.run("rpo-embed", ["--model", Self.model], stdin: Array("{\"prompt\":\"a\"}\nnot json\n".utf8))
        #expect(notJSON.status == 1 && notJSON.stderr.hasPrefix("rpo-embed: error: <stdin>:2: invalid JSON"), "\(notJSON.stderr)")
    }

    @Test func badModelDirectories() throws {
        let tmp = TempDir()
        try SentenceEncoderErrorTests.realModel(tmp.file("noconfig"), remove: ["config.json"])
        let r = try Tools.run("rpo-embed", ["--model", tmp.file("noconfig"), "--text"], stdin: Array("x\n".utf8))
        #expect(r.status == 1)
        #expect(r.stderr == "rpo-embed: error: \(tmp.file("noconfig"))/config.json: missing: a model directory needs config.json\n", "\(r.stderr)")
        try SentenceEncoderErrorTests.realModel(tmp.file("nopool"), replace: ["1_Pooling/config.json": #"{"pooling_mode":"median"}"#])
        let p = try Tools.run("rpo-embed", ["--model", tmp.file("nopool"), "--text"], stdin: Array("x\n".utf8))
        #expect(p.status == 1 && p.stderr.contains("1_Pooling/config.json: unknown pooling mode \"median\""), "\(p.stderr)")
        let nowhere = try Tools.run("rpo-embed", ["--model", tmp.file("nowhere"), "--text"], stdin: Array("x\n".utf8))
        #expect(nowhere.status == 1 && nowhere.stderr.contains("nowhere: no such model directory"), "\(nowhere.stderr)")
    }

    /// rpo-bench embed (scripts/bench/40-embed.sh) on three texts: one record with the rates and counts.
    @Test func benchSubcommand() throws {
        let tmp = TempDir()
        try Data(Self.jsonl(Self.input)).write(to: URL(fileURLWithPath: tmp.file("p.jsonl")))
        let r = try Tools.run("rpo-bench", ["embed", "--model", Self.model, "--threads", "1", tmp.file("p.jsonl")])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try Self.records(r.stdout)
        #expect(o.count == 1)
        let rec = o.first ?? JSONObject()
        #expect(rec["texts"] == .int(3) && rec["tokens"]?.intValue == Self.expectedTokens)
        for k in ["texts_per_s", "model_gflops", "sgemm_gflops", "utilisation", "cpu_utilisation", "peak_rss_mb"] {
            #expect((rec[k]?.doubleValue ?? 0) > 0, "\(k) = \(String(describing: rec[k]))")
        }
        let bad = try Tools.run("rpo-bench", ["embed", "--model", Self.model, tmp.file("missing.jsonl")])
        #expect(bad.status == 1 && bad.stderr.contains("missing.jsonl"), "\(bad.stderr)")
    }

    /// Word-pieces of the three inputs, [CLS] and [SEP] included.
    static var expectedTokens: Int? {
        guard let e = try? EmbedFixtures.load() else { return nil }
        return e.tokenize(input.map { $0["prompt"]!.stringValue! }).reduce(0) { $0 + $1.count }
    }

    @Test func usageErrors() throws {
        for (args, message) in [(["--batch-size", "0"], "--batch-size must be positive"),
                                (["--field", "a", "--into", "a"], "--field and --into must differ"),
                                (["--threads", "0"], "--threads must be positive")] {
            let r = try Tools.run("rpo-embed", ["--model", Self.model] + args, stdin: [])
            #expect(r.status == 64 && r.stderr.contains(message), "\(args): \(r.status) \(r.stderr)")
        }
        let help = try Tools.run("rpo-embed", ["--help"], stdin: [])
        #expect(help.status == 0)
        for s in ["\"prompt_embedding\": [0.0123", "--text", "$RPO_EMBED_MODEL", "rpo-tokenize", "| rpo-embed |"] {
            #expect(help.stdoutText.contains(s), "--help shows \(s)")
        }
    }
}
