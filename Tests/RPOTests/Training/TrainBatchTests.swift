// Batch records as the trainer reads them: layouts and weightings that do not fit the loss, malformed groups and
// matrices, token ids outside the vocabulary, kto's KL sequences; and a finite-difference check of the whole
// record-level gradient (loss gradients w.r.t. log-probs seeding the model backward, group averaging) for every loss.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// Expects `body` to throw an error whose description contains every fragment (and reports the message if not).
func expectFailure(_ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch {
        let m = "\(error)"
        #expect(fragments.allSatisfy { m.contains($0) }, "error message: \(m)", sourceLocation: sourceLocation)
    }
}

@Suite struct TrainBatchTests {
    static func record(_ run: String, _ k: Int = 0) throws -> JSONObject {
        let lines = try String(contentsOfFile: TestPaths.fixture("train/\(run)/batches.jsonl"), encoding: .utf8).split(separator: "\n")
        return try JSONParser.parse(String(lines[k])).objectValue!
    }

    static func decode(_ o: JSONObject, _ loss: LossKind, vocab: Int = 64) throws -> TrainBatch {
        try TrainBatch(record: o, source: "batches", record: 7, loss: loss, parameters: LossParameters(), vocabSize: vocab)
    }

    static func expectError(_ o: JSONObject, _ loss: LossKind, _ fragment: String, vocab: Int = 64,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        expectFailure("batches:7: batch record: ", fragment, sourceLocation: sourceLocation) { _ = try decode(o, loss, vocab: vocab) }
    }

    @Test func pairedRecordDecodes() throws {
        let b = try Self.decode(try Self.record("rpo-paired"), .rpoPaired)
        #expect(b.sequences.count == 12 && b.groups.count == 2 && b.layout == .paired && !b.hasReference)
        #expect(b.groups[1].chosen == [6, 8, 10] && b.groups[1].rejected == [7, 9, 11])
        #expect(b.groups[0].weights?.rows == 3 && b.exampleIds[4] == "tiny:train:4:0")
        let u = try Self.decode(try Self.record("rpo-unpaired"), .rpoUnpaired)
        #expect(u.groups.map(\.chosen.count) == [2, 2] && u.groups[0].weights?.cols == 2 && !u.isSingleStatus)
    }

    @Test func layoutMustFitTheLoss() throws {
        Self.expectError(try Self.record("dpo"), .kto, "layout \"paired\" does not fit --loss kto")
        Self.expectError(try Self.record("rpo-unpaired"), .dpo, "layout \"unpaired\" does not fit --loss dpo")
        Self.expectError(try Self.record("dpo"), .sft, "does not fit --loss sft")
        var o = try Self.record("dpo"); o["layout"] = .string("triplets")
        Self.expectError(o, .dpo, "unknown layout \"triplets\"")
    }

    @Test func rpoNeedsItsMatrices() throws {
        var o = try Self.record("rpo-paired")
        o["weights"] = nil
        Self.expectError(o, .rpoPaired, "embedding weighting without \"weights\"")
        o["weighting"] = .string("none")
        Self.expectError(o, .rpoPaired, "rpo-paired needs contrast weights, but the weighting is \"none\"")
        o["weighting"] = .string("uniform")
        #expect(try Self.decode(o, .rpoPaired).groups[0].weights == nil, "uniform: W = ones (nil)")
        var p = try Self.record("rpo-paired")
        var ws = p["weights"]!.arrayValue!
        ws.removeLast()
        p["weights"] = .array(ws)
        Self.expectError(p, .rpoPaired, "1 weight matrices for 2 groups")
        var q = try Self.record("rpo-unpaired")
        q["weights"] = .array([.array([.array([.double(1), .double(0)])]), .array([])])
        Self.expectError(q, .rpoUnpaired, "weights[0] must have 2 rows")
        #expect(try Self.decode(try Self.record("dpo"), .rpoDiagonal).groups[0].diagonalWeight == 0.8)
    }

