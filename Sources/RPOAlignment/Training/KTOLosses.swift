// The KTO family of the official code (trainers.py:896-1093 at c1b5163): `kto` (KTOTrainer, with a detached KL
// estimate from mismatched pairs), `kto-simple` (SimpleKTOTrainer, KL terms from the batch itself, NOT detached)
// and `kto-zero` (KTOZeroTrainer, reference point 0). Spec: docs/method.md §6.10-§6.11.
// Per-example losses are concat(chosen losses, rejected losses), N = Nc + Nr, L = mean. σ'(u) = σ(u)σ(−u).
import Foundation
import RPOCore

extension Losses {
    /// `kto` (trainers.py:924-1063): KL = clamp(mean(π_KL − ρ_KL), min 0), detached (single device: no all-reduce);
    /// chosen losses w_D(1 − σ(β(Δc − KL))), rejected losses w_U(1 − σ(β(KL − Δr))).
    /// ∂L/∂πc_i = −(β w_D/N) σ'(β(Δc_i − KL)), ∂L/∂πr_j = +(β w_U/N) σ'(β(KL − Δr_j)); nothing flows to π_KL.
    /// Either side may be empty (upstream's empty-tensor branches); both empty is an error.
    public static func kto(policyChosen pc: [Double], policyRejected pr: [Double], policyKL pk: [Double],
                           referenceChosen rc: [Double], referenceRejected rr: [Double], referenceKL rk: [Double],
                           beta: Double = 0.1, desirableWeight wd: Double = 1, undesirableWeight wu: Double = 1) throws(LossError) -> LossOutput {
        try checkUnpaired(pc, pr, rc, rr)
        try LossMath.checkCount(rk, pk.count, "reference KL", "policy KL")
        try LossMath.checkFinite(pk, "policy KL"); try LossMath.checkFinite(rk, "reference KL")
        if pk.isEmpty { throw LossError.shapeMismatch("kto needs the mismatched KL sequences (none given)") }
        let n = pc.count + pr.count
        if n == 0 { throw LossError.shapeMismatch("kto needs at least one chosen or rejected item") }
        let kl = max(LossMath.mean(zip(pk, rk).map { $0 - $1 }), 0)
        let dc = zip(pc, rc).map { $0 - $1 }, dr = zip(pr, rr).map { $0 - $1 }
        var losses: [Double] = [], gc: [Double] = [], gr: [Double] = []
        for d in dc {
            let u = beta * (d - kl)
            losses.append(wd * (1 - LossMath.sigmoid(u)))
            gc.append(-beta * wd * LossMath.sigmoid(u) * LossMath.sigmoid(-u) / Double(n))
        }
        for d in dr {
            let v = beta * (kl - d)
            losses.append(wu * (1 - LossMath.sigmoid(v)))
            gr.append(beta * wu * LossMath.sigmoid(v) * LossMath.sigmoid(-v) / Double(n))
        }
        return LossOutput(kind: .kto, loss: LossMath.mean(losses), losses: losses, dPolicyChosen: gc, dPolicyRejected: gr,
                          chosenRewards: dc.map { beta * $0 }, rejectedRewards: dr.map { beta * $0 },
                          policyChosen: pc, policyRejected: pr, klEstimate: kl)
    }

