// rpo-tokenize as a user runs it: output records, stderr notes, exit codes (0, 1 for bad data, 64 for bad
// usage), order kept across threads, raw/decode modes.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

enum TokenizeCLI {
    /// SmolLM2's tokenizer (a directory: the tokenizer area's unpacked fixture).
    static var tokenizer: String { get throws { try SharedTokenizers.smolLM2Path } }
    static let hh = TestPaths.data("hh-rlhf/harmless-base/test.jsonl.gz")

    /// Rows `range` (0-based) of the bundled HH file as plain JSON Lines.
    static func hhRows(_ range: Range<Int>) throws -> [UInt8] {
        let r = try RecordReader(path: hh)
        var out: [UInt8] = []
        var i = 0
        while let o = try r.read() {
            if range.contains(i) { out += Array(try JSONSerializer.string(.object(o)).utf8) + [0x0A] }
            i += 1
        }
        return out
    }

    static func run(_ args: [String], stdin: [UInt8] = [], env: [String: String] = [:]) throws -> ToolResult {
        try Tools.run("rpo-tokenize", args, stdin: stdin, env: env)
    }
}

@Suite(.serialized) struct TokenizeCLITests {
    @Test func hhRecordsMatchTheLibraryAndReportMismatches() throws {
        let input = try TokenizeCLI.hhRows(1250..<1260)   // holds record 1255 of the full file (record 5 here)
        let r = try TokenizeCLI.run(["--dataset", "hh", "--split", "test", "--tokenizer", try TokenizeCLI.tokenizer, "--no-compress"], stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try DataFixtures.records(r.stdout)
        #expect(recs.count == 10)
        #expect(recs[0].keys == ["id", "prompt_id", "dataset", "split", "prompt", "chosen", "rejected", "prompt_ids",
                                 "chosen_input_ids", "chosen_label_start", "rejected_input_ids", "rejected_label_start", "sft_target"])
        #expect(r.stderr.contains("1 hh rows whose rejected transcript does not start with the chosen prompt (records 5)"))
        #expect(r.stderr.contains("boundary drift:"))
        // The same records as the library writes in-process.
        let (data, _) = try DatasetReader.read(.hh, from: try DataRecordSource(MemorySource(input)), options: DatasetOptions(split: "test"))
        let sink = MemorySink(), w = RecordWriter(sink)
        _ = try ExampleRecords.write(data, tokenizer: try ElementTokenizer(tokenizer: try SharedTokenizers.smolLM2, mode: .official),
                                     options: RecordOptions(dataset: "hh", split: "test"), to: w)
        try w.finish()
        #expect(sink.data == r.stdout)
        // --hh-mismatch skip drops the row; error stops at it with its record number.
        let skip = try TokenizeCLI.run(["--dataset", "hh", "--tokenizer", try TokenizeCLI.tokenizer, "--hh-mismatch", "skip", "--no-compress"], stdin: input)
        #expect(try DataFixtures.records(skip.stdout).count == 9)
        let err = try TokenizeCLI.run(["--dataset", "hh", "--tokenizer", try TokenizeCLI.tokenizer, "--hh-mismatch", "error"], stdin: input)
        #expect(err.status == 1)
        #expect(err.stderr.hasPrefix("rpo-tokenize: error: <stdin>:5: the rejected transcript does not start with the prompt"))
    }

    @Test func verboseListsBoundaryDrift() throws {
        // Prompt 86 of the bundled split drifts on its chosen completion (reference fixture).
        let row = HHReference.dataset.examples[86].sourceRecords[0] - 1
        let r = try TokenizeCLI.run(["--dataset", "hh", "--split", "test", "--tokenizer", try TokenizeCLI.tokenizer, "-v"],
                                    stdin: try TokenizeCLI.hhRows(row..<(row + 1)))
        #expect(r.status == 0)
        #expect(r.stderr.contains("boundary drift: 1 of 2 tokenised completions"))
        #expect(r.stderr.contains("rpo-tokenize: boundary drift: hh:test:0:0 (chosen)\n"))
    }

    @Test func outputIsTheSameOnOneThreadAndCompressed() throws {
        let input = try TokenizeCLI.hhRows(0..<120)
        let args = ["--dataset", "hh", "--tokenizer", try TokenizeCLI.tokenizer, "-q"]
        let two = try TokenizeCLI.run(args, stdin: input, env: ["RPO_THREADS": "2"])
        let one = try TokenizeCLI.run(args, stdin: input, env: ["RPO_THREADS": "1"])
        #expect(two.status == 0 && one.status == 0)
        #expect(two.stdout.starts(with: [0x28, 0xB5, 0x2F, 0xFD]))   // zstd by default
        #expect(two.stdout == one.stdout)
        #expect(two.stderr.isEmpty)
        #expect(try DataFixtures.records(two.stdout).count == 120)
    }

    @Test func unpairedItemsAndAlpacaEval() throws {
        let input = try TokenizeCLI.hhRows(0..<3)
        let r = try TokenizeCLI.run(["--dataset", "hh", "--tokenizer", try TokenizeCLI.tokenizer, "--unpaired", "--mode", "concat", "--no-compress"], stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        let items = try DataFixtures.records(r.stdout)
        #expect(items.count == 6)
        #expect(items.map { $0["status"]!.stringValue! } == ["chosen", "rejected", "chosen", "rejected", "chosen", "rejected"])
        #expect(items[0].keys == ["id", "prompt_id", "dataset", "split", "prompt", "completion", "status", "prompt_ids", "input_ids", "label_start"])
        #expect(items[1]["id"]!.stringValue! == "hh:train:0:0:rejected")
        let ids = items[0]["input_ids"]!.arrayValue!.map { $0.intValue! }
        let ls = items[0]["label_start"]!.intValue!
        #expect(Array(ids.prefix(ls)) == items[0]["prompt_ids"]!.arrayValue!.map { $0.intValue! })
        #expect(ids.last == 2)
        let a = try TokenizeCLI.run(["--dataset", "alpacaeval", "--tokenizer", try TokenizeCLI.tokenizer, "--no-compress",
                                     DataFixtures.path("alpacaeval.json")])
        #expect(a.status == 0, "\(a.stderr)")
        let recs = try DataFixtures.records(a.stdout)
        #expect(recs.count == 2)
        #expect(recs[0]["split"]?.stringValue == "test")
        #expect(recs[0]["chosen"]?.stringValue == "Drink water.")   // sft_index -1: the last output of a merged prompt
        #expect(recs[0]["instruction"]?.stringValue == "Give three tips for  staying healthy.")
        #expect(recs[0]["subset"]?.stringValue == "helpful_base")
        #expect(recs[0]["rejected_input_ids"] == nil)
    }

    @Test func rawAndDecode() throws {
        let text = "Hello world\n  spaced  line\n\nlast <|im_end|>\n"
        let r = try TokenizeCLI.run(["--raw", "--tokenizer", try TokenizeCLI.tokenizer, "--no-compress"], stdin: Array(text.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try DataFixtures.records(r.stdout)
        let lines = ["Hello world", "  spaced  line", "", "last <|im_end|>"]
        #expect(recs.map { $0["text"]!.stringValue! } == lines)
        for (rec, line) in zip(recs, lines) {
            #expect(rec["text_ids"]!.arrayValue!.map { $0.intValue! } == (try SharedTokenizers.smolLM2).encode(line, addSpecialTokens: true))
        }
        let d = try TokenizeCLI.run(["--decode", "--tokenizer", try TokenizeCLI.tokenizer, "--no-compress", "--no-special-tokens"], stdin: r.stdout)
        #expect(d.status == 0, "\(d.stderr)")
        let back = try DataFixtures.records(d.stdout)
        #expect(back.last?["text"]?.stringValue == "last ")   // the special token dropped
        #expect(back.first?.keys == ["text", "text_ids"])
        let j = try TokenizeCLI.run(["--raw", "--field", "q", "--tokenizer", try TokenizeCLI.tokenizer, "--no-compress"],
                                    stdin: Array(#"{"id": 1, "q": "Hi"}"#.utf8) + [0x0A] + Array(#"{"id": 2}"#.utf8))
        #expect(j.status == 1)
        #expect(j.stderr == "rpo-tokenize: error: <stdin>:2: missing field \"q\"\n")
        // Ids that are no token of the tokenizer (negative, beyond the vocabulary) are an error naming the record.
        let beyond = (try SharedTokenizers.smolLM2).vocabularySize + 1000
        for (bad, index) in [(-1, 1), (beyond, 2), (1 << 40, 0)] {
            var ids = [1, 2, 3]
            ids[index] = bad
            let input = Array(#"{"text_ids": [5, 6]}"#.utf8) + [0x0A] + Array(#"{"text_ids": \#(ids)}"#.utf8) + [0x0A]
            let e = try TokenizeCLI.run(["--decode", "--tokenizer", try TokenizeCLI.tokenizer, "--no-compress"], stdin: input)
            #expect(e.status == 1, "\(bad): \(e.stderr)")
            #expect(e.stderr == "rpo-tokenize: error: <stdin>:2: field \"text_ids\"[\(index)] = \(bad) is not a token id of the tokenizer\n",
                    "\(e.stderr)")
        }
    }

    @Test func badInputIsAClearError() throws {
        let ok = #"{"chosen":"\n\nHuman: a\n\nAssistant: b","rejected":"\n\nHuman: a\n\nAssistant: c"}"#
        func fails(_ text: String, _ expected: String, dataset: String = "hh") throws {
            let r = try TokenizeCLI.run(["--dataset", dataset, "--tokenizer", try TokenizeCLI.tokenizer], stdin: Array(text.utf8))
            #expect(r.status == 1, "\(text): \(r.stderr)")
            #expect(r.stderr == "rpo-tokenize: error: \(expected)\n")
            #expect(r.stdout.isEmpty)
        }
        try fails(ok + "\n" + #"{"rejected":"x"}"# + "\n", #"<stdin>:2: missing field "chosen""#)
        try fails(ok + "\n" + #"{"chosen":"\n\nHuman: a","rejected":"\n\nHuman: a"}"# + "\n",
                  #"<stdin>:2: the chosen transcript has no "\n\nAssistant: " to split the prompt at"#)
        try fails(ok + "\n\"just a string\"\n", "<stdin>:2: expected a JSON object, found string")
        try fails(ok + "\n{\"chosen\": \n", "<stdin>:2: invalid JSON at byte 12: unexpected end of input")
        try fails(#"{"info":{"post":"p"},"summaries":[{"text":"a"}],"choice":0}"#, #"<stdin>:1: field "summaries" must hold two summaries, found 1"#, dataset: "tldr")
        try fails("[1]", "<stdin>:1: expected a JSON object, found number", dataset: "alpacaeval")
    }

    @Test func unknownTokenizerComponentIsAnError() throws {
        let dir = TempDir()
        let json = #"{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,"model":{"type":"Mystery","vocab":{}}}"#
        try json.write(toFile: dir.file("tokenizer.json"), atomically: true, encoding: .utf8)
        let r = try TokenizeCLI.run(["--dataset", "hh", "--tokenizer", dir.path], stdin: [])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("rpo-tokenize: error: "))
        #expect(r.stderr.contains("Mystery"), "\(r.stderr)")
        let missing = try TokenizeCLI.run(["--dataset", "hh", "--tokenizer", dir.file("nope.gguf")], stdin: [])
        #expect(missing.status == 1)
    }

    @Test func usageErrors() throws {
        for args in [["--tokenizer", try TokenizeCLI.tokenizer],
                     ["--dataset", "hh", "--tokenizer", try TokenizeCLI.tokenizer, "--raw"],
                     ["--dataset", "nope", "--tokenizer", try TokenizeCLI.tokenizer],
                     ["--dataset", "hh", "--tokenizer", try TokenizeCLI.tokenizer, "--max-prompt-length", "600"],
                     ["--dataset", "hh", "--tokenizer", try TokenizeCLI.tokenizer, "--user-marker", "\\q"]] {
            let r = try TokenizeCLI.run(args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
        }
        let help = try TokenizeCLI.run(["--help"])
        #expect(help.status == 0)
        for word in ["chosen_label_start", "prompt_id", "sft_target", "status", "EXAMPLE", "rpo-embed"] {
            #expect(help.stdoutText.contains(word), "--help lacks \(word)")
        }
    }
}
