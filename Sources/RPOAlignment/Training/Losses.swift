// The losses of the official RPO code (yinyueqin/Relative-Preference-Optimization@c1b5163, trainers.py), in
// Double, from per-sequence log-probs, each with its analytic gradient w.r.t. every policy sequence log-prob.
// Spec: docs/method.md §6 (formulas, gradients), §7 (metrics), §18 (test vectors).
// Legend: B pairs in a micro-batch; Nc, Nr chosen / rejected items of an unpaired micro-batch;
// πc, πr policy log-probs, ρc, ρr reference log-probs, Δ = π − ρ, z = Δc − Δr, σ the logistic function.
import Foundation
import RPOCore

/// Errors of the loss functions: shapes that do not agree, non-finite inputs, undefined cases.
public enum LossError: Error, CustomStringConvertible, Equatable, Sendable {
    case shapeMismatch(String)
    case nonFinite(String)
    case undefined(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let m): return "loss inputs do not agree: \(m)"
        case .nonFinite(let m): return "non-finite loss input: \(m)"
        case .undefined(let m): return m
        }
    }
}

/// The losses by their official `loss=` names (`config/loss/*.yaml`).
public enum LossKind: String, CaseIterable, Sendable {
    case sft, dpo, ipo, cdpo, slic, kto
    case ktoSimple = "kto-simple"
    case ktoZero = "kto-zero"
    case rpoPaired = "rpo-paired"
    case rpoUnpaired = "rpo-unpaired"
    case rpoDiagonal = "rpo-diagonal"

    /// Which metric set and batch shape the loss uses.
    public var family: LossFamily {
        switch self {
        case .sft: return .sft
        case .dpo, .ipo, .cdpo, .slic, .rpoPaired, .rpoDiagonal: return .paired
        case .ktoSimple, .ktoZero, .rpoUnpaired: return .unpaired
        case .kto: return .kto
        }
    }

    /// False for SFT and SLiC, which use no reference model (trainers.py:677-679).
    public var usesReference: Bool { self != .sft && self != .slic }

    /// The hyper-parameters of the official yaml for this loss.
    public var defaults: LossParameters {
        switch self {
        case .slic: return LossParameters(beta: 1.0)
        default: return LossParameters()
        }
    }
}

public enum LossFamily: Sendable { case sft, paired, unpaired, kto }

/// Loss hyper-parameters with the official defaults (beta 0.1; cDPO epsilon 0.2; SLiC lambda 0.1 with beta 1.0;
/// rpo-diagonal diagonal_weight 0.8; KTO desirable/undesirable weights 1.0).
public struct LossParameters: Equatable, Sendable {
    public var beta: Double
    public var epsilon: Double
    public var lambda: Double
    public var diagonalWeight: Double
    public var desirableWeight: Double
    public var undesirableWeight: Double

    public init(beta: Double = 0.1, epsilon: Double = 0.2, lambda: Double = 0.1, diagonalWeight: Double = 0.8,
                desirableWeight: Double = 1.0, undesirableWeight: Double = 1.0) {
        self.beta = beta; self.epsilon = epsilon; self.lambda = lambda; self.diagonalWeight = diagonalWeight
        self.desirableWeight = desirableWeight; self.undesirableWeight = undesirableWeight
    }
}