    /// `kto-simple` (trainers.py:896-921): KLc = clamp(mean Δc, 0), KLr = clamp(mean Δr, 0), not detached;
    /// losses concat(1 − σ(β(Δc − KLr)), 1 − σ(β(KLc − Δr))). With a_i = β(Δc_i − KLr), b_j = β(KLc − Δr_j):
    /// ∂L/∂πc_k = −(β/N)[σ'(a_k) + (1[mean Δc ≥ 0]/Nc) Σ_j σ'(b_j)],
    /// ∂L/∂πr_k = +(β/N)[σ'(b_k) + (1[mean Δr ≥ 0]/Nr) Σ_i σ'(a_i)]
    /// (the clamp passes its gradient at exactly 0, as torch's clamp backward `self >= min`).
    /// A batch without chosen or without rejected items is an error (upstream's empty means give NaN).
    public static func ktoSimple(policyChosen pc: [Double], policyRejected pr: [Double], referenceChosen rc: [Double],
                                 referenceRejected rr: [Double], beta: Double = 0.1) throws(LossError) -> LossOutput {
        try checkUnpaired(pc, pr, rc, rr)
        if pc.isEmpty || pr.isEmpty {
            throw LossError.undefined("kto-simple needs chosen and rejected items in every micro-batch (its KL terms are means over each); got \(pc.count) chosen, \(pr.count) rejected")
        }
        let nc = pc.count, nr = pr.count, n = Double(nc + nr)
        let dc = zip(pc, rc).map { $0 - $1 }, dr = zip(pr, rr).map { $0 - $1 }
        let meanC = LossMath.mean(dc), meanR = LossMath.mean(dr)
        let klc = max(meanC, 0), klr = max(meanR, 0)
        let passC: Double = meanC >= 0 ? 1 : 0, passR: Double = meanR >= 0 ? 1 : 0
        let a = dc.map { beta * ($0 - klr) }, b = dr.map { beta * (klc - $0) }
        let sa = a.map { LossMath.sigmoid($0) * LossMath.sigmoid(-$0) }, sb = b.map { LossMath.sigmoid($0) * LossMath.sigmoid(-$0) }
        let sumA = sa.reduce(0, +), sumB = sb.reduce(0, +)
        let losses = a.map { 1 - LossMath.sigmoid($0) } + b.map { 1 - LossMath.sigmoid($0) }
        let gc = sa.map { -(beta / n) * ($0 + passC / Double(nc) * sumB) }
        let gr = sb.map { (beta / n) * ($0 + passR / Double(nr) * sumA) }
        return LossOutput(kind: .ktoSimple, loss: LossMath.mean(losses), losses: losses, dPolicyChosen: gc, dPolicyRejected: gr,
                          chosenRewards: dc.map { beta * $0 }, rejectedRewards: dr.map { beta * $0 },
                          policyChosen: pc, policyRejected: pr)
    }

    /// `kto-zero` (trainers.py:1066-1093): losses concat(1 − σ(βΔc), 1 − σ(−βΔr));
    /// ∂L/∂πc_i = −(β/N) σ'(βΔc_i), ∂L/∂πr_j = +(β/N) σ'(βΔr_j).
    public static func ktoZero(policyChosen pc: [Double], policyRejected pr: [Double], referenceChosen rc: [Double],
                               referenceRejected rr: [Double], beta: Double = 0.1) throws(LossError) -> LossOutput {
        try checkUnpaired(pc, pr, rc, rr)
        let n = Double(pc.count + pr.count)
        if n == 0 { throw LossError.shapeMismatch("kto-zero needs at least one chosen or rejected item") }
        let dc = zip(pc, rc).map { $0 - $1 }, dr = zip(pr, rr).map { $0 - $1 }
        let losses = dc.map { 1 - LossMath.sigmoid(beta * $0) } + dr.map { 1 - LossMath.sigmoid(-beta * $0) }
        let gc = dc.map { -(beta / n) * LossMath.sigmoid(beta * $0) * LossMath.sigmoid(-beta * $0) }
        let gr = dr.map { (beta / n) * LossMath.sigmoid(beta * $0) * LossMath.sigmoid(-beta * $0) }
        return LossOutput(kind: .ktoZero, loss: LossMath.mean(losses), losses: losses, dPolicyChosen: gc, dPolicyRejected: gr,
                          chosenRewards: dc.map { beta * $0 }, rejectedRewards: dr.map { beta * $0 },
                          policyChosen: pc, policyRejected: pr)
    }

    static func checkUnpaired(_ pc: [Double], _ pr: [Double], _ rc: [Double], _ rr: [Double]) throws(LossError) {
        try LossMath.checkCount(rc, pc.count, "reference chosen", "policy chosen")
        try LossMath.checkCount(rr, pr.count, "reference rejected", "policy rejected")
        try LossMath.checkFinite(pc, "policy chosen"); try LossMath.checkFinite(pr, "policy rejected")
        try LossMath.checkFinite(rc, "reference chosen"); try LossMath.checkFinite(rr, "reference rejected")
    }
}
