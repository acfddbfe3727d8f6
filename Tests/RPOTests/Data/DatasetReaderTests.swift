// The dataset readers against a Python re-implementation of the official loaders
// (scripts/fixtures/data_reference.py, `format` command) on hand-made rows in each dataset's published
// format (Tests/Fixtures/data/*.jsonl), and the HH formatting rules on the bundled harmless-base test split.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

enum DataFixtures {
    static func path(_ name: String) -> String { TestPaths.fixture("data/\(name)") }

    static func read(_ kind: DatasetKind, _ file: String, split: String = "test",
                     configure: (inout DatasetOptions) -> Void = { _ in }) throws -> (PreferenceDataset, DatasetLoadReport) {
        var o = DatasetOptions(split: split)
        configure(&o)
        return try DatasetReader.read(kind, from: try DataRecordSource(path: path(file)), options: o)
    }

    /// The expected examples written by the reference script.
    static func expected(_ file: String) throws -> [JSONObject] {
        let r = try RecordReader(path: path(file))
        var out: [JSONObject] = []
        while let o = try r.read() { out.append(o) }
        return out
    }

    static func records(_ bytes: [UInt8]) throws -> [JSONObject] {
        let r = RecordReader(try openDecompressed(MemorySource(bytes)))
        var out: [JSONObject] = []
        while let o = try r.read() { out.append(o) }
        return out
    }
}