/// What a loss returns: the batch loss, the per-example vector the official code logs as `loss/{mode}`, the
/// gradient of `loss` w.r.t. each policy sequence log-prob, and the (detached) rewards it logs.
public struct LossOutput: Sendable {
    public let kind: LossKind
    /// `losses.mean()`, what the optimiser minimises (0 when `skipped`).
    public var loss: Double
    /// The per-example losses (row losses for RPO; chosen then rejected items for the KTO family).
    public var losses: [Double]
    /// ∂loss/∂πc per chosen sequence (SFT: per target sequence). Zero when `skipped`.
    public var dPolicyChosen: [Double]
    /// ∂loss/∂πr per rejected sequence (empty for SFT).
    public var dPolicyRejected: [Double]
    public var chosenRewards: [Double]
    public var rejectedRewards: [Double]
    /// Policy log-probs, kept for the `logps_{mode}/*` metrics.
    public var policyChosen: [Double]
    public var policyRejected: [Double]
    /// KTO's detached KL estimate (`rewards_{mode}/KL_estimate`).
    public var klEstimate: Double?
    /// RPO-unpaired on a micro-batch without a chosen or without a rejected item, or an unpaired loss on a batch
    /// of one status: upstream returns a zero loss and the training loop `continue`s (no backward, no step, no
    /// counters; trainers.py:404-411, 845-846). Callers must skip the step, not apply the zero gradient.
    public var skipped: Bool = false
}

// MARK: - Numerics

enum LossMath {
    /// σ(x), stable for large |x|.
    @inline(__always) static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }

    /// −log σ(x) = softplus(−x) = max(−x, 0) + log1p(exp(−|x|)), as torch's logsigmoid.
    @inline(__always) static func negLogSigmoid(_ x: Double) -> Double {
        max(-x, 0) + log1p(exp(-abs(x)))
    }

    static func mean(_ a: [Double]) -> Double {
        a.isEmpty ? .nan : a.reduce(0, +) / Double(a.count)
    }

    static func checkFinite(_ a: [Double], _ name: String) throws(LossError) {
        for (i, x) in a.enumerated() where !x.isFinite {
            throw LossError.nonFinite("\(name)[\(i)] is \(x)")
        }
    }

    static func checkCount(_ a: [Double], _ n: Int, _ name: String, _ other: String) throws(LossError) {
        if a.count != n { throw LossError.shapeMismatch("\(name) has \(a.count) values, \(other) has \(n)") }
    }

    /// Checks that the four vectors of a paired batch have one entry per pair and are finite; returns B.
    static func checkPaired(_ pc: [Double], _ pr: [Double], _ rc: [Double]?, _ rr: [Double]?) throws(LossError) -> Int {
        let b = pc.count
        try checkCount(pr, b, "policy rejected", "policy chosen")
        try checkFinite(pc, "policy chosen"); try checkFinite(pr, "policy rejected")
        if let rc = rc { try checkCount(rc, b, "reference chosen", "policy chosen"); try checkFinite(rc, "reference chosen") }
        if let rr = rr { try checkCount(rr, b, "reference rejected", "policy chosen"); try checkFinite(rr, "reference rejected") }
        if b == 0 { throw LossError.shapeMismatch("a paired batch needs at least one pair") }
        return b
    }
}

// MARK: - SFT and the paired baselines

public enum Losses {
    /// `sft` (trainers.py:545-567): L = mean(−S_i), sequence-sum NLL; ∂L/∂S_i = −1/B.
    public static func sft(policy: [Double]) throws(LossError) -> LossOutput {
        try LossMath.checkFinite(policy, "policy")
        if policy.isEmpty { throw LossError.shapeMismatch("an SFT batch needs at least one sequence") }
        let b = Double(policy.count)
        let losses = policy.map { -$0 }
        return LossOutput(kind: .sft, loss: LossMath.mean(losses), losses: losses,
                          dPolicyChosen: [Double](repeating: -1 / b, count: policy.count), dPolicyRejected: [],
                          chosenRewards: [], rejectedRewards: [], policyChosen: policy, policyRejected: [])
    }

