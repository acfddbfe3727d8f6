// rpo-pairs run as a user would: the docs/method.md §18 vectors reproduced through the tool's batch records,
// batch composition on the HH data against the official loaders re-implemented in Python (Tests/Fixtures/pairs),
// exact matrices, bad input, usage errors, determinism.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct PairsCLITests {
    // MARK: - Helpers

    /// A pair record with marker token ids ([id, 0] chosen, [id, 1] rejected) and optional embedding.
    static func pair(_ id: Int, prompt: Int? = nil, embedding: [Double]? = nil, sft: Bool = true) -> JSONObject {
        var o = JSONObject([("id", .int(id)), ("prompt_id", .int(prompt ?? id)), ("prompt", .string("p\(id)")),
                            ("chosen", .string("c\(id)")), ("rejected", .string("r\(id)")),
                            ("chosen_input_ids", .ints([id, 0])), ("chosen_label_start", .int(1)),
                            ("rejected_input_ids", .ints([id, 1])), ("rejected_label_start", .int(1)),
                            ("sft_target", .bool(sft))])
        if let e = embedding { o["prompt_embedding"] = .array(e.map { .double($0) }) }
        return o
    }

    static func item(_ id: Int, _ status: String, embedding: [Double]) -> JSONObject {
        JSONObject([("id", .int(id)), ("prompt_id", .int(id)), ("completion", .string("x")), ("input_ids", .ints([id, 7])),
                    ("label_start", .int(1)), ("status", .string(status)), ("prompt_embedding", .array(embedding.map { .double($0) }))])
    }

    static func jsonl(_ records: [JSONObject]) -> [UInt8] {
        var out: [UInt8] = []
        for r in records { try! JSONSerializer.write(r, to: &out); out.append(0x0A) }
        return out
    }

    /// Runs rpo-pairs on `records` (a temporary file unless `viaStdin`), plain output.
    static func run(_ records: [JSONObject], _ args: [String], viaStdin: Bool = false) throws -> (ToolResult, [TrainingBatch], String) {
        let dir = TempDir()
        let path = dir.file("in.jsonl")
        let bytes = jsonl(records)
        if !viaStdin { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
        let r = try Tools.run("rpo-pairs", args + ["--no-compress"] + (viaStdin ? [] : [path]), stdin: viaStdin ? bytes : [])
        return (r, r.status == 0 ? try decode(r.stdout) : [], path)
    }

    static func decode(_ out: [UInt8]) throws -> [TrainingBatch] {
        let reader = RecordReader(MemorySource(out, name: "<stdout>"))
        var batches: [TrainingBatch] = []
        while let rec = try reader.read() {
            batches.append(try TrainingBatch(record: rec, source: reader.name, record: reader.recordNumber))
        }
        return batches
    }

    /// The pair id of a pair record, an item record given as input (integer ids), or an item rpo-pairs made
    /// from a pair ("<pair id>:<side>").
    static func id(_ e: JSONObject) -> Int {
        if let i = e["id"]?.intValue { return i }
        let s = e["id"]!.stringValue!
        return Int(s.split(separator: ":")[0])!
    }

    // MARK: - §18 through the tool

    // §18.1 inputs, by pair id.
    static let pc = [-50.0, -80, -120], pr = [-60.0, -70, -130], rc = [-52.0, -79, -121], rr = [-58.0, -71, -126]
    static let emb: [[Double]] = [[1, 0, 0], [0.8, 0.6, 0], [0, 0, 2]]
    static let w18: [[Double]] = [[0.553816, 0.371234, 0.074951], [0.371234, 0.553816, 0.074951], [0.106507, 0.106507, 0.786986]]

    /// Runs the loss the batch's weighting calls for on group 0, with §18.1's log-probs looked up by pair id.
    static func paired18Loss(_ b: TrainingBatch) throws -> (LossOutput, [Int]) {
        let ids = b.groups[0].map { id(b.examples[$0]) }
        let (c, r, x, y) = (ids.map { pc[$0] }, ids.map { pr[$0] }, ids.map { rc[$0] }, ids.map { rr[$0] })
        switch b.weighting {
        case .embedding, .uniform:
            return (try Losses.rpoPaired(policyChosen: c, policyRejected: r, referenceChosen: x, referenceRejected: y,
                                         weights: b.contrastMatrix(group: 0)), ids)
        case .diagonal:
            return (try Losses.rpoDiagonal(policyChosen: c, policyRejected: r, referenceChosen: x, referenceRejected: y,
                                           diagonalWeight: b.diagonalWeight!), ids)
        case .none:
            return (try Losses.dpo(policyChosen: c, policyRejected: r, referenceChosen: x, referenceRejected: y), ids)
        }
    }

    @Test func paired18_1ThroughTheTool() throws {
        let records = (0..<3).map { Self.pair($0, embedding: Self.emb[$0]) }
        // The §18 tables are printed to 6 decimals: 1e-6 absolute (weights stored as Float add < 1e-7).
        let tol = 1e-6
        let (r, batches, _) = try Self.run(records, ["--layout", "paired", "--batch-size", "3", "--micro-batch", "3", "--tau", "0.5"])
        #expect(r.status == 0, "\(r.stderr)")
        let b = try #require(batches.first)
        #expect(batches.count == 1 && b.tau == 0.5 && b.weighting == .embedding)
        let (out, ids) = try Self.paired18Loss(b)
        // The batch is shuffled: compare entry by pair id.
        let w = try #require(b.weights?.first)
        for i in 0..<3 { for j in 0..<3 { expectNear([w[i, j]], [Self.w18[ids[i]][ids[j]]], atol: tol, "W[\(ids[i])][\(ids[j])]") } }
        expectNear([out.loss], [0.658560], atol: tol, "rpo-paired L")
        let rows = [0.644726, 0.702262, 0.628693], gc = [-0.005169, -0.005683, -0.004697], gr = [0.005344, 0.005863, 0.004342]
        expectNear(out.losses, ids.map { rows[$0] }, atol: tol, "rows")
        expectNear(out.dPolicyChosen, ids.map { gc[$0] }, atol: tol, "dπc")
        expectNear(out.dPolicyRejected, ids.map { gr[$0] }, atol: tol, "dπr")
        expectNear([b.stats!.meanDiagonalWeight!], [(0.553816 + 0.553816 + 0.786986) / 3], atol: tol, "mean diagonal weight")

        // The other weightings of the same batch: uniform (W = ones), diagonal (α = 0.8), none (DPO).
        for (weighting, expected) in [("uniform", 0.590374), ("diagonal", 0.593666), ("none", 0.595077)] {
            let (r2, bs, _) = try Self.run(records, ["--layout", "paired", "--batch-size", "3", "--micro-batch", "3", "--weighting", weighting])
            #expect(r2.status == 0, "\(r2.stderr)")
            let b2 = try #require(bs.first)
            #expect(b2.weights == nil && b2.weighting.rawValue == weighting)
            expectNear([try Self.paired18Loss(b2).0.loss], [expected], atol: tol, "\(weighting) L")
        }
    }

    @Test func unpaired18_2ThroughTheTool() throws {
        let p = [-40.0, -55, -90, -30], ref = [-42.0, -54, -91, -31]
        let e: [[Double]] = [[1, 0], [1, 1], [0, 1], [-1, 0]]
        let items = (0..<4).map { Self.item($0, $0 % 2 == 0 ? "chosen" : "rejected", embedding: e[$0]) }
        let (r, batches, _) = try Self.run(items, ["--layout", "unpaired", "--batch-size", "4", "--micro-batch", "4"])
        #expect(r.status == 0, "\(r.stderr)")
        let b = try #require(batches.first)
        #expect(b.examples.map { $0["status"]!.stringValue! } == ["chosen", "rejected", "chosen", "rejected"])
        let (c, rj) = b.statusSplit(group: 0)
        let ci = c.map { Self.id(b.examples[$0]) }, ri = rj.map { Self.id(b.examples[$0]) }
        let out = try Losses.rpoUnpaired(policyChosen: ci.map { p[$0] }, policyRejected: ri.map { p[$0] },
                                         referenceChosen: ci.map { ref[$0] }, referenceRejected: ri.map { ref[$0] },
                                         weights: b.contrastMatrix(group: 0))
        // §18.2 by item id: chosen 0, 2; rejected 1, 3.
        let w18: [Int: [Int: Double]] = [0: [1: 0.968146, 3: 0.031854], 2: [1: 0.804430, 3: 0.195570]]
        let w = try #require(b.weights?.first)
        for i in 0..<2 { for j in 0..<2 { expectNear([w[i, j]], [w18[ci[i]]![ri[j]]!], atol: 1e-6, "W[\(ci[i])][\(ri[j])]") } }
        expectNear([out.loss], [0.639768], atol: 1e-6, "rpo-unpaired L")
        let rows = [0: 0.624994, 2: 0.654542], gc = [0: -0.010754, 2: -0.011693], gr = [1: 0.019605, 3: 0.002842]
        expectNear(out.losses, ci.map { rows[$0]! }, atol: 1e-6, "rows")
        expectNear(out.dPolicyChosen, ci.map { gc[$0]! }, atol: 1e-6, "dπc")
        expectNear(out.dPolicyRejected, ri.map { gr[$0]! }, atol: 1e-6, "dπr")
        #expect(b.stats?.meanDiagonalWeight == nil, "unpaired matrices have no diagonal")
    }

    @Test func matricesAreTheContrastOfEachMicroBatch() throws {
        // 16 pairs with 384-dim embeddings, 2 micro-batches of 8 per batch, paired and unpaired: every stored
        // matrix is exactly Float(Contrast.embeddingWeights) of its micro-batch's embeddings (computed the same way).
        var rng = RNG(seed: 384)
        let emb = (0..<16).map { _ in (0..<384).map { _ in Double(Float(rng.nextDouble() - 0.5)) } }
        let records = (0..<16).map { Self.pair($0, embedding: emb[$0]) }
        for layout in ["paired", "unpaired"] {
            let (r, batches, _) = try Self.run(records, ["--layout", layout, "--batch-size", "16", "--micro-batch", "8", "--tau", "0.25"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(batches.count == (layout == "paired" ? 1 : 2))
            for b in batches {
                #expect(b.groups == [Array(0..<8), Array(8..<16)])
                for g in 0..<2 {
                    let (c, rj) = layout == "paired" ? (b.groups[g], b.groups[g]) : b.statusSplit(group: g)
                    let expected = try Contrast.embeddingWeights(chosen: c.map { emb[Self.id(b.examples[$0])] },
                                                             rejected: rj.map { emb[Self.id(b.examples[$0])] }, tau: 0.25)
                    // Stored as Float in shortest form: parse back to Float and compare exactly.
                    #expect(b.weights![g].values.map { Float($0) } == expected.values.map { Float($0) }, "\(layout) group \(g)")
                }
            }
        }
    }

    // MARK: - Composition on HH against the official loaders

    static let hhRecords: [JSONObject] = {
        let reader = try! RecordReader(path: TestPaths.fixture("pairs/hh_examples.jsonl.gz"))
        var out: [JSONObject] = []
        while let r = try! reader.read() {
            var p = pair(r["id"]!.intValue!, prompt: r["prompt_id"]!.intValue!, sft: r["sft_target"]!.boolValue!)
            p["dataset"] = r["dataset"]; p["split"] = r["split"]
            out.append(p)
        }
        return out
    }()

    @Test func hhCompositionMatchesTheOfficialLoaders() throws {
        let fixture = try loadJSONFixture("pairs/hh_loaders.json")
        #expect(Self.hhRecords.count == fixture.member("pairs")!.intValue!)
        let sftPairs = Set(Self.hhRecords.filter { $0["sft_target"] == .bool(true) }.map { Self.id($0) })
        for run in fixture.member("runs")!.arrayValue! {
            let layout = run.member("layout")!.stringValue!, bs = run.member("batch_size")!.intValue!
            let epochs = run.member("epochs")!.intValue!, elements = run.member("elements")!.intValue!
            let mb = min(bs, 8)
            let label = "\(layout) batch \(bs)"
            let (r, batches, _) = try Self.run(Self.hhRecords, ["--layout", layout, "--batch-size", "\(bs)", "--micro-batch", "\(mb)",
                                                                "--weighting", layout == "sft" ? "none" : "uniform",
                                                                "--epochs", "\(epochs)", "--seed", "7"])
            #expect(r.status == 0, "\(label): \(r.stderr)")
            #expect(batches.map(\.step) == Array(0..<batches.count), "\(label): steps count up")
            var dropped: [Int] = []
            var orders: [[String]] = []
            for e in 0..<epochs {
                let mine = batches.filter { $0.epoch == e }
                let keys: [String] = mine.flatMap { $0.examples.map { "\(Self.id($0))/\($0["status"]?.stringValue ?? "pair")" } }
                #expect(Set(keys).count == keys.count, "\(label) epoch \(e): every element at most once")
                dropped.append(elements - keys.count)
                orders.append(keys)
                for b in mine {
                    #expect(b.examples.count == bs && b.groups.count == bs / mb)
                    switch layout {
                    case "paired":
                        #expect(b.examples.allSatisfy { $0["chosen_input_ids"] != nil && $0["status"] == nil })
                    case "unpaired":
                        let statuses = b.examples.map { $0["status"]!.stringValue! }
                        #expect(statuses == Array(repeating: ["chosen", "rejected"], count: bs / 2).flatMap { $0 }, "\(label): c, r alternation")
                        for g in 0..<b.groups.count {
                            let s = b.statusSplit(group: g)
                            #expect(s.chosen.count == mb / 2 && s.rejected.count == mb / 2, "\(label): quota per micro-batch")
                        }
                        // Each item carries its own side: marker token ids [id, 0] chosen, [id, 1] rejected, the id
                        // "<pair id>:<side>", sft_target only on the chosen item of an SFT pair.
                        #expect(b.examples.allSatisfy {
                            let side = $0["status"]!.stringValue!
                            return $0["input_ids"] == .ints([Self.id($0), side == "chosen" ? 0 : 1])
                                && $0["id"] == .string("\(Self.id($0)):\(side)") && $0["completion"] == .string("\(side.first!)\(Self.id($0))")
                                && $0["chosen_input_ids"] == nil && $0["rejected_input_ids"] == nil
                                && ($0["sft_target"] == .bool(true)) == (side == "chosen" && sftPairs.contains(Self.id($0)))
                        })
                    default:  // sft
                        #expect(b.examples.allSatisfy { $0["sft_target"] == .bool(true) && $0["status"] == .string("chosen")
                                                        && $0["input_ids"] == .ints([Self.id($0), 0]) && $0["completion"] == .string("c\(Self.id($0))") })
                        let pids = mine.flatMap { $0.examples.map { $0["prompt_id"]!.intValue! } }
                        #expect(Set(pids).count == pids.count, "\(label): one element per prompt per epoch")
                    }
                }
            }
            // Counts identical to the official loaders' on the same data (seed-independent).
            #expect(dropped == run.member("dropped_per_epoch")!.arrayValue!.map { $0.intValue! }, "\(label) dropped")
            #expect((0..<epochs).map { e in batches.filter { $0.epoch == e }.count }
                    == run.member("batches_per_epoch")!.arrayValue!.map { $0.intValue! }, "\(label) batches per epoch")
            #expect(orders[0] != orders[1], "\(label): each epoch reshuffles")
            #expect(r.stderr.contains("dropped \(dropped.reduce(0, +)) "), "\(label): the dropped count is reported: \(r.stderr)")
        }
    }

    @Test func sameSeedSameBytes() throws {
        let records = Array(Self.hhRecords.prefix(500)).enumerated().map { (k, r) -> JSONObject in
            var r = r
            r["prompt_embedding"] = .array([Double(k % 7) + 1, Double(k % 5), 1].map { .double($0) })
            return r
        }
        let args = ["--layout", "paired", "--batch-size", "16", "--micro-batch", "8", "--epochs", "2"]
        let (a, _, _) = try Self.run(records, args + ["--seed", "3"])
        let (b, _, _) = try Self.run(records, args + ["--seed", "3"], viaStdin: true)
        let (c, _, _) = try Self.run(records, args + ["--seed", "4"])
        #expect(a.status == 0 && a.stdout.count > 10_000)
        #expect(a.stdout == b.stdout, "same input and seed: byte-identical output (file or stdin)")
        // Parsing and contrasts run on every thread of the worker team; one thread gives the same bytes.
        let dir1 = TempDir()
        try Data(Self.jsonl(records)).write(to: URL(fileURLWithPath: dir1.file("in.jsonl")))
        let one = try Tools.run("rpo-pairs", args + ["--seed", "3", "--no-compress", dir1.file("in.jsonl")], env: ["RPO_THREADS": "1"])
        #expect(one.stdout == a.stdout, "RPO_THREADS=1 gives the same output")
        #expect(a.stdout != c.stdout, "another seed: another plan")
        // zstd output is deterministic too.
        let dir = TempDir()
        try Data(Self.jsonl(records)).write(to: URL(fileURLWithPath: dir.file("in.jsonl")))
        let z1 = try Tools.run("rpo-pairs", args + [dir.file("in.jsonl"), "-o", dir.file("a.zst")])
        let z2 = try Tools.run("rpo-pairs", args + [dir.file("in.jsonl"), "-o", dir.file("b.zst")])
        #expect(z1.status == 0 && z2.status == 0)
        #expect(FileManager.default.contents(atPath: dir.file("a.zst")) == FileManager.default.contents(atPath: dir.file("b.zst")))
    }

    @Test func maxExamplesAndStats() throws {
        let (r, batches, _) = try Self.run(Array(Self.hhRecords.prefix(300)),
                                           ["--layout", "paired", "--batch-size", "64", "--weighting", "uniform", "--max-examples", "100", "--stats"])
        #expect(r.status == 0 && batches.count == 2, "stops after the batch reaching 100 elements")
        #expect(r.stderr.contains("stopped at --max-examples") && r.stderr.contains("effective beta multiplier 1.0000"), "\(r.stderr)")
        let (few, none, _) = try Self.run(Array(Self.hhRecords.prefix(5)), ["--layout", "paired", "--weighting", "none"])
        #expect(few.status == 0 && none.isEmpty && few.stderr.contains("warning: no batch written"))
    }

    @Test func sftTargetsFollowSftCompletion() throws {
        // SHP/OASST records name their SFT completion "rejected"; AlpacaEval-like records have no rejected side.
        var shp = Self.pair(0, prompt: 1)
        shp["sft_completion"] = .string("rejected")
        var alpaca = Self.pair(1, prompt: 2)
        for k in ["rejected", "rejected_input_ids", "rejected_label_start"] { alpaca[k] = nil }
        let (r, batches, _) = try Self.run([shp, alpaca, Self.pair(2, prompt: 1, sft: false)],
                                           ["--layout", "sft", "--batch-size", "2", "--micro-batch", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let ex = try #require(batches.first).examples.sorted { Self.id($0) < Self.id($1) }
        #expect(ex.map { $0["id"]! } == [.string("0:rejected"), .string("1:chosen")])
        #expect(ex[0]["input_ids"] == .ints([0, 1]) && ex[0]["completion"] == .string("r0") && ex[0]["sft_completion"] == nil)
        #expect(ex.allSatisfy { $0["sft_target"] == .bool(true) })
        var bad = shp
        bad["sft_completion"] = .string("both")
        try Self.expectFailure([bad], ["--layout", "sft", "--batch-size", "1", "--micro-batch", "1"],
                               ["$IN:1: field \"sft_completion\" must be \"chosen\" or \"rejected\""])
        // In the unpaired layout the SFT mark stays with the target item only.
        let (u, ub, _) = try Self.run([shp, Self.pair(3)], ["--layout", "unpaired", "--batch-size", "4", "--micro-batch", "4", "--weighting", "none"])
        #expect(u.status == 0, "\(u.stderr)")
        let marked = try #require(ub.first).examples.filter { $0["sft_target"] == .bool(true) }.map { $0["id"]!.stringValue! }
        #expect(Set(marked) == ["0:rejected", "3:chosen"])
    }

    // MARK: - Errors

    static func expectFailure(_ records: [JSONObject], _ args: [String], status: Int32 = 1, _ fragments: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (r, _, path) = try run(records, args)
        #expect(r.status == status, "exit \(r.status), expected \(status): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stdout.isEmpty, "nothing on stdout after an error", sourceLocation: sourceLocation)
        for f in fragments {
            let text = f.replacingOccurrences(of: "$IN", with: path)
            #expect(r.stderr.contains(text), "stderr \(r.stderr.debugDescription) lacks \(text.debugDescription)", sourceLocation: sourceLocation)
        }
    }

    @Test func badInputIsAClearErrorWithTheRecordNumber() throws {
        let good = (0..<4).map { Self.pair($0, embedding: [1, Double($0), 0]) }
        let paired = ["--layout", "paired", "--batch-size", "2", "--micro-batch", "2"]
        var r = good; r[1]["prompt_embedding"] = nil
        try Self.expectFailure(r, paired, ["rpo-pairs: error: $IN:2: missing field \"prompt_embedding\"", "run rpo-embed"])
        r = good; r[2]["prompt_embedding"] = .array([.double(1), .double(2)])
        try Self.expectFailure(r, paired, ["$IN:3: field \"prompt_embedding\" has 2 values, but record 1 has 3"])
        r = good; r[3]["prompt_embedding"] = .array([.int(0), .int(0), .int(0)])
        try Self.expectFailure(r, paired, ["$IN:4: field \"prompt_embedding\" is a zero vector"])
        r = good; r[0]["prompt_embedding"] = .array([.double(1e39), .int(0), .int(0)])
        try Self.expectFailure(r, paired, ["$IN:1: field \"prompt_embedding\"[0] = 1e+39 is not a finite float32"])
        r = good; r[1]["prompt_embedding"] = .array([.string("NaN"), .int(0), .int(0)])
        try Self.expectFailure(r, paired, ["$IN:2: field \"prompt_embedding\"[0] must be a number, found string"])
        r = good; r[2]["prompt_id"] = nil
        try Self.expectFailure(r, paired, ["$IN:3: missing field \"prompt_id\""])
        r = good; r[3]["rejected_input_ids"] = nil
        try Self.expectFailure(r, paired, ["$IN:4: missing field \"rejected_input_ids\""])
        r = good; r[0]["chosen_label_start"] = .int(5)
        try Self.expectFailure(r, paired, ["$IN:1: field \"chosen_label_start\" = 5 is outside 0...2"])
        r = good; r[1]["chosen_input_ids"] = .array([.int(1), .string("x")])
        try Self.expectFailure(r, paired, ["$IN:2: field \"chosen_input_ids\"[1] must be an integer token id"])
        try Self.expectFailure(good + [Self.item(9, "chosen", embedding: [1, 0, 0])], paired, ["$IN:5: an item record"])
        try Self.expectFailure([Self.item(9, "maybe", embedding: [1, 0, 0])], ["--layout", "unpaired", "--batch-size", "2", "--micro-batch", "2"],
                               ["$IN:1: field \"status\" must be \"chosen\" or \"rejected\""])
        // sft: two targets for one prompt, a prompt without one, a record without the flag.
        let sft = ["--layout", "sft", "--batch-size", "2", "--micro-batch", "1"]
        try Self.expectFailure([Self.pair(0, prompt: 5), Self.pair(1, prompt: 5)], sft,
                               ["$IN:2: a second record with \"sft_target\": true for prompt_id 5 (the first is record 1)"])
        try Self.expectFailure([Self.pair(0, prompt: 5), Self.pair(1, prompt: 6, sft: false), Self.pair(2, prompt: 6, sft: false)], sft,
                               ["$IN:2: prompt_id 6 has no record with \"sft_target\": true"])
        r = [Self.pair(0)]; r[0]["sft_target"] = nil
        try Self.expectFailure(r, sft, ["$IN:1: missing field \"sft_target\""])
        // A pair whose chosen_X collides with a shared field X.
        r = [Self.pair(0), Self.pair(1)]; r[0]["input_ids"] = .ints([1])
        try Self.expectFailure(r, ["--layout", "unpaired", "--batch-size", "2", "--micro-batch", "2", "--weighting", "none"],
                               ["$IN:1: fields \"chosen_input_ids\" and \"input_ids\" would both become \"input_ids\" of the chosen item"])
        // Not JSON, not an object.
        let dir = TempDir()
        try Data("{\"a\":1}\n[1,2]\n".utf8).write(to: URL(fileURLWithPath: dir.file("x.jsonl")))
        let bad = try Tools.run("rpo-pairs", paired + ["--weighting", "none", dir.file("x.jsonl")])
        #expect(bad.status == 1 && bad.stderr.contains("\(dir.file("x.jsonl")):1: missing field \"prompt_id\""), "\(bad.stderr)")
        let notObject = try Tools.run("rpo-pairs", paired + ["--weighting", "none"], stdin: Array("\n[1,2]\n".utf8))
        #expect(notObject.status == 1 && notObject.stderr.contains("<stdin>:2: expected a JSON object, found array"), "\(notObject.stderr)")
        let broken = try Tools.run("rpo-pairs", paired + ["--weighting", "none"], stdin: Array("{\"prompt_id\": 1,\n".utf8))
        #expect(broken.status == 1 && broken.stderr.contains("<stdin>:1: invalid JSON"), "\(broken.stderr)")
    }

    @Test func usageErrorsExit64() throws {
        let good = (0..<4).map { Self.pair($0, embedding: [1, Double($0), 0]) }
        for (args, text) in [(["--layout", "paired", "--batch-size", "10", "--micro-batch", "4"], "not a multiple of --micro-batch 4"),
                             (["--layout", "unpaired", "--batch-size", "6", "--micro-batch", "3"], "must be even"),
                             (["--layout", "sft", "--weighting", "embedding"], "use --weighting none"),
                             (["--layout", "unpaired", "--weighting", "diagonal"], "needs pairs"),
                             (["--layout", "paired", "--tau", "0"], "--tau must be a positive number"),
                             (["--layout", "triplets"], "layout")] {
            try Self.expectFailure(good, args, status: 64, [text])
        }
    }

    @Test func helpShowsTheSchemas() throws {
        let r = try Tools.run("rpo-pairs", ["--help"])
        #expect(r.status == 0)
        for s in ["chosen_input_ids", "\"groups\"", "\"weights\"", "effective_beta_multiplier", "rpo-embed", "Memory:", "--seed"] {
            #expect(r.stdoutText.contains(s), "help lacks \(s)")
        }
    }
}