/// FNV-1a 64 as the reference script writes it (hex), of a text or of ids joined by ",".
func fnv(_ s: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

func fnv(_ ids: [Int]) -> String { fnv(ids.map(String.init).joined(separator: ",")) }

/// Compares a loaded dataset with the reference examples, field by field, naming the first difference.
func expectSameExamples(_ data: PreferenceDataset, _ expected: [JSONObject], comparePairs: Bool = true,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(data.examples.count == expected.count, "\(data.examples.count) examples, expected \(expected.count)",
            sourceLocation: sourceLocation)
    for (i, (ex, ref)) in zip(data.examples, expected).enumerated() {
        let f = { (k: String) in ref.field(k, source: "expected", record: i + 1) }
        #expect(ex.prompt == (try f("prompt").string()), "example \(i): prompt \(ex.prompt.debugDescription)", sourceLocation: sourceLocation)
        #expect(ex.generations == (try f("generations").stringArray()), "example \(i): generations \(ex.generations)", sourceLocation: sourceLocation)
        if comparePairs {
            let pairs = try f("pairs").array().map { ($0.arrayValue ?? []).map { $0.intValue ?? -1 } }
            #expect(ex.pairs.map { [$0.chosen, $0.rejected] } == pairs, "example \(i): pairs", sourceLocation: sourceLocation)
        }
        #expect(ex.sftIndex == (try f("sft_index").int()), "example \(i): sft_index", sourceLocation: sourceLocation)
        #expect(ex.truncationMode.rawValue == (try f("truncation_mode").string()), "example \(i): truncation", sourceLocation: sourceLocation)
        #expect(ex.datasetName == (try f("dataset_name").string()), "example \(i): dataset_name", sourceLocation: sourceLocation)
        #expect(ex.originalPrompt == (try f("original_prompt").string()), "example \(i): original_prompt", sourceLocation: sourceLocation)
        #expect(ex.scores == (try f("scores").array().map { $0.doubleValue ?? .nan }), "example \(i): scores", sourceLocation: sourceLocation)
    }
}

@Suite struct DatasetReaderTests {
    @Test func tldrMatchesReference() throws {
        let (data, report) = try DataFixtures.read(.tldr, "tldr.jsonl")
        #expect(report.records == 4)
        // Rows 1 and 3 share a post: one prompt with two pairs; a null post gives the empty prompt body.
        try expectSameExamples(data, try DataFixtures.expected("tldr.expected.jsonl"))
        #expect(data.examples[0].pairs.count == 2)
    }

    @Test func ultrabinMatchesReference() throws {
        let (data, _) = try DataFixtures.read(.ultrabin, "ultrabin.jsonl")
        try expectSameExamples(data, try DataFixtures.expected("ultrabin.expected.jsonl"))
    }

    @Test func oasstMatchesReference() throws {
        // Flat oasst1 rows: non-English messages dropped, a rank without a next-best sibling and a lone
        // ranked reply skipped, ranked siblings chained (r-1, r), prompts from the root.
        let (flat, report) = try DataFixtures.read(.oasst, "oasst.jsonl")
        try expectSameExamples(flat, try DataFixtures.expected("oasst.expected.jsonl"))
        #expect(report.skipped["oasst rows without a next-best English sibling"] == 2)
        // The same messages as message trees, flattened depth-first.
        let (trees, _) = try DataFixtures.read(.oasst, "oasst-trees.jsonl")
        try expectSameExamples(trees, try DataFixtures.expected("oasst-trees.expected.jsonl"))
    }

    @Test func alpacaEvalArrayMatchesReference() throws {
        let (data, report) = try DataFixtures.read(.alpacaeval, "alpacaeval.json")
        #expect(report.records == 3)
        try expectSameExamples(data, try DataFixtures.expected("alpacaeval.expected.jsonl"))
    }

    @Test func alpacaEvalBundledFile() throws {
        let src = try DataRecordSource(path: TestPaths.data("alpaca_eval/example/outputs.json"))
        #expect(src.isArray)
        let (data, report) = try DatasetReader.read(.alpacaeval, from: src, options: DatasetOptions(split: "test"))
        #expect(report.records == 805)
        #expect(data.examples.count == 805)
        #expect(data.examples[0].originalPrompt == "What are the names of some famous actors that started their careers on Broadway?")
        #expect(data.examples[0].prompt == "\n<|user|>\nWhat are the names of some famous actors that started their careers on Broadway?\n<|assistant|>\n")
    }

    @Test func shpTestSplitMatchesReference() throws {
        let (data, _) = try DataFixtures.read(.shp, "shp.jsonl", split: "test")
        try expectSameExamples(data, try DataFixtures.expected("shp-test.expected.jsonl"))
    }

    @Test func shpTrainSplitFiltersAndCaps() throws {
        let (data, report) = try DataFixtures.read(.shp, "shp.jsonl", split: "train") { $0.seed = 7 }
        let expected = try DataFixtures.expected("shp-train.expected.jsonl")
        // The score-ratio filter (< 2 dropped in train) is exact; the 5-pair cap samples with our RNG, so
        // the pairs must be a subset of the reference's, of size min(5, n), without repeats.
        try expectSameExamples(data, expected, comparePairs: false)
        #expect(report.skipped["shp score ratio below 2 (train split)"] == 1)
        #expect(report.skipped["shp pairs beyond 5 per prompt (train split)"] == 2)
        for (ex, ref) in zip(data.examples, expected) {
            let all = Set(try ref.field("pairs", source: "", record: nil).array().map { ($0.arrayValue ?? []).map { $0.intValue! } })
            let got = ex.pairs.map { [$0.chosen, $0.rejected] }
            #expect(got.count == min(5, all.count))
            #expect(Set(got).count == got.count && Set(got).isSubset(of: all))
        }
        // Same seed, same sample; another seed, (here) another one.
        let (again, _) = try DataFixtures.read(.shp, "shp.jsonl", split: "train") { $0.seed = 7 }
        let (other, _) = try DataFixtures.read(.shp, "shp.jsonl", split: "train") { $0.seed = 8 }
        #expect(again.examples.map(\.pairs) == data.examples.map(\.pairs))
        #expect(other.examples.map(\.pairs) != data.examples.map(\.pairs))
    }

    @Test func genericPairsAndConversations() throws {
        let (data, _) = try DataFixtures.read(.generic, "generic.jsonl")
        #expect(data.examples.count == 2)
        let a = data.examples[0]
        #expect(a.prompt == "\n<|user|>\nSay hi.\n<|assistant|>\n")
        #expect(a.generations == ["Hi!", "No.", "Hello there.", "Go away."])
        #expect(a.pairs == [PreferencePair(0, 1), PreferencePair(2, 3)])
        #expect(a.sftIndex == 0)
        let b = data.examples[1]
        #expect(b.prompt == "\n<|user|>\nHello\n<|assistant|>\nHi, how can I help?\n<|user|>\nA pun, please.\n<|assistant|>\n")
        #expect(b.generations == ["I'm reading a book on anti-gravity. I can't put it down.", "No puns today."])
        let (verbatim, _) = try DataFixtures.read(.generic, "generic.jsonl") { $0.verbatimPrompt = true; $0.keepSpaces = true }
        #expect(verbatim.examples[0].prompt == "Say  hi.")
    }

    @Test func unpairedItems() throws {
        let (data, _) = try DataFixtures.read(.unpaired, "unpaired.jsonl")
        #expect(data.examples.count == 2)
        #expect(data.examples[0].generations == ["Hi!", "No."])
        #expect(data.examples[0].desirable == [true, false])
        #expect(data.examples[1].desirable == [true])
    }

    @Test func markersAndTruncationOverride() throws {
        let (data, _) = try DataFixtures.read(.tldr, "tldr.jsonl") {
            $0.markers = ChatMarkers(humanPrefix: "USER: ", humanSuffix: " </u>", assistantPrefix: "\nBOT:", assistantSuffix: "<e>")
            $0.truncation = .keepEnd
        }
        #expect(data.examples[1].prompt == "USER: </u>\nBOT:")  // two spaces collapsed
        #expect(data.examples[1].generations == [" empty post summary<e>", " other<e>"])
        #expect(data.examples.allSatisfy { $0.truncationMode == .keepEnd })
    }
}
