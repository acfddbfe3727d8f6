// The tokenisation of rpo-tokenize against the reference (scripts/fixtures/data_reference.py `hh`: a
// re-implementation of the official get_hh + tokenize_batch_element with transformers' tokenizer for
// SmolLM2-135M-Instruct read from its GGUF file): all 2,312 pairs of the bundled HH harmless-base test split,
// both modes, identical prompt texts, ids and label starts (no tolerance: token ids are exact).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools



/// Tokenizers loaded once for all suites (a failure is reported by each test that needs them).
enum SharedTokenizers {
    /// SmolLM2-135M-Instruct's tokenizer: the tokenizer area's fixture, tokenizer.json as transformers writes it
    /// from models/SmolLM2-135M-Instruct.Q4_1.gguf (the reference used the GGUF file directly).
    static let smolLM2Result = Result { try Tokenizer.load(path: try TokFixtures.directory("smollm2")) }
    static var smolLM2: Tokenizer { get throws { try smolLM2Result.get() } }
    /// The directory holding it, for the CLI tests.
    static var smolLM2Path: String { get throws { try TokFixtures.directory("smollm2") } }
}

extension SharedTokenizers {
    /// Llama-2's SentencePiece-BPE tokenizer (the tokenizer area's fixture, tokenizer.json as transformers
    /// writes it from llama.cpp's ggml-vocab-llama-spm.gguf).
    static let llamaSPMResult = Result { try Tokenizer.load(path: try TokFixtures.directory("llama-spm")) }
    static var llamaSPM: Tokenizer { get throws { try llamaSPMResult.get() } }
}

enum HHReference {
    struct Side { var promptText: String; var inputIds: [Int]; var labelStart: Int; var promptIds: [Int]?; var concat: [JSON] }
    struct Pair { var p: Int; var k: Int; var prompt: String; var sft: Bool; var chosen: Side; var rejected: Side }

    static let pairs: [Pair] = load("hh-smollm2.jsonl.zst")
    /// The first 400 pairs with the Llama-2 tokenizer.
    static let llamaPairs: [Pair] = load("hh-llama-spm.jsonl.zst")

    static func load(_ name: String) -> [Pair] {
        let r = try! RecordReader(path: DataFixtures.path(name))
        var out: [Pair] = []
        while let o = try! r.read() {
            func side(_ s: String) -> Side {
                Side(promptText: o["\(s)_prompt_text"]!.stringValue!,
                     inputIds: o["\(s)_input_ids"]!.arrayValue!.map { $0.intValue! },
                     labelStart: o["\(s)_label_start"]!.intValue!,
                     promptIds: o["\(s)_prompt_ids"]?.arrayValue?.map { $0.intValue! },
                     concat: o["\(s)_concat"]!.arrayValue!)
            }
            out.append(Pair(p: o["p"]!.intValue!, k: o["k"]!.intValue!, prompt: o["prompt"]!.stringValue!,
                            sft: o["sft"]!.boolValue!, chosen: side("chosen"), rejected: side("rejected")))
        }
        return out
    }

    static let dataset: PreferenceDataset = {
        try! DatasetReader.read(.hh, from: try! DataRecordSource(path: TestPaths.data("hh-rlhf/harmless-base/test.jsonl.gz")),
                                options: DatasetOptions(split: "test")).0
    }()

    /// Runs rpo-tokenize's record writer over `data` and returns its records and report.
    static func run(_ mode: TokenizationMode, tokenizer: (any TextTokenizer)? = nil,
                    data: PreferenceDataset = dataset) throws -> ([JSONObject], TokenizeReport) {
        let tokenizer = try tokenizer ?? SharedTokenizers.smolLM2
        let sink = MemorySink()
        let writer = RecordWriter(sink)
        let el = try ElementTokenizer(tokenizer: tokenizer, mode: mode)
        let report = try ExampleRecords.write(data, tokenizer: el, options: RecordOptions(dataset: "hh", split: "test"), to: writer)
        try writer.finish()
        return (try DataFixtures.records(sink.data), report)
    }

    static func records(_ mode: TokenizationMode, tokenizer: (any TextTokenizer)? = nil,
                        data: PreferenceDataset = dataset) throws -> [JSONObject] {
        try run(mode, tokenizer: tokenizer, data: data).0
    }

    /// The official-mode run over all 2,312 pairs, shared by the tests that inspect it.
    static let official = Result { try run(.official) }
}

/// The first position where two id lists differ, for failure messages.
func firstDifference(_ a: [Int], _ b: [Int]) -> String {
    let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
    return "lengths \(a.count) vs \(b.count), first difference at \(i): \(Array(a[i..<min(a.count, i + 5)])) vs \(Array(b[i..<min(b.count, i + 5)]))"
}

