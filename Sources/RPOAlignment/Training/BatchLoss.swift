// The loss of one batch record as rpo-train runs it, and the one place a loss kind is dispatched: each group
// (micro-batch) is one upstream rank, whose loss is `losses.mean()` over the group; FSDP averages the ranks'
// gradients, so the step minimises the mean of the group losses. The losses return ∂L/∂(log-prob) per sequence
// and know nothing of the model (CausalLM.backward(dLogProbs:) takes them). Spec: docs/method.md §6, §9.2;
// docs/records.md.
import Foundation
import RPOCore

/// A batch's loss: the groups that count, and the gradient of their mean w.r.t. each sequence's policy log-prob.
public struct BatchLoss: Sendable {
    /// Each group's result, with its index among the batch's groups, in group order; skipped groups left out.
    public var outputs: [(Int, LossOutput)]
    /// Groups the loss skips (RPO-unpaired's rule: no chosen or no rejected item).
    public var skippedGroups: Int
    /// Mean of the counted groups' losses (0 when every group is skipped).
    public var loss: Double
    /// `scale` × ∂(mean loss)/∂(policy log-prob), one per sequence of the batch (KL sequences: 0).
    public var dPolicy: [Double]
    /// True when every group was skipped: upstream would not step at all.
    public var skipped: Bool { outputs.isEmpty }
}

extension TrainBatch {
    /// KTOTrainer's KL estimate (trainers.py:976-1023): clamp(mean(π_KL − ρ_KL), 0) per rank, then across ranks
    /// (the groups) the mean of those, clamped again (`all_reduce` sum / world_size). Detached.
    public func ktoKL(policy P: [Double], reference R: [Double]) -> Double {
        let perGroup = groups.map { g -> Double in
            max(g.kl.reduce(0.0) { $0 + (P[$1] - R[$1]) } / Double(max(g.kl.count, 1)), 0)
        }
        return max(perGroup.reduce(0, +) / Double(perGroup.count), 0)
    }

    /// The official loss `kind` of group `gi` from the sequences' log-probs (`P` policy, `R` reference, one per
    /// sequence); `kl` is kto's batch-level estimate.
    public func groupLoss(_ gi: Int, _ kind: LossKind, parameters p: LossParameters, policy P: [Double],
                          reference R: [Double], kl: Double?) throws(LossError) -> LossOutput {
        let g = groups[gi]
        let pc = g.chosen.map { P[$0] }, pr = g.rejected.map { P[$0] }
        let rc = g.chosen.map { R[$0] }, rr = g.rejected.map { R[$0] }
        switch kind {
        case .sft: return try Losses.sft(policy: pc)
        case .dpo, .ipo, .cdpo:
            return try Losses.paired(kind, policyChosen: pc, policyRejected: pr, referenceChosen: rc,
                                     referenceRejected: rr, parameters: p)
        case .slic: return try Losses.slic(policyChosen: pc, policyRejected: pr, beta: p.beta, lambda: p.lambda)
        case .rpoPaired:
            return try Losses.rpoPaired(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                                        weights: g.weights, beta: p.beta)
        case .rpoDiagonal:
            return try Losses.rpoDiagonal(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                                          beta: p.beta, diagonalWeight: g.diagonalWeight ?? p.diagonalWeight)
        case .rpoUnpaired:
            return try Losses.rpoUnpaired(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                                          weights: g.weights, beta: p.beta)
        case .ktoSimple:
            return try Losses.ktoSimple(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: p.beta)
        case .ktoZero:
            return try Losses.ktoZero(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: p.beta)
        case .kto:
            // The batch-level KL estimate enters as a one-element KL pair (it is detached: nothing flows to it).
            return try Losses.kto(policyChosen: pc, policyRejected: pr, policyKL: [kl ?? 0], referenceChosen: rc,
                                  referenceRejected: rr, referenceKL: [0], beta: p.beta,
                                  desirableWeight: p.desirableWeight, undesirableWeight: p.undesirableWeight)
        }
    }

    /// The loss `kind` of this batch from its sequences' log-probs: every group's loss (kto's KL estimate taken
    /// from the KL sequences), the mean over the groups not skipped, and `scale` × its gradient per sequence.
    /// Errors name the record and the group; `context` is the record's kind in them ("batch record").
    public func loss(_ kind: LossKind, parameters p: LossParameters, policy P: [Double], reference R: [Double],
                     scale: Double = 1, context: String = "batch record") throws -> BatchLoss {
        let S = sequences.count
        guard P.count == S, R.count == S else {
            throw RecordError(source: source, record: record,
                              "\(context): \(P.count) policy and \(R.count) reference log-probs for \(S) sequences")
        }
        let kl = kind == .kto ? ktoKL(policy: P, reference: R) : nil
        var out = BatchLoss(outputs: [], skippedGroups: 0, loss: 0, dPolicy: [Double](repeating: 0, count: S))
        for gi in groups.indices {
            let r: LossOutput
            do { r = try groupLoss(gi, kind, parameters: p, policy: P, reference: R, kl: kl) } catch {
                throw RecordError(source: source, record: record, "\(context): group \(gi): \(error)")
            }
            if r.skipped { out.skippedGroups += 1; continue }
            out.outputs.append((gi, r))
        }
        guard !out.outputs.isEmpty else { return out }
        let s = scale / Double(out.outputs.count)
        for (gi, r) in out.outputs {
            out.loss += r.loss
            let g = groups[gi]
            for (i, q) in g.chosen.enumerated() { out.dPolicy[q] += s * r.dPolicyChosen[i] }
            for (j, q) in g.rejected.enumerated() { out.dPolicy[q] += s * r.dPolicyRejected[j] }
        }
        out.loss /= Double(out.outputs.count)
        return out
    }
}
