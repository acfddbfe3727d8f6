// The RPO losses (trainers.py:772-874 at c1b5163): paired (RPOTrainer), unpaired (RPOUnpairedTrainer) and the
// diagonal-weighting ablation (RPODiagonalTrainer). Spec: docs/method.md §6.6-§6.8.
// Z[i,j] = Δc_i − Δr_j over all chosen × rejected cells of a micro-batch; the contrast weight W[i,j] goes INSIDE
// the sigmoid; each row is averaged over its columns, then the rows are averaged: L = mean_ij −log σ(β W_ij Z_ij).
// No gradient flows through W (the embeddings come from numpy upstream).
import Foundation
import RPOCore

extension Losses {
    /// `rpo-paired` (trainers.py:801-831): B pairs, `weights` the B×B contrast matrix of the micro-batch
    /// (row i = chosen of pair i, column j = rejected of pair j), or nil for the "uniform" path
    /// (`prompts_emb is None`: W = ones, not 1/B; trainers.py:821-822). With B = 1 and W = [[1]] it is DPO exactly.
    /// Gradients: ∂L/∂Z_ij = −(β/B²) W_ij σ(−β W_ij Z_ij); ∂L/∂πc_i = Σ_j ∂L/∂Z_ij; ∂L/∂πr_j = −Σ_i ∂L/∂Z_ij.
    public static func rpoPaired(policyChosen pc: [Double], policyRejected pr: [Double],
                                 referenceChosen rc: [Double], referenceRejected rr: [Double],
                                 weights: ContrastMatrix?, beta: Double = 0.1) throws(LossError) -> LossOutput {
        _ = try LossMath.checkPaired(pc, pr, rc, rr)
        let dc = zip(pc, rc).map { $0 - $1 }, dr = zip(pr, rr).map { $0 - $1 }
        var out = try crossContrast(.rpoPaired, dc, dr, weights: weights, beta: beta)
        out.policyChosen = pc; out.policyRejected = pr
        return out
    }

    /// `rpo-unpaired` (trainers.py:833-874): the micro-batch's chosen items (batch order) against its rejected
    /// items; `weights` is Nc×Nr (rows chosen, columns rejected) or nil for W = ones. With no chosen or no rejected
    /// item upstream returns a zero loss and the step is skipped (`skipped`, loss 0, losses [0], rewards [0]).
    /// Gradients as `rpoPaired` with B² replaced by Nc·Nr, each flowing to the item's own log-prob.
    public static func rpoUnpaired(policyChosen pc: [Double], policyRejected pr: [Double],
                                   referenceChosen rc: [Double], referenceRejected rr: [Double],
                                   weights: ContrastMatrix?, beta: Double = 0.1) throws(LossError) -> LossOutput {
        try LossMath.checkCount(rc, pc.count, "reference chosen", "policy chosen")
        try LossMath.checkCount(rr, pr.count, "reference rejected", "policy rejected")
        for (a, name) in [(pc, "policy chosen"), (pr, "policy rejected"), (rc, "reference chosen"), (rr, "reference rejected")] {
            try LossMath.checkFinite(a, name)
        }
        if pc.isEmpty || pr.isEmpty {
            // trainers.py:845-846: `return torch.Tensor([0]) ×3` → loss 0; the loop's `if loss == 0: continue`.
            return LossOutput(kind: .rpoUnpaired, loss: 0, losses: [0],
                              dPolicyChosen: [Double](repeating: 0, count: pc.count),
                              dPolicyRejected: [Double](repeating: 0, count: pr.count),
                              chosenRewards: [0], rejectedRewards: [0], policyChosen: pc, policyRejected: pr,
                              skipped: true)
        }
        let dc = zip(pc, rc).map { $0 - $1 }, dr = zip(pr, rr).map { $0 - $1 }
        var out = try crossContrast(.rpoUnpaired, dc, dr, weights: weights, beta: beta)
        out.policyChosen = pc; out.policyRejected = pr
        return out
    }