@Suite(.serialized) struct TokenizationTests {
    @Test func officialModeMatchesReferenceOnAllHHPairs() throws {
        let recs = try HHReference.official.get().0
        #expect(recs.count == 2312 && HHReference.pairs.count == 2312)
        compareOfficial(recs, HHReference.pairs)
    }

    @Test func llamaSentencePieceQuirkOnHHPairs() throws {
        // The first 400 pairs (the dataset cut to the prompts they come from), Llama-2's tokenizer: BOS added,
        // and the " </s>" text appended by the official mode gives a stand-alone "▁" (29871) before EOS (2).
        let refs = HHReference.llamaPairs
        var data = HHReference.dataset
        data.keepFirst(refs.last!.p + 1)
        let recs = try HHReference.records(.official, tokenizer: try SharedTokenizers.llamaSPM, data: data)
        #expect(refs.count == 400 && recs.count >= 400)
        compareOfficial(Array(recs.prefix(400)), refs, dataset: "hh")
        let endings = recs.prefix(400).filter { Array($0["chosen_input_ids"]!.arrayValue!.suffix(2).map { $0.intValue! }) == [29871, 2] }
        #expect(endings.count == 400)
        #expect(recs.allSatisfy { $0["chosen_input_ids"]!.arrayValue!.first == .int(1) })
        let concat = try HHReference.records(.concat, tokenizer: try SharedTokenizers.llamaSPM, data: data)
        compareConcat(Array(concat.prefix(400)), refs, eos: 2)
    }

    func compareOfficial(_ recs: [JSONObject], _ refs: [HHReference.Pair], dataset: String = "hh",
                         sourceLocation: SourceLocation = #_sourceLocation) {
        var failures = 0
        for (rec, ref) in zip(recs, refs) {
            let id = rec["id"]!.stringValue!
            var problems: [String] = []
            if id != "hh:test:\(ref.p):\(ref.k)" { problems.append("id \(id), expected hh:test:\(ref.p):\(ref.k)") }
            // prompt = the rejected element's decoded prompt text (upstream's dict.update order).
            if fnv(rec["prompt"]!.stringValue!) != ref.rejected.promptText { problems.append("prompt text \(rec["prompt"]!.stringValue!.debugDescription)") }
            for (s, side) in [("chosen", ref.chosen), ("rejected", ref.rejected)] {
                let ids = rec["\(s)_input_ids"]!.arrayValue!.map { $0.intValue! }
                if ids != side.inputIds { problems.append("\(s)_input_ids: \(firstDifference(ids, side.inputIds))") }
                let ls = rec["\(s)_label_start"]!.intValue!
                if ls != side.labelStart { problems.append("\(s)_label_start \(ls), expected \(side.labelStart)") }
            }
            let promptIds = rec["prompt_ids"]!.arrayValue!.map { $0.intValue! }
            let refPromptIds = ref.rejected.promptIds ?? Array(ref.rejected.inputIds.prefix(ref.rejected.labelStart))
            if promptIds != refPromptIds { problems.append("prompt_ids: \(firstDifference(promptIds, refPromptIds))") }
            if rec["sft_target"]!.boolValue! != ref.sft { problems.append("sft_target") }
            if !problems.isEmpty {
                failures += 1
                if failures <= 3 { Issue.record("record \(id): \(problems.joined(separator: "; "))") }
            }
        }
        #expect(failures == 0, "\(failures) of \(refs.count) records differ from the reference", sourceLocation: sourceLocation)
    }

    @Test func concatModeMatchesReferenceOnAllHHPairs() throws {
        let recs = try HHReference.records(.concat)
        #expect(recs.count == HHReference.pairs.count)
        compareConcat(recs, HHReference.pairs, eos: 2)
    }

    func compareConcat(_ recs: [JSONObject], _ refs: [HHReference.Pair], eos: Int,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        var failures = 0
        for (rec, ref) in zip(recs, refs) {
            for (s, side) in [("chosen", ref.chosen), ("rejected", ref.rejected)] {
                let ids = rec["\(s)_input_ids"]!.arrayValue!.map { $0.intValue! }
                let ls = rec["\(s)_label_start"]!.intValue!
                let expected = [side.concat[0].intValue!, side.concat[1].intValue!]
                if [ls, ids.count] != expected || fnv(ids) != side.concat[2].stringValue! || ids.last != eos {
                    failures += 1
                    if failures <= 3 { Issue.record("\(rec["id"]!.stringValue!) \(s): label start \(ls), \(ids.count) ids; expected \(expected)") }
                }
            }
            // The prompt text is the same decoded truncated prompt in both modes.
            if fnv(rec["prompt"]!.stringValue!) != ref.rejected.promptText { failures += 1 }
        }
        #expect(failures == 0, sourceLocation: sourceLocation)
    }

