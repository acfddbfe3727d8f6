// rpo-sample as a user runs it, on the tiny chat model directory (Tests/Fixtures/sample/tiny-chat: a random
// 2-layer Llama with a real byte-level BPE tokenizer, SmolLM2's chat template and a generation_config.json):
// greedy completions equal to transformers' (template, tokenization, generate, decode, prompt slicing), the
// output independent of the batch size, the AlpacaEval list, example records, stop strings, and clear
// errors with record numbers.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite(.serialized) struct SampleCLITests {
    static let model = TestPaths.fixture("sample/tiny-chat")

    static func input(_ records: [JSONObject]) -> [UInt8] {
        Array(records.map { (try? JSONSerializer.string(.object($0))) ?? "" }.joined(separator: "\n").utf8) + [0x0A]
    }

    static func records(_ r: ToolResult) -> [JSONObject] {
        r.stdoutText.split(separator: "\n").map { (try? JSONParser.parse(String($0)).objectValue) ?? JSONObject() }
    }

    static func run(_ args: [String], _ records: [JSONObject]) throws -> ToolResult {
        try Tools.run("rpo-sample", ["--model", model, "--no-progress", "--no-compress"] + args, stdin: input(records))
    }

    static let fixture: [JSONObject] = {
        guard case .object(let o)? = try? loadJSONFixture("sample/tinychat.json") else { return [] }
        return o["cases"]?.arrayValue?.compactMap(\.objectValue) ?? []
    }()

    @Test func greedyCompletionsMatchTransformersEndToEnd() throws {
        let cases = Self.fixture
        #expect(cases.count == 3)
        let r = try Self.run(["--temperature", "0", "--max-new-tokens", "10", "--ignore-eos"],
                             cases.map { JSONObject([("id", .string("q\($0["prompt"]!.stringValue!.count)")), ("prompt", $0["prompt"]!)]) })
        #expect(r.status == 0, "\(r.stderr)")
        let out = Self.records(r)
        #expect(out.count == cases.count)
        for (o, c) in zip(out, cases) {
            // the chat template (with SmolLM2's default system message) and its tokenization
            #expect(o["prompt"] == c["text"])
            #expect(o["prompt_ids"] == c["prompt_ids"])
            // generate's greedy ids (smallest top-2 margin in tinychat.json, far above fp32 error) and the
            // official decode-and-slice policy text
            #expect(o["policy_ids"] == c["generated"])
            #expect(o["policy"] == c["policy"])
            #expect(o["finish_reason"] == .string("length"))
            #expect(o["model"] == .string("tiny-chat") && o["seed"] == .int(1))
        }
        #expect(r.stderr.contains("3 samples of 3 prompts"))
    }

    static let prompts: [JSONObject] = (0..<6).map {
        JSONObject([("id", .string("p\($0)")), ("instruction", .string(["Hi", "Who is Larry Page?", "Name a color.",
            "Write a poem about the sea.", "What is 2+2?", "Tell me a story about a dog and a cat."][$0]))])
    }

    @Test func outputDoesNotDependOnTheBatchSize() throws {
        // sampled with the model's generation_config.json (temperature 0.7, top-k 20) and top-p 0.95
        let args = ["--samples-per-prompt", "2", "--max-new-tokens", "12", "--seed", "5"]
        let a = try Self.run(args + ["--batch-size", "1"], Self.prompts)
        let b = try Self.run(args + ["--batch-size", "5"], Self.prompts)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout == b.stdout, "batch 1 and batch 5 outputs differ")
        let out = Self.records(a)
        #expect(out.map { $0["id"]!.stringValue! } == Self.prompts.flatMap { p in [0, 1].map { "\(p["id"]!.stringValue!)/\($0)" } })
        #expect(out.first!["sampling"]?.member("temperature") == .double(0.7))
        #expect(out.first!["sampling"]?.member("top_k") == .int(20))
        #expect(Set(out.map { $0["policy"]!.stringValue! }).count > 6, "the samples of one prompt differ")
        let c = try Self.run(["--samples-per-prompt", "2", "--max-new-tokens", "12", "--seed", "6"], Self.prompts)
        #expect(c.stdout != a.stdout, "another seed gives other samples")
    }

    @Test func alpacaevalListHasEveryInstructionInOrder() throws {
        let dir = TempDir()
        let path = dir.file("outputs.json")
        let r = try Tools.run("rpo-sample", ["--model", Self.model, "--no-progress", "--format", "alpacaeval",
                                             "--n-samples", "5", "--max-new-tokens", "6", "--generator", "tiny", "-o", path],
                              stdin: Self.input(Self.prompts))
        #expect(r.status == 0, "\(r.stderr)")
        let list = try JSONParser.parse(String(contentsOfFile: path, encoding: .utf8)).arrayValue!
        #expect(list.count == 5)
        for (i, item) in list.enumerated() {
            #expect(item.member("instruction") == Self.prompts[i]["instruction"])
            #expect(item.member("generator") == .string("tiny"))
            let out = item.member("output")!.stringValue!
            #expect(out == out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // all records by default (no n-samples cut, none dropped), one document on stdout
        let all = try Self.run(["--format", "alpacaeval", "--max-new-tokens", "3"], Self.prompts)
        #expect(try JSONParser.parse(all.stdoutText).arrayValue?.count == 6)
    }

    @Test func alpacaevalCoversAll805Instructions() throws {
        // the bundled AlpacaEval set (a JSON list) as JSON Lines, as `jq -c '.[]'` gives it
        let list = try JSONParser.parse(String(contentsOfFile: TestPaths.data("alpaca_eval/example/outputs.json"), encoding: .utf8))
        let items = try #require(list.arrayValue).compactMap(\.objectValue)
        #expect(items.count == 805)
        // Some instructions are longer than the tiny model's 512-token context: cut to their last tokens.
        let r = try Self.run(["--format", "alpacaeval", "--max-new-tokens", "1", "--batch-size", "16", "--truncate-prompts"], items)
        #expect(r.status == 0, "\(r.stderr)")
        let out = try #require(try JSONParser.parse(r.stdoutText).arrayValue)
        #expect(out.count == 805, "every instruction, the last partial batch included")
        #expect(out.map { $0.member("instruction") } == items.map { $0["instruction"] })
        #expect(out.map { $0.member("dataset") } == items.map { $0["dataset"] })
        #expect(out.allSatisfy { $0.member("generator") == .string("tiny-chat") })
    }

    @Test func exampleRecordsUsePromptIdsAndSamplePromptsOnce() throws {
        let recs = [
            JSONObject([("id", .string("a:0")), ("prompt_id", .string("a")), ("prompt", .string("\n<|user|>\nHi\n<|assistant|>\n")),
                        ("chosen", .string("Hello there")), ("prompt_ids", .ints([10, 11, 12])), ("sft_target", .bool(true))]),
            JSONObject([("id", .string("a:1")), ("prompt_id", .string("a")), ("prompt", .string("\n<|user|>\nHi\n<|assistant|>\n")),
                        ("chosen", .string("Hey")), ("prompt_ids", .ints([10, 11, 12])), ("sft_target", .bool(false))]),
            JSONObject([("id", .string("b:0")), ("prompt_id", .string("b")), ("prompt", .string("x")),
                        ("chosen", .string("y")), ("prompt_ids", .ints([40, 41])), ("extra", .int(7))]),
            JSONObject([("id", .string("b:1")), ("prompt_id", .string("b")), ("prompt", .string("x")),
                        ("chosen", .string("z")), ("prompt_ids", .ints([40, 41]))]),
        ]
        let r = try Self.run(["--temperature", "0", "--max-new-tokens", "4"], recs)
        #expect(r.status == 0, "\(r.stderr)")
        let out = Self.records(r)
        #expect(out.map { $0["id"]!.stringValue! } == ["a:0", "b:0"])
        #expect(out[0]["chosen"] == .string("Hello there") && out[0]["prompt_ids"] == .ints([10, 11, 12]))
        #expect(out[1]["extra"] == .int(7), "other fields pass through")
        #expect(out[1]["policy_ids"]?.arrayValue?.count == 4)
    }

    @Test func stopStringsEndSamplesBeforeTheText() throws {
        let c = try #require(Self.fixture.first)
        let full = c["policy"]!.stringValue!
        // a stop text taken from the middle of the known greedy completion
        let scalars = Array(full.unicodeScalars)
        let stop = String(String.UnicodeScalarView(scalars[(scalars.count / 2)..<(scalars.count / 2 + 2)]))
        let r = try Self.run(["--temperature", "0", "--max-new-tokens", "10", "--ignore-eos", "--stop", stop],
                             [JSONObject([("prompt", c["prompt"]!)])])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(Self.records(r).first)
        let policy = o["policy"]!.stringValue!
        #expect(o["finish_reason"] == .string("stop"))
        #expect(!policy.contains(stop) && full.hasPrefix(policy) && policy.count < full.count)
    }

    static func message(_ r: ToolResult) -> String { r.stderr.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func dataErrorsNameTheRecord() throws {
        let ok = JSONObject([("prompt", .string("Hi"))])
        var r = try Self.run([], [ok, JSONObject([("text", .string("Hi"))])])
        #expect(r.status == 1)
        #expect(Self.message(r) == "rpo-sample: error: <stdin>:2: missing field \"prompt\" (or \"prompt_ids\", \"instruction\")")
        r = try Self.run([], [JSONObject([("prompt_ids", .ints([1, 5000]))])])
        #expect(r.status == 1 && r.stderr.contains("<stdin>:1: prompt_ids holds 5000, outside the model's vocabulary"))
        r = try Self.run(["--chat-template", "none"], [JSONObject([("prompt", .string(""))])])
        #expect(r.status == 1 && r.stderr.contains("<stdin>:1: the prompt is empty (no tokens)"))
        r = try Self.run([], [JSONObject([("prompt", .int(3))])])
        #expect(r.status == 1 && r.stderr.contains("<stdin>:1:") && r.stderr.contains("prompt"))
        // a prompt over the budget: an error, or cut to its last tokens when asked
        let long = JSONObject([("id", .string("L")), ("prompt_ids", .ints(Array(3..<40)))])
        r = try Self.run(["--max-length", "20"], [JSONObject([("prompt_ids", .ints([5, 6]))]), long])
        #expect(r.status == 1)
        #expect(r.stderr.contains("<stdin>:2: the prompt has 37 tokens, more than the 19 allowed"))
        r = try Self.run(["--max-length", "20", "--truncate-prompts", "--temperature", "0"], [long])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(Self.records(r).first)
        #expect(o["prompt_ids"] == .ints(Array(21..<40)) && o["prompt_truncated"] == .bool(true))
        #expect(o["policy_ids"]?.arrayValue?.count ?? 0 <= 1)
        r = try Self.run(["--max-prompt-length", "5"], [JSONObject([("prompt_ids", .ints(Array(3..<9)))])])
        #expect(r.status == 1 && r.stderr.contains("<stdin>:1: the prompt has 6 tokens, more than the 5 allowed (--max-length 512"))
    }

    /// Any chat template renders through the Jinja engine (here a non-ChatML one); one that does not parse
    /// is an error naming the record and the place in the template, not a wrong prompt.
    @Test func chatTemplatesRenderOrAreAnErrorNotAWrongPrompt() throws {
        let dir = TempDir()
        for f in try FileManager.default.contentsOfDirectory(atPath: Self.model) {
            try FileManager.default.copyItem(atPath: Self.model + "/" + f, toPath: dir.file(f))
        }
        let recs = [JSONObject([("prompt", .string("Hi"))])]
        let jinja = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        try jinja.write(toFile: dir.file("chat_template.jinja"), atomically: true, encoding: .utf8)
        var r = try Tools.run("rpo-sample", ["--model", dir.path, "--no-progress", "--no-compress", "--max-new-tokens", "2"], stdin: Self.input(recs))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.records(r).first?["prompt"] == .string("[user] Hi\n"))
        try "{% for m in messages %}[{{ m['role'] }}]".write(toFile: dir.file("chat_template.jinja"), atomically: true, encoding: .utf8)
        r = try Tools.run("rpo-sample", ["--model", dir.path, "--no-progress", "--no-compress"], stdin: Self.input(recs))
        #expect(r.status == 1 && r.stdout.isEmpty)
        #expect(r.stderr.contains("<stdin>:1: the model's chat template does not parse: chat template line 1, column 41: syntax error: unexpected end of template: expected 'else' or 'endfor'"), "\(r.stderr)")
        r = try Tools.run("rpo-sample", ["--model", dir.path, "--no-progress", "--no-compress", "--chat-template", "rpo-markers",
                                         "--max-new-tokens", "2"], stdin: Self.input(recs))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.records(r).first?["prompt"] == .string("\n<|user|>\nHi\n<|assistant|>\n"))
    }

    /// A prompt longer than the model's context (max_position_embeddings, rotary positions) is an error naming
    /// the record; --truncate-prompts keeps its end.
    @Test func promptsLongerThanTheContextAreAnError() throws {
        let dir = TempDir()
        for f in try FileManager.default.contentsOfDirectory(atPath: Self.model) {
            try FileManager.default.copyItem(atPath: Self.model + "/" + f, toPath: dir.file(f))
        }
        var config = try JSONParser.parse(String(contentsOfFile: dir.file("config.json"), encoding: .utf8)).objectValue!
        config["max_position_embeddings"] = .int(24)
        try JSONSerializer.string(.object(config)).write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        let recs = [JSONObject([("prompt", .string("Hi"))]), JSONObject([("prompt", .string(String(repeating: "many words ", count: 40)))])]
        let args = ["--model", dir.path, "--no-progress", "--no-compress", "--chat-template", "none", "--max-new-tokens", "4"]
        let r = try Tools.run("rpo-sample", args, stdin: Self.input(recs))
        #expect(r.status == 1 && r.stderr.hasPrefix("rpo-sample: error: <stdin>:2: the prompt has ")
                && r.stderr.contains("more than the 24 allowed (the model's context is 24 positions)"), "\(r.stderr)")
        let t = try Tools.run("rpo-sample", args + ["--truncate-prompts"], stdin: Self.input(recs))
        #expect(t.status == 0, "\(t.stderr)")
        #expect(Self.records(t).count == 2)
    }

    @Test func usageErrorsExit64() throws {
        for args in [["--top-p", "1.5"], ["--temperature", "-1"], ["--format", "alpacaeval", "--samples-per-prompt", "2"],
                     ["--batch-size", "0"], ["--chat-template", "jinja"], ["--max-length", "1"]] {
            let r = try Self.run(args, [])
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.hasPrefix("rpo-sample: error:"), "\(args): \(r.stderr)")
        }
        let r = try Tools.run("rpo-sample", ["--model", "/nonexistent/model.gguf"], stdin: [])
        #expect(r.status == 1 && r.stderr.contains("/nonexistent/model.gguf"))
    }

    @Test func helpShowsTheSchemasAndAnExample() throws {
        let r = try Tools.run("rpo-sample", ["--help"])
        #expect(r.status == 0)
        for s in ["\"policy_ids\"", "\"finish_reason\"", "alpacaeval", "rpo-judge", "--chat-template", "--max-length"] {
            #expect(r.stdoutText.contains(s), "help lacks \(s)")
        }
    }
}