    /// The shared core of RPO paired and unpaired: cells ℓ_ij = −log σ(β W_ij (Δc_i − Δr_j)), row means, mean.
    static func crossContrast(_ kind: LossKind, _ dc: [Double], _ dr: [Double], weights: ContrastMatrix?,
                              beta: Double) throws(LossError) -> LossOutput {
        let nc = dc.count, nr = dr.count
        if let w = weights {
            guard w.rows == nc, w.cols == nr else {
                throw LossError.shapeMismatch("contrast matrix is \(w.rows)×\(w.cols), the micro-batch has \(nc) chosen × \(nr) rejected")
            }
            for (k, x) in w.values.enumerated() where !x.isFinite {
                throw LossError.nonFinite("contrast weight [\(k / nr)][\(k % nr)] is \(x)")
            }
        }
        var rows = [Double](repeating: 0, count: nc)
        var gc = [Double](repeating: 0, count: nc), gr = [Double](repeating: 0, count: nr)
        let cells = Double(nc * nr)
        for i in 0..<nc {
            var rowSum = 0.0
            for j in 0..<nr {
                let wij = weights?.values[i * nr + j] ?? 1
                let x = beta * (wij * (dc[i] - dr[j]))  // upstream: beta * (logits * distance_weights)
                rowSum += LossMath.negLogSigmoid(x)
                let g = -beta * wij * LossMath.sigmoid(-x) / cells
                gc[i] += g
                gr[j] -= g
            }
            rows[i] = rowSum / Double(nr)
        }
        return LossOutput(kind: kind, loss: LossMath.mean(rows), losses: rows, dPolicyChosen: gc, dPolicyRejected: gr,
                          chosenRewards: dc.map { beta * $0 }, rejectedRewards: dr.map { beta * $0 },
                          policyChosen: [], policyRejected: [])
    }

    /// `rpo-diagonal` (trainers.py:772-798): no embeddings; the weights multiply the per-cell LOSSES:
    /// loss_i = α ℓ_ii + (1−α) mean_{j≠i} ℓ_ij with ℓ_ij = −log σ(β Z_ij). Needs B ≥ 2: with one pair the
    /// off-diagonal mean is empty and upstream's loss is NaN, here an error.
    public static func rpoDiagonal(policyChosen pc: [Double], policyRejected pr: [Double],
                                   referenceChosen rc: [Double], referenceRejected rr: [Double],
                                   beta: Double = 0.1, diagonalWeight alpha: Double = 0.8) throws(LossError) -> LossOutput {
        let b = try LossMath.checkPaired(pc, pr, rc, rr)
        if b < 2 {
            throw LossError.undefined("rpo-diagonal needs at least 2 pairs per micro-batch (the off-diagonal mean of 1 pair is empty); got \(b)")
        }
        let dc = zip(pc, rc).map { $0 - $1 }, dr = zip(pr, rr).map { $0 - $1 }
        let off = (1 - alpha) / Double(b - 1)
        var rows = [Double](repeating: 0, count: b), gc = rows, gr = rows
        for i in 0..<b {
            var diag = 0.0, offSum = 0.0
            for j in 0..<b {
                // upstream: (πc_i − πr_j) − (ρc_i − ρr_j); the same Z as rpo-paired up to rounding.
                let z = (pc[i] - pr[j]) - (rc[i] - rr[j])
                let l = LossMath.negLogSigmoid(beta * z)
                let v = i == j ? alpha : off
                if i == j { diag = l } else { offSum += l }
                let g = v * -beta * LossMath.sigmoid(-beta * z) / Double(b)
                gc[i] += g
                gr[j] -= g
            }
            rows[i] = alpha * diag + (1 - alpha) * (offSum / Double(b - 1))
        }
        return LossOutput(kind: .rpoDiagonal, loss: LossMath.mean(rows), losses: rows, dPolicyChosen: gc, dPolicyRejected: gr,
                          chosenRewards: dc.map { beta * $0 }, rejectedRewards: dr.map { beta * $0 },
                          policyChosen: pc, policyRejected: pr)
    }
}