    /// The paired losses whose per-example loss is a function ℓ(z_i) of the DPO logit alone:
    /// `dpo` −log σ(βz) (trainers.py:718-733), `ipo` (z − 1/(2β))² (736-752), `cdpo`
    /// (1−ε)(−log σ(βz)) + ε(−log σ(−βz)) (755-769). ∂L/∂πc_i = ℓ'(z_i)/B = −∂L/∂πr_i.
    public static func paired(_ kind: LossKind, policyChosen pc: [Double], policyRejected pr: [Double],
                              referenceChosen rc: [Double], referenceRejected rr: [Double],
                              parameters p: LossParameters) throws(LossError) -> LossOutput {
        let n = try LossMath.checkPaired(pc, pr, rc, rr)
        let beta = p.beta, eps = p.epsilon
        var losses = [Double](repeating: 0, count: n), dc = losses, dr = losses
        for i in 0..<n {
            // z = (πc − πr) − (ρc − ρr), grouped as upstream's pi_logratios − ref_logratios.
            let z = (pc[i] - pr[i]) - (rc[i] - rr[i])
            let l: Double, dl: Double
            switch kind {
            case .dpo:
                l = LossMath.negLogSigmoid(beta * z)
                dl = -beta * LossMath.sigmoid(-beta * z)
            case .ipo:
                let m = z - 1 / (2 * beta)
                l = m * m
                dl = 2 * m
            case .cdpo:
                l = (1 - eps) * LossMath.negLogSigmoid(beta * z) + eps * LossMath.negLogSigmoid(-beta * z)
                dl = -beta * ((1 - eps) * LossMath.sigmoid(-beta * z) - eps * LossMath.sigmoid(beta * z))
            default:
                throw LossError.undefined("\(kind.rawValue) is not a function of the paired DPO logit")
            }
            losses[i] = l
            dc[i] = dl / Double(n)
            dr[i] = -dl / Double(n)
        }
        return LossOutput(kind: kind, loss: LossMath.mean(losses), losses: losses, dPolicyChosen: dc, dPolicyRejected: dr,
                          chosenRewards: zip(pc, rc).map { beta * ($0 - $1) },
                          rejectedRewards: zip(pr, rr).map { beta * ($0 - $1) },
                          policyChosen: pc, policyRejected: pr)
    }

    public static func dpo(policyChosen pc: [Double], policyRejected pr: [Double], referenceChosen rc: [Double],
                           referenceRejected rr: [Double], beta: Double = 0.1) throws(LossError) -> LossOutput {
        try paired(.dpo, policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                   parameters: LossParameters(beta: beta))
    }

    public static func ipo(policyChosen pc: [Double], policyRejected pr: [Double], referenceChosen rc: [Double],
                           referenceRejected rr: [Double], beta: Double = 0.1) throws(LossError) -> LossOutput {
        try paired(.ipo, policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                   parameters: LossParameters(beta: beta))
    }

    public static func cdpo(policyChosen pc: [Double], policyRejected pr: [Double], referenceChosen rc: [Double],
                            referenceRejected rr: [Double], beta: Double = 0.1, epsilon: Double = 0.2) throws(LossError) -> LossOutput {
        try paired(.cdpo, policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                   parameters: LossParameters(beta: beta, epsilon: epsilon))
    }

    /// `slic` (trainers.py:877-893), no reference: ℓ_i = max(0, β − πc_i + πr_i) + λ(−πc_i). The logged "rewards"
    /// are the raw policy log-probs. The hinge's gradient passes at h = 0 exactly, as torch's clamp backward
    /// (`self >= min`).
    public static func slic(policyChosen pc: [Double], policyRejected pr: [Double], beta: Double = 1.0,
                            lambda: Double = 0.1) throws(LossError) -> LossOutput {
        let n = try LossMath.checkPaired(pc, pr, nil, nil)
        var losses = [Double](repeating: 0, count: n), dc = losses, dr = losses
        let inv = 1 / Double(n)
        for i in 0..<n {
            let h = beta - pc[i] + pr[i]
            losses[i] = max(h, 0) + lambda * -pc[i]
            let active: Double = h >= 0 ? 1 : 0
            dc[i] = (-active - lambda) * inv
            dr[i] = active * inv
        }
        return LossOutput(kind: .slic, loss: LossMath.mean(losses), losses: losses, dPolicyChosen: dc, dPolicyRejected: dr,
                          chosenRewards: pc, rejectedRewards: pr, policyChosen: pc, policyRejected: pr)
    }
}
