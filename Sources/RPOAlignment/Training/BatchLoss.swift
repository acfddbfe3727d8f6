// The loss of one batch record (rpo-pairs' output) for rpo-train: each group (micro-batch) is one upstream rank,
// whose loss is `losses.mean()` over the group; FSDP averages the ranks' gradients, so the step minimises the mean
// of the group losses. Gradients come back per example position. Spec: docs/method.md §6, §9.2; docs/records.md.
import Foundation
import RPOCore

/// Per-sequence log-probs of a batch, indexed by example position. Paired layout: the chosen and rejected
/// sequence of each pair. sft and unpaired layouts: one sequence per item, in `policyChosen`/`referenceChosen`
/// (the `rejected` arrays are unused and may be empty). `reference*` may be empty for SFT and SLiC.
public struct BatchLogProbs: Sendable {
    public var policyChosen: [Double]
    public var policyRejected: [Double]
    public var referenceChosen: [Double]
    public var referenceRejected: [Double]

    public init(policyChosen: [Double], policyRejected: [Double] = [], referenceChosen: [Double] = [],
                referenceRejected: [Double] = []) {
        self.policyChosen = policyChosen; self.policyRejected = policyRejected
        self.referenceChosen = referenceChosen; self.referenceRejected = referenceRejected
    }
}

public struct BatchLossOutput: Sendable {
    /// Mean of the group losses over the groups not skipped (0 when all are skipped).
    public var loss: Double
    /// ∂loss/∂(policy log-prob) per example position: the chosen sequence of a pair, or the item.
    public var dPolicyChosen: [Double]
    /// ∂loss/∂(policy log-prob of the rejected sequence) per pair (paired layout; zeros otherwise).
    public var dPolicyRejected: [Double]
    /// Each group's own result, in group order (for metrics and per-example telemetry).
    public var groups: [LossOutput]
    /// Groups skipped by RPO-unpaired's rule (no chosen or no rejected item).
    public var skippedGroups: Int
    /// True when every group was skipped: upstream would not step at all.
    public var skipped: Bool { skippedGroups == groups.count }

    /// The per-example metric lists of all groups, concatenated in group order (upstream's all-gather).
    public func metrics(mode: String = "train") -> [Metric] {
        var names: [String] = [], values: [String: [Double]] = [:]
        for g in groups {
            for m in g.metrics(mode: mode) {
                if values[m.name] == nil { names.append(m.name) }
                values[m.name, default: []] += m.values
            }
        }
        return names.map { Metric($0, values[$0]!) }
    }
}

