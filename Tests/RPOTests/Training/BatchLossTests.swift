// The batch-level loss rpo-train runs (TrainBatch.loss: group losses averaged over groups, gradients mapped back
// to the sequences) against the per-group losses, central finite differences, the skipped-group rule and the
// checks that a loss fits its batch. The batches are rpo-pairs' records (TrainingBatch) decoded as the trainer
// decodes them; the log-probs are given per example position and mapped to the batch's sequences.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct BatchLossTests {
    static func examples(_ statuses: [String?]) -> [JSONObject] {
        statuses.enumerated().map { k, s in
            var o = JSONObject([("id", .int(k)), ("prompt_id", .int(k))])
            if let s = s { o["status"] = .string(s) }
            return o
        }
    }

    static func batch(_ layout: BatchLayout, _ weighting: ContrastWeighting, statuses: [String?], microBatch: Int,
                      weights: [ContrastMatrix]? = nil, diagonalWeight: Double? = nil) -> TrainingBatch {
        TrainingBatch(step: 0, epoch: 0, layout: layout, weighting: weighting, tau: weighting == .embedding ? 0.5 : nil,
                      diagonalWeight: diagonalWeight, batchSize: statuses.count, microBatch: microBatch,
                      groups: BatchPlanner.groups(batchSize: statuses.count, microBatch: microBatch), weights: weights,
                      stats: nil, examples: examples(statuses))
    }

    /// Per-sequence log-probs of a batch, by example position: the chosen and rejected sequence of each pair
    /// (paired layout), or one sequence per item in `policyChosen` / `referenceChosen` (sft, unpaired).
    struct LogProbs {
        var policyChosen: [Double]
        var policyRejected: [Double] = []
        var referenceChosen: [Double] = []
        var referenceRejected: [Double] = []
    }

    /// The loss's result by example position (what the old record-level dispatcher returned): the gradient of
    /// a pair's chosen sequence or of an item, and of a pair's rejected sequence (zeros for items).
    struct Result {
        var loss: Double
        var dPolicyChosen: [Double]
        var dPolicyRejected: [Double]
        var outputs: [(Int, LossOutput)]
        var skippedGroups: Int
        var skipped: Bool { outputs.isEmpty }
        func metrics() -> [Metric] {
            var names: [String] = [], values: [String: [Double]] = [:]
            for (_, g) in outputs {
                for m in g.metrics(mode: "train") {
                    if values[m.name] == nil { names.append(m.name) }
                    values[m.name, default: []] += m.values
                }
            }
            return names.map { Metric($0, values[$0]!) }
        }
    }

    /// `b` as rpo-train decodes it for `kind` (each example given two tokens so that it decodes), then the loss
    /// rpo-train runs, from `lp` mapped to the batch's sequences.
    static func loss(_ b: TrainingBatch, _ kind: LossKind, parameters p: LossParameters, logProbs lp: LogProbs) throws -> Result {
        var record = b.record()
        record["examples"] = .array(b.examples.map { e in
            var e = e
            if b.layout == .paired {
                for side in ["chosen", "rejected"] {
                    e["\(side)_input_ids"] = .array([.int(1), .int(2)]); e["\(side)_label_start"] = .int(1)
                }
            } else {
                e["input_ids"] = .array([.int(1), .int(2)]); e["label_start"] = .int(1)
            }
            return .object(e)
        })
        let t = try TrainBatch(record: record, source: "t", record: 1, loss: kind, parameters: p, vocabSize: 4)
        let n = b.examples.count, paired = b.layout == .paired
        var P = [Double](repeating: 0, count: t.sequences.count), R = P
        for (i, q) in t.sequences.enumerated() where q.role != .kl {
            let rejected = paired && q.role == .rejected
            P[i] = (rejected ? lp.policyRejected : lp.policyChosen)[q.example]
            let r = rejected ? lp.referenceRejected : lp.referenceChosen
            R[i] = r.isEmpty ? 0 : r[q.example]
        }
        let out = try t.loss(kind, parameters: p, policy: P, reference: R)
        var res = Result(loss: out.loss, dPolicyChosen: [Double](repeating: 0, count: n),
                         dPolicyRejected: [Double](repeating: 0, count: n), outputs: out.outputs,
                         skippedGroups: out.skippedGroups)
        for (i, q) in t.sequences.enumerated() where q.role != .kl {
            if paired && q.role == .rejected { res.dPolicyRejected[q.example] = out.dPolicy[i] } else { res.dPolicyChosen[q.example] = out.dPolicy[i] }
        }
        return res
    }

    /// The contrast matrices as the batch's record carries them (what rpo-train reads; the record's JSON rounds them).
    static func recordWeights(_ b: TrainingBatch) throws -> [ContrastMatrix] {
        try #require(try TrainingBatch(record: b.record(), source: "t", record: 1).weights)
    }

    static func randomLogProbs(_ n: Int, _ rng: inout RNG) -> LogProbs {
        let pc = (0..<n).map { _ in -150 * rng.nextDouble() - 5 }, pr = (0..<n).map { _ in -150 * rng.nextDouble() - 5 }
        return LogProbs(policyChosen: pc, policyRejected: pr,
                        referenceChosen: pc.map { $0 + 30 * (rng.nextDouble() - 0.5) },
                        referenceRejected: pr.map { $0 + 30 * (rng.nextDouble() - 0.5) })
    }

    /// Central differences of the batch loss w.r.t. every policy log-prob against its analytic gradient
    /// (tolerances as LossGradientTests: atol 1e-9·max(1, |L|), rtol 1e-7).
    static func checkFiniteDifferences(_ b: TrainingBatch, _ kind: LossKind, _ lp: LogProbs, rejectedToo: Bool,
                                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let p = kind.defaults, h = 1e-6
        let out = try loss(b, kind, parameters: p, logProbs: lp)
        var numC: [Double] = [], numR: [Double] = []
        for k in 0..<b.batchSize {
            var up = lp, down = lp
            up.policyChosen[k] += h; down.policyChosen[k] -= h
            numC.append((try loss(b, kind, parameters: p, logProbs: up).loss - loss(b, kind, parameters: p, logProbs: down).loss) / (2 * h))
            if rejectedToo {
                up = lp; down = lp
                up.policyRejected[k] += h; down.policyRejected[k] -= h
                numR.append((try loss(b, kind, parameters: p, logProbs: up).loss - loss(b, kind, parameters: p, logProbs: down).loss) / (2 * h))
            }
        }
        let atol = 1e-9 * max(1, abs(out.loss))
        expectNear(out.dPolicyChosen, numC, atol: atol, rtol: 1e-7, "\(kind.rawValue) ∂/∂πc", sourceLocation: sourceLocation)
        if rejectedToo { expectNear(out.dPolicyRejected, numR, atol: atol, rtol: 1e-7, "\(kind.rawValue) ∂/∂πr", sourceLocation: sourceLocation) }
    }

    @Test func pairedBatchIsTheMeanOfItsGroups() throws {
        var rng = RNG(seed: 31)
        let emb = (0..<8).map { _ in (0..<6).map { _ in rng.nextDouble() - 0.5 } }
        let w = [try Contrast.embeddingWeights(chosen: Array(emb[0..<4]), rejected: Array(emb[0..<4]), tau: 0.5),
                 try Contrast.embeddingWeights(chosen: Array(emb[4..<8]), rejected: Array(emb[4..<8]), tau: 0.5)]
        let b = Self.batch(.paired, .embedding, statuses: Array(repeating: nil, count: 8), microBatch: 4, weights: w)
        let wr = try Self.recordWeights(b)
        let lp = Self.randomLogProbs(8, &rng)
        let out = try Self.loss(b, .rpoPaired, parameters: LossParameters(), logProbs: lp)
        let g = try (0..<2).map { g in
            try Losses.rpoPaired(policyChosen: Array(lp.policyChosen[(4 * g)..<(4 * g + 4)]), policyRejected: Array(lp.policyRejected[(4 * g)..<(4 * g + 4)]),
                                 referenceChosen: Array(lp.referenceChosen[(4 * g)..<(4 * g + 4)]), referenceRejected: Array(lp.referenceRejected[(4 * g)..<(4 * g + 4)]),
                                 weights: wr[g])
        }
        #expect(out.loss == (g[0].loss + g[1].loss) / 2)
        #expect(out.dPolicyChosen == (g[0].dPolicyChosen + g[1].dPolicyChosen).map { $0 / 2 })
        #expect(out.dPolicyRejected == (g[0].dPolicyRejected + g[1].dPolicyRejected).map { $0 / 2 })
        #expect(out.metrics().allSatisfy { $0.values.count == 8 }, "per-example lists of both groups")
        for kind in [LossKind.rpoPaired, .dpo, .ipo, .cdpo, .slic, .rpoDiagonal] {
            var bk = b
            if kind == .rpoDiagonal { bk.weighting = .diagonal; bk.diagonalWeight = 0.7; bk.weights = nil }
            try Self.checkFiniteDifferences(bk, kind, lp, rejectedToo: true)
        }
        var uniform = b
        uniform.weighting = .uniform; uniform.weights = nil
        try Self.checkFiniteDifferences(uniform, .rpoPaired, lp, rejectedToo: true)
    }

    @Test func unpairedBatchSplitsEachGroupByStatus() throws {
        var rng = RNG(seed: 32)
        let st: [String?] = ["chosen", "rejected", "chosen", "rejected", "chosen", "rejected", "chosen", "rejected"]
        let emb = (0..<8).map { _ in (0..<5).map { _ in rng.nextDouble() - 0.5 } }
        let w = [try Contrast.embeddingWeights(chosen: [emb[0], emb[2]], rejected: [emb[1], emb[3]], tau: 0.5),
                 try Contrast.embeddingWeights(chosen: [emb[4], emb[6]], rejected: [emb[5], emb[7]], tau: 0.5)]
        let b = Self.batch(.unpaired, .embedding, statuses: st, microBatch: 4, weights: w)
        let wr = try Self.recordWeights(b)
        let lp = Self.randomLogProbs(8, &rng)
        let out = try Self.loss(b, .rpoUnpaired, parameters: LossParameters(), logProbs: lp)
        let direct = try Losses.rpoUnpaired(policyChosen: [lp.policyChosen[4], lp.policyChosen[6]], policyRejected: [lp.policyChosen[5], lp.policyChosen[7]],
                                            referenceChosen: [lp.referenceChosen[4], lp.referenceChosen[6]],
                                            referenceRejected: [lp.referenceChosen[5], lp.referenceChosen[7]], weights: wr[1])
        expectNear([out.dPolicyChosen[5], out.dPolicyChosen[6]], [direct.dPolicyRejected[0] / 2, direct.dPolicyChosen[1] / 2], atol: 0, "positions")
        #expect(out.dPolicyRejected.allSatisfy { $0 == 0 }, "items keep their gradient with their own position")
        for kind in [LossKind.rpoUnpaired, .ktoSimple, .ktoZero] { try Self.checkFiniteDifferences(b, kind, lp, rejectedToo: false) }
        // sft trains on the same items as an sft batch (every item a target).
        var sft = b
        sft.layout = .sft; sft.weighting = .none; sft.weights = nil; sft.tau = nil
        try Self.checkFiniteDifferences(sft, .sft, lp, rejectedToo: false)
    }

    @Test func skippedGroupsDoNotCount() throws {
        var rng = RNG(seed: 33)
        // Group 0 holds two chosen items: RPO-unpaired skips it (upstream's zero loss and `continue`).
        let b = Self.batch(.unpaired, .uniform, statuses: ["chosen", "chosen", "chosen", "rejected"], microBatch: 2)
        let lp = Self.randomLogProbs(4, &rng)
        let out = try Self.loss(b, .rpoUnpaired, parameters: LossParameters(), logProbs: lp)
        let g1 = try Losses.rpoUnpaired(policyChosen: [lp.policyChosen[2]], policyRejected: [lp.policyChosen[3]],
                                        referenceChosen: [lp.referenceChosen[2]], referenceRejected: [lp.referenceChosen[3]], weights: nil)
        #expect(out.skippedGroups == 1 && !out.skipped && out.loss == g1.loss)
        #expect(out.dPolicyChosen[0] == 0 && out.dPolicyChosen[1] == 0 && out.dPolicyChosen[2] == g1.dPolicyChosen[0])
        let all = try Self.loss(Self.batch(.unpaired, .uniform, statuses: ["chosen", "chosen"], microBatch: 2),
                                .rpoUnpaired, parameters: LossParameters(), logProbs: Self.randomLogProbs(2, &rng))
        #expect(all.skipped && all.loss == 0 && all.dPolicyChosen == [0, 0] && all.metrics().isEmpty)
    }

    @Test func section18ThroughABatchRecord() throws {
        let emb: [[Double]] = [[1, 0, 0], [0.8, 0.6, 0], [0, 0, 2]]
        let w = try Contrast.embeddingWeights(chosen: emb, rejected: emb, tau: 0.5)
        let b = Self.batch(.paired, .embedding, statuses: [nil, nil, nil], microBatch: 3, weights: [w])
        let lp = LogProbs(policyChosen: [-50, -80, -120], policyRejected: [-60, -70, -130],
                          referenceChosen: [-52, -79, -121], referenceRejected: [-58, -71, -126])
        let decoded = try TrainingBatch(record: b.record(), source: "t", record: 1)
        expectNear([try Self.loss(decoded, .rpoPaired, parameters: LossParameters(), logProbs: lp).loss], [0.658560], atol: 1e-6, "rpo-paired L")
    }

    @Test func lossesMustFitTheBatch() throws {
        var rng = RNG(seed: 34)
        let paired = Self.batch(.paired, .none, statuses: [nil, nil], microBatch: 2)
        let unpaired = Self.batch(.unpaired, .none, statuses: ["chosen", "rejected"], microBatch: 2)
        let lp = Self.randomLogProbs(2, &rng)
        for (b, kind, text) in [(paired, LossKind.rpoPaired, "needs contrast weights"), (paired, .rpoUnpaired, "trains on unpaired batches"),
                                (unpaired, .dpo, "trains on paired batches"), (paired, .sft, "trains on sft batches"),
                                (unpaired, .rpoUnpaired, "needs contrast weights")] {
            do {
                _ = try Self.loss(b, kind, parameters: LossParameters(), logProbs: lp)
                Issue.record("\(kind.rawValue) accepted on a \(b.layout.rawValue)/\(b.weighting.rawValue) batch")
            } catch {
                #expect("\(error)".contains(text), "\(error)")
            }
        }
        // Log-probs that are not one per sequence.
        let record = try TrainBatch(record: {
            var r = paired.record()
            r["examples"] = .array(paired.examples.map { e in
                var e = e
                for side in ["chosen", "rejected"] { e["\(side)_input_ids"] = .array([.int(1), .int(2)]); e["\(side)_label_start"] = .int(1) }
                return .object(e)
            })
            return r
        }(), source: "t", record: 1, loss: .dpo, parameters: LossParameters(), vocabSize: 4)
        #expect(throws: RecordError.self) {
            try record.loss(.dpo, parameters: LossParameters(), policy: [-1], reference: [-1])
        }
    }
}