    /// Contrast weights are a distribution per row: negative values and rows that do not sum to 1 are errors
    /// (a weight of -1e30 would otherwise train, its gradient clipped).
    @Test func contrastRowsMustBeDistributions() throws {
        func edited(_ value: Double, at k: Int = 0) throws -> JSONObject {
            var o = try Self.record("rpo-paired")
            var ws = o["weights"]!.arrayValue!
            var m = ws[0].arrayValue!
            var row = m[0].arrayValue!
            row[k] = .double(value)
            m[0] = .array(row)
            ws[0] = .array(m)
            o["weights"] = .array(ws)
            return o
        }
        Self.expectError(try edited(-1e30), .rpoPaired, "weights[0][0] holds a negative value (-1e+30)")
        Self.expectError(try edited(-0.25, at: 1), .rpoPaired, "weights[0][0] holds a negative value (-0.25)")
        Self.expectError(try edited(7), .rpoPaired, "weights[0][0] sums to")
        // A row off by float32 rounding is accepted.
        let o = try Self.record("rpo-paired")
        let row = o["weights"]!.arrayValue![0].arrayValue![0].arrayValue!.map { $0.doubleValue! }
        #expect(abs(row.reduce(0, +) - 1) < 1e-5, "the fixture's rows are distributions")
        _ = try Self.decode(try edited(row[0] + 1e-6), .rpoPaired)
    }

    @Test func tokenIdsOutsideTheVocabularyAreNamed() throws {
        var o = try Self.record("dpo")
        var exs = o["examples"]!.arrayValue!
        var e = exs[2].objectValue!
        var ids = e["rejected_input_ids"]!.arrayValue!
        ids[1] = .int(64)
        e["rejected_input_ids"] = .array(ids)
        exs[2] = .object(e)
        o["examples"] = .array(exs)
        Self.expectError(o, .dpo, "examples[2] (tiny:train:2:0) rejected_input_ids[1]: token id 64 is outside the model's vocabulary (0..<64)")
        ids[1] = .int(-1)
        e["rejected_input_ids"] = .array(ids)
        exs[2] = .object(e)
        o["examples"] = .array(exs)
        Self.expectError(o, .dpo, "token id -1 is outside")
    }

    @Test func malformedRecordsAreNamed() throws {
        var o = try Self.record("dpo")
        o["groups"] = .array([.array([.int(0), .int(1)]), .array([.int(1), .int(2)])])
        Self.expectError(o, .dpo, "exactly once (position 1)")
        o["groups"] = .array([.array([.int(0), .int(1)])])
        Self.expectError(o, .dpo, "groups leave example positions out")
        var p = try Self.record("dpo")
        var exs = p["examples"]!.arrayValue!
        var e = exs[0].objectValue!
        e["chosen_label_start"] = .int(99)
        exs[0] = .object(e)
        p["examples"] = .array(exs)
        Self.expectError(p, .dpo, "chosen_label_start 99 is outside")
        var u = try Self.record("rpo-unpaired")
        var items = u["examples"]!.arrayValue!
        var it = items[3].objectValue!
        it["status"] = .string("maybe")
        items[3] = .object(it)
        u["examples"] = .array(items)
        Self.expectError(u, .rpoUnpaired, "status \"maybe\" is neither")
        var n = try Self.record("dpo"); n["examples"] = .array([])
        Self.expectError(n, .dpo, "0 examples, batch_size 4")
        expectFailure("missing field \"step\"") { _ = try Self.decode(JSONObject([("layout", .string("paired"))]), .dpo) }
    }

    @Test func ktoBuildsTheMismatchedPairs() throws {
        let b = try Self.decode(try Self.record("rpo-unpaired"), .kto)
        let items = try Self.record("rpo-unpaired")["examples"]!.arrayValue!.map { $0.objectValue! }
        #expect(b.sequences.count == 16 && b.groups.allSatisfy { $0.kl.count == 4 })
        // item k's prompt with item k+1's completion (the last wraps to item 0), scored from k's label start
        for k in 0..<8 {
            let kl = b.sequences[b.groups[k / 4].kl[k % 4]]
            let a = items[k], n = items[(k + 1) % 8]
            let pa = Array(a["input_ids"]!.arrayValue!.map { $0.intValue! }.prefix(a["label_start"]!.intValue!))
            let cn = Array(n["input_ids"]!.arrayValue!.map { $0.intValue! }.dropFirst(n["label_start"]!.intValue!))
            #expect(kl.tokens.inputIds == pa + cn && kl.tokens.labelStart == pa.count && kl.role == .kl && kl.example == k)
        }
    }