    @Test func boundaryDriftIsReported() throws {
        // The record writer's report lists exactly the reference's drifting completions.
        let report = try HHReference.official.get().1
        var expected: [String] = []
        for ref in HHReference.pairs {
            if ref.chosen.promptIds != nil { expected.append("hh:test:\(ref.p):\(ref.k) chosen") }
            if ref.rejected.promptIds != nil { expected.append("hh:test:\(ref.p):\(ref.k) rejected") }
        }
        #expect(report.drift.map { "\($0.id) \($0.side)" } == expected)
        #expect(expected.count == 6)
        #expect(report.records == 2312 && report.elements == 4624)
    }

    @Test func sftTargetFollowsUpstreamSFTIndex() throws {
        // OASST keeps upstream's default sft_index -1 (the last generation: the rejected reply of the last
        // pair); SHP's sft_index 0 is the first row's response A, the rejected one when its label is 0.
        func records(_ kind: DatasetKind, _ file: String) throws -> [JSONObject] {
            let (data, _) = try DataFixtures.read(kind, file)
            return try HHReference.records(.concat, data: data)
        }
        let oasst = try records(.oasst, "oasst.jsonl")
        #expect(oasst.prefix(2).map { $0["sft_target"] } == [.bool(false), .bool(true)])
        #expect(oasst[1]["sft_completion"] == .string("rejected") && oasst[0]["sft_completion"] == nil)
        let shp = try records(.shp, "shp.jsonl")
        let first = shp.first { $0["prompt_id"] == .string("hh:test:0") }!
        #expect(first["sft_target"] == .bool(true) && first["sft_completion"] == nil)
        let calculus = shp.filter { $0["prompt_id"] == .string("hh:test:2") }   // test split: no ratio filter
        #expect(calculus.count == 7)
        #expect(calculus.map { $0["sft_target"] == .bool(true) } == [true] + Array(repeating: false, count: 6))
        #expect(calculus[0]["sft_completion"] == .string("rejected"))
    }

    @Test func boundaryDriftIsCounted() throws {
        // The reference records drift (re-encoded combined ids not starting with the re-encoded prompt ids)
        // for a few completions; the element tokenizer must flag exactly those.
        let el = try ElementTokenizer(tokenizer: try SharedTokenizers.smolLM2, mode: .official)
        let data = HHReference.dataset
        let refs = HHReference.pairs.filter { $0.chosen.promptIds != nil || $0.rejected.promptIds != nil }
        #expect(!refs.isEmpty)
        for ref in refs {
            let ex = data.examples[ref.p], pair = ex.pairs[ref.k]
            let c = try el.tokenize(prompt: ex.prompt, completion: ex.generations[pair.chosen], truncation: ex.truncationMode)
            let r = try el.tokenize(prompt: ex.prompt, completion: ex.generations[pair.rejected], truncation: ex.truncationMode)
            #expect(c.boundaryDrift == (ref.chosen.promptIds != nil))
            #expect(r.boundaryDrift == (ref.rejected.promptIds != nil))
            if let p = ref.chosen.promptIds { #expect(c.promptIds == p) }
        }
    }

    @Test func truncationRules() throws {
        // Small limits make both truncation branches fire; the texts are built from the bundled data.
        let el = try ElementTokenizer(tokenizer: try SharedTokenizers.smolLM2, mode: .concat, maxLength: 24, maxPromptLength: 8)
        let tok = try SharedTokenizers.smolLM2
        let prompt = "\n<|user|>\nOne two three four five six seven eight nine ten eleven twelve\n<|assistant|>\n"
        let completion = "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma"
        let p = tok.encode(prompt), g = tok.encode(completion)
        #expect(p.count > 8 && p.count + g.count > 24)
        let end = try el.tokenize(prompt: prompt, completion: completion, truncation: .keepEnd)
        #expect(end.promptIds == Array(p.suffix(8)))
        #expect(end.inputIds == Array(p.suffix(8)) + Array(g.prefix(16)) + [tok.eosTokenId!])
        #expect(end.labelStart == 8 && end.promptTruncated && end.completionTruncated)
        let start = try el.tokenize(prompt: prompt, completion: completion, truncation: .keepStart)
        #expect(start.promptIds == Array(p.prefix(8)))
        #expect(start.promptText == tok.decode(Array(p.prefix(8)), skipSpecialTokens: true))
        // Under the limit nothing is cut.
        let short = try el.tokenize(prompt: "\n<|user|>\nHi\n<|assistant|>\n", completion: "Hello!", truncation: .keepEnd)
        #expect(!short.promptTruncated && !short.completionTruncated)
        // Invalid limits are refused rather than sliced as Python would.
        #expect(throws: DataError.self) { _ = try ElementTokenizer(tokenizer: tok, mode: .official, maxLength: 10, maxPromptLength: 0) }
        #expect(throws: DataError.self) { _ = try ElementTokenizer(tokenizer: tok, mode: .official, maxLength: 10, maxPromptLength: 20) }
    }
}