extension TrainingBatch {
    /// The loss `kind` over this batch, group by group, with the contrast its record carries (rpo-paired takes the
    /// embedding weights or ones per `weighting`; rpo-diagonal takes the record's `diagonal_weight`, else
    /// `parameters.diagonalWeight`). `kto` needs its mismatched KL sequences and is not computed here
    /// (use `Losses.kto`).
    public func loss(_ kind: LossKind, parameters p: LossParameters, logProbs lp: BatchLogProbs) throws(LossError) -> BatchLossOutput {
        let n = examples.count
        func need(_ a: [Double], _ name: String) throws(LossError) {
            if a.count != n { throw LossError.shapeMismatch("\(name) has \(a.count) values for a batch of \(n)") }
        }
        try need(lp.policyChosen, "policy chosen")
        if kind.usesReference { try need(lp.referenceChosen, "reference chosen") }
        let pairedKinds: Set<LossKind> = [.dpo, .ipo, .cdpo, .slic, .rpoPaired, .rpoDiagonal]
        switch kind {
        case _ where pairedKinds.contains(kind):
            guard layout == .paired else { throw LossError.undefined("\(kind.rawValue) needs a paired batch, this one is \(layout.rawValue)") }
            try need(lp.policyRejected, "policy rejected")
            if kind.usesReference { try need(lp.referenceRejected, "reference rejected") }
        case .sft:
            guard layout != .paired else { throw LossError.undefined("sft trains on items (sft or unpaired batches), this batch is paired") }
        case .rpoUnpaired, .ktoSimple, .ktoZero:
            guard layout == .unpaired else { throw LossError.undefined("\(kind.rawValue) needs an unpaired batch, this one is \(layout.rawValue)") }
        default:
            throw LossError.undefined("\(kind.rawValue) needs its KL sequences: compute it with Losses.kto")
        }
        if kind == .rpoPaired && !(weighting == .embedding || weighting == .uniform) {
            throw LossError.undefined("rpo-paired needs embedding or uniform weighting, this batch has \(weighting.rawValue)")
        }
        if kind == .rpoUnpaired && !(weighting == .embedding || weighting == .uniform) {
            throw LossError.undefined("rpo-unpaired needs embedding or uniform weighting, this batch has \(weighting.rawValue)")
        }

        var out = BatchLossOutput(loss: 0, dPolicyChosen: [Double](repeating: 0, count: n),
                                  dPolicyRejected: [Double](repeating: 0, count: n), groups: [], skippedGroups: 0)
        // Each group's gradient lands on its own positions: `dc` per chosen/item position, `dr` per rejected.
        var contributions: [(positions: [Int], dc: [Double], rejected: [Int], dr: [Double])] = []
        for g in 0..<groups.count {
            let pos = groups[g]
            let pick = { (a: [Double], at: [Int]) in at.map { a[$0] } }
            let r: LossOutput
            var chosenPos = pos, rejectedPos = pos
            switch kind {
            case .sft:
                r = try Losses.sft(policy: pick(lp.policyChosen, pos))
                rejectedPos = []
            case .dpo, .ipo, .cdpo:
                r = try Losses.paired(kind, policyChosen: pick(lp.policyChosen, pos), policyRejected: pick(lp.policyRejected, pos),
                                      referenceChosen: pick(lp.referenceChosen, pos), referenceRejected: pick(lp.referenceRejected, pos),
                                      parameters: p)
            case .slic:
                r = try Losses.slic(policyChosen: pick(lp.policyChosen, pos), policyRejected: pick(lp.policyRejected, pos),
                                    beta: p.beta, lambda: p.lambda)
            case .rpoPaired:
                r = try Losses.rpoPaired(policyChosen: pick(lp.policyChosen, pos), policyRejected: pick(lp.policyRejected, pos),
                                         referenceChosen: pick(lp.referenceChosen, pos), referenceRejected: pick(lp.referenceRejected, pos),
                                         weights: contrastMatrix(group: g), beta: p.beta)
            case .rpoDiagonal:
                r = try Losses.rpoDiagonal(policyChosen: pick(lp.policyChosen, pos), policyRejected: pick(lp.policyRejected, pos),
                                           referenceChosen: pick(lp.referenceChosen, pos), referenceRejected: pick(lp.referenceRejected, pos),
                                           beta: p.beta, diagonalWeight: diagonalWeight ?? p.diagonalWeight)
            default:  // the unpaired losses: items split by status within the group
                let s = statusSplit(group: g)
                chosenPos = s.chosen; rejectedPos = s.rejected
                let (pc, pr) = (pick(lp.policyChosen, s.chosen), pick(lp.policyChosen, s.rejected))
                let (rc, rr) = (pick(lp.referenceChosen, s.chosen), pick(lp.referenceChosen, s.rejected))
                switch kind {
                case .rpoUnpaired:
                    r = try Losses.rpoUnpaired(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                                               weights: contrastMatrix(group: g), beta: p.beta)
                case .ktoSimple: r = try Losses.ktoSimple(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: p.beta)
                default: r = try Losses.ktoZero(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: p.beta)
                }
            }
            out.groups.append(r)
            if r.skipped { out.skippedGroups += 1; continue }
            contributions.append((chosenPos, r.dPolicyChosen, rejectedPos, r.dPolicyRejected))
            out.loss += r.loss
        }
        let active = Double(contributions.count)
        guard active > 0 else { return out }
        out.loss /= active
        let itemLayout = layout != .paired
        for c in contributions {
            for (k, i) in c.positions.enumerated() { out.dPolicyChosen[i] += c.dc[k] / active }
            // Items: a rejected item's gradient is its own sequence's, stored with the chosen/item positions.
            for (k, i) in c.rejected.enumerated() {
                if itemLayout { out.dPolicyChosen[i] += c.dr[k] / active } else { out.dPolicyRejected[i] += c.dr[k] / active }
            }
        }
        return out
    }
}