    // MARK: - Finite differences through the whole record

    /// The record-level objective the trainer differentiates: the mean over groups of each group's loss, from fresh
    /// log-probs (kto's KL estimate held at `kl`, as upstream detaches it).
    static func objective(_ t: Trainer, _ ref: CausalLM, _ b: TrainBatch, kl: Double?) throws -> Double {
        let seqs = b.sequences.map(\.tokens)
        let P = try t.policy.sequenceLogProbs(seqs)
        let R = try ref.sequenceLogProbs(seqs)
        var sum = 0.0, n = 0
        for gi in b.groups.indices {
            let out = try b.groupLoss(gi, t.configuration.loss, parameters: t.configuration.parameters, policy: P,
                                      reference: R, kl: kl)
            if out.skipped { continue }
            sum += out.loss
            n += 1
        }
        return sum / Double(n)
    }

    static let fdCases: [(LossKind, String)] = [
        (.sft, "sft"), (.dpo, "rpo-paired"), (.ipo, "rpo-paired"), (.cdpo, "rpo-paired"), (.slic, "rpo-paired"),
        (.rpoPaired, "rpo-paired"), (.rpoDiagonal, "rpo-paired"), (.rpoUnpaired, "rpo-unpaired"),
        (.kto, "rpo-unpaired"), (.ktoSimple, "rpo-unpaired"), (.ktoZero, "rpo-unpaired"),
    ]

    @Test(arguments: fdCases)
    func recordGradientMatchesFiniteDifferences(_ loss: LossKind, _ run: String) throws {
        var c = TrainerConfiguration(loss: loss)
        c.parameters.beta = loss == .slic ? 1.0 : 0.5  // a larger β makes every loss's gradient well above fp32 noise
        let t = try Trainer(policy: try TrainFixture.model(), configuration: c,
                            provenance: RunProvenance(model: "tiny", reference: "tiny", referenceFingerprint: nil),
                            referenceLoader: { try TrainFixture.model() })
        // Move the policy away from the reference (Δ ≠ 0: no clamp or hinge sits exactly at its kink).
        var rng = RNG(seed: 5)
        let p = t.policy.parameters.pointer
        for i in 0..<t.policy.layout.count { p[i] += (rng.nextFloat() - 0.5) * 0.05 }
        let ref = try TrainFixture.model()
        let b = try TrainBatch(record: try Self.record(run), source: run, record: 1, loss: loss, parameters: c.parameters,
                               vocabSize: 64)
        t.policy.zeroGrad()
        _ = try #require(try t.process(b, scale: 1, sinks: TrainerSinks(metrics: { _ in })))
        let g = t.policy.gradients!.pointer
        let P0 = try t.policy.sequenceLogProbs(b.sequences.map(\.tokens)), R0 = try ref.sequenceLogProbs(b.sequences.map(\.tokens))
        let kl = loss == .kto ? b.ktoKL(policy: P0, reference: R0) : nil
        // The largest gradient entry of a few tensors across the model.
        for name in ["embed", "layers.0.qkv.weight", "layers.1.up.weight", "layers.1.down.weight", "final_norm.weight", "lm_head"] {
            let e = try #require(t.policy.layout.entry(name))
            var best = e.offset
            for i in e.offset..<(e.offset + e.count) where abs(g[i]) > abs(g[best]) { best = i }
            let theta = p[best], h: Float = 3e-3
            p[best] = theta + h
            let up = try Self.objective(t, ref, b, kl: kl)
            let hiStep = p[best]
            p[best] = theta - h
            let down = try Self.objective(t, ref, b, kl: kl)
            let loStep = p[best]
            p[best] = theta
            let fd = (up - down) / Double(hiStep - loStep)
            let a = Double(g[best])
            // Central differences in a fp32 network: O(h²) truncation and fp32 rounding of the log-probs, ~1% here.
            #expect(abs(fd - a) <= 0.02 * abs(a) + 1e-5, "\(loss.rawValue) \(name): analytic \(a), finite difference \(fd)")
        }
    }
}
