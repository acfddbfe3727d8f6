// The HH-RLHF rules of the official `get_hh` (docs/method.md §11.2): split at the chosen transcript's last
// "\n\nAssistant: ", regex reformatting with Python's `\s`, space collapsing, merging, the rows violating
// the prefix assumption, and the errors for malformed rows. Expected strings were printed by the reference
// re-implementation (scripts/fixtures/data_reference.py, `hh`).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

func hhDataset(_ rows: [(String, String)], policy: HHPrefixPolicy = .reproduce) throws -> (PreferenceDataset, DatasetLoadReport) {
    var bytes: [UInt8] = []
    for (c, r) in rows {
        let o = JSONObject([("chosen", .string(c)), ("rejected", .string(r))])
        bytes += Array(try JSONSerializer.string(.object(o)).utf8) + [0x0A]
    }
    var opts = DatasetOptions(split: "test")
    opts.hhPrefix = policy
    return try DatasetReader.read(.hh, from: try DataRecordSource(MemorySource(bytes, name: "hh.jsonl")), options: opts)
}

@Suite struct HHFormatTests {
    @Test func specExample() {
        let p = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Why?\n\nAssistant: "
        #expect(HHFormat.reformat(p, markers: ChatMarkers()) ==
                "\n<|user|>\nHi\n<|assistant|>\nHello\n<|user|>\nWhy?\n<|assistant|>\n")
    }

    @Test func pythonRegexCorners() throws {
        // A piece that starts with "Human" is re-substituted: "Human:x" inside it becomes a marker too.
        var (d, _) = try hhDataset([("\n\nHuman: Humans say Human:x ok\n\nAssistant: Yes", "\n\nHuman: Humans say Human:x ok\n\nAssistant: No")])
        #expect(d.examples[0].prompt == "\n<|user|>\nHumans say\n<|user|>\nx ok\n<|assistant|>\n")
        #expect(d.examples[0].generations == ["Yes", "No"])
        // Python's \s: U+00A0 separates, U+2003 stays inside a turn; CRLF are two code points.
        (d, _) = try hhDataset([("\n\nHuman:\u{a0}Hi\u{2003} there\r\n\r\nAssistant: Yo\n\nHuman:   Again  \t\n\nAssistant: Sure",
                                 "\n\nHuman:\u{a0}Hi\u{2003} there\r\n\r\nAssistant: Yo\n\nHuman:   Again  \t\n\nAssistant: Nope")])
        #expect(d.examples[0].prompt == "\n<|user|>\nHi\u{2003} there\n<|assistant|>\nYo\n<|user|>\nAgain\n<|assistant|>\n")
        #expect(d.examples[0].generations == ["Sure", "Nope"])
        // "Assistant:" without following white space is not a separator.
        (d, _) = try hhDataset([("Human: a\n\nAssistant:b\n\nAssistant: c", "Human: a\n\nAssistant:b\n\nAssistant: d")])
        #expect(d.examples[0].prompt == "\n<|user|>\na\n\nAssistant:b\n<|assistant|>\n")
        #expect(d.examples[0].generations == ["c", "d"])
    }

    @Test func rejectedCutInCodePoints() {
        // Upstream slices the rejected transcript at len(prompt) code points even when it does not share the
        // prompt: "é" and "🙂" are one code point each (two and four UTF-8 bytes).
        let s = HHFormat.split(chosen: "\n\nHuman: é\n\nAssistant: yes", rejected: "\n\nHuman: 🙂\n\nAssistant: no")!
        #expect(s.rejected == "no")
        #expect(!s.rejectedSharesPrompt)
        let t = HHFormat.split(chosen: "\n\nHuman: é\n\nAssistant: yes", rejected: "short")!
        #expect(t.rejected == "")
    }

    @Test func mergesRowsSharingAPrompt() throws {
        let p = "\n\nHuman: Hi  there\n\nAssistant: "
        let (d, _) = try hhDataset([(p + "A1", p + "B1"), ("\n\nHuman: Other\n\nAssistant: x", "\n\nHuman: Other\n\nAssistant: y"), (p + "A2", p + "B2")])
        #expect(d.examples.count == 2)
        #expect(d.examples[0].prompt == "\n<|user|>\nHi there\n<|assistant|>\n")
        #expect(d.examples[0].generations == ["A1", "B1", "A2", "B2"])
        #expect(d.examples[0].pairs == [PreferencePair(0, 1), PreferencePair(2, 3)])
        #expect(d.examples[0].sftIndex == 0)
        #expect(d.examples[0].sourceRecords == [1, 3])
    }

    @Test func bundledHarmlessBasePrefixViolations() throws {
        let path = TestPaths.data("hh-rlhf/harmless-base/test.jsonl.gz")
        var o = DatasetOptions(split: "test")
        let (data, report) = try DatasetReader.read(.hh, from: try DataRecordSource(path: path), options: o)
        #expect(report.records == 2312)
        // Rows 1254, 1688, 1952, 2036 (0-based) of docs/method.md §11.2, as 1-based record numbers.
        #expect(report.hhPrefixMismatches == [1255, 1689, 1953, 2037])
        #expect(data.pairCount == 2312)
        o.hhPrefix = .skip
        let (skipped, r2) = try DatasetReader.read(.hh, from: try DataRecordSource(path: path), options: o)
        #expect(skipped.pairCount == 2308)
        #expect(r2.skipped.values.reduce(0, +) == 4)
        o.hhPrefix = .error
        let e = #expect(throws: RecordError.self) {
            _ = try DatasetReader.read(.hh, from: try DataRecordSource(path: path), options: o)
        }
        #expect(e?.record == 1255)
        #expect(e?.message.contains("does not start with the prompt") == true)
    }

    @Test func malformedRows() throws {
        func error(_ text: String) -> RecordError? {
            #expect(throws: RecordError.self) {
                _ = try DatasetReader.read(.hh, from: try DataRecordSource(MemorySource(Array(text.utf8), name: "in.jsonl")),
                                           options: DatasetOptions(split: "test"))
            }
        }
        let ok = #"{"chosen":"\n\nHuman: a\n\nAssistant: b","rejected":"\n\nHuman: a\n\nAssistant: c"}"#
        let missing = error(ok + "\n" + #"{"rejected":"x"}"# + "\n")
        #expect(missing?.description == #"in.jsonl:2: missing field "chosen""#)
        let noAssistant = error(ok + "\n\n" + #"{"chosen":"\n\nHuman: a","rejected":"\n\nHuman: a"}"# + "\n")
        #expect(noAssistant?.record == 3)
        #expect(noAssistant?.message.contains("no \"\\n\\nAssistant: \"") == true)
        let notObject = error(ok + "\n[1, 2]\n")
        #expect(notObject?.description == "in.jsonl:2: expected a JSON object, found array")
        let notString = error(#"{"chosen":1,"rejected":"x"}"#)
        #expect(notString?.description == #"in.jsonl:1: field "chosen" must be a string, found number"#)
    }
}

@Suite struct HHReferenceFormattingTests {
    /// Every pair of the bundled harmless-base test split (2,312 rows, 2,310 prompts): the formatted prompt and
    /// both completions equal the reference loader's (FNV-1a hashes in the fixture), pairs in the same order.
    @Test func allPairsMatchReference() throws {
        let refs = try RecordReader(path: DataFixtures.path("hh-smollm2.jsonl.zst"))
        let (data, _) = try DatasetReader.read(.hh, from: try DataRecordSource(path: TestPaths.data("hh-rlhf/harmless-base/test.jsonl.gz")),
                                               options: DatasetOptions(split: "test"))
        var n = 0, bad = 0
        while let ref = try refs.read() {
            let f = { (k: String) in refs.field(ref, k) }
            let e = try f("p").int(), k = try f("k").int()
            guard e < data.examples.count, k < data.examples[e].pairs.count else {
                Issue.record("reference pair \(e)/\(k) missing from our dataset"); bad += 1; continue
            }
            let ex = data.examples[e], pair = ex.pairs[k]
            let ours = [fnv(ex.prompt), fnv(ex.generations[pair.chosen]), fnv(ex.generations[pair.rejected])]
            let theirs = [try f("prompt").string(), try f("chosen").string(), try f("rejected").string()]
            if ours != theirs {
                bad += 1
                if bad <= 3 {
                    Issue.record("pair \(e)/\(k) (input rows \(ex.sourceRecords)) differs: prompt \(ex.prompt.debugDescription) chosen \(ex.generations[pair.chosen].debugDescription)")
                }
            }
            #expect((ex.resolvedSFTIndex == pair.chosen) == (try f("sft").bool()))
            n += 1
        }
        #expect(n == 2312)
        #expect(data.pairCount == 2312 && data.examples.count == 2310)
        #expect(bad == 0)
    }
}
