// Every loss's analytic gradient against central finite differences (Double, step 1e-6) on random inputs, and
// every loss against PyTorch autograd on the official trainers.py loss functions
// (Tests/Fixtures/losses/torch_losses.json, made by scripts/make_loss_fixtures.py).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct LossGradientTests {
    /// A loss as a function of the policy log-probs (chosen, rejected); everything else fixed.
    typealias LossFn = ([Double], [Double]) throws -> LossOutput

    static func random(_ n: Int, _ rng: inout RNG, lo: Double = -200, hi: Double = -10) -> [Double] {
        (0..<n).map { _ in lo + (hi - lo) * rng.nextDouble() }
    }

    static func jitter(_ x: [Double], _ spread: Double, _ rng: inout RNG) -> [Double] {
        x.map { $0 + spread * (2 * rng.nextDouble() - 1) }
    }

    /// Checks ∂L/∂πc and ∂L/∂πr of `f` at (pc, pr) against central differences.
    static func checkFiniteDifferences(_ label: String, _ pc: [Double], _ pr: [Double], _ f: LossFn,
                                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let h = 1e-6
        let out = try f(pc, pr)
        #expect(!out.skipped, "\(label): not a degenerate batch", sourceLocation: sourceLocation)
        var numC = [Double](), numR = [Double]()
        for k in 0..<pc.count {
            var up = pc, down = pc
            up[k] += h; down[k] -= h
            numC.append((try f(up, pr).loss - f(down, pr).loss) / (2 * h))
        }
        for k in 0..<pr.count {
            var up = pr, down = pr
            up[k] += h; down[k] -= h
            numR.append((try f(pc, up).loss - f(pc, down).loss) / (2 * h))
        }
        // Truncation O(h²) ≈ 1e-12; the loss's rounding ≈ 1e-16·|L|/h ≈ 1e-10·|L|; π ± h rounds the step itself
        // by ≤ ulp(300)/h ≈ 6e-8 relative. Hence atol 1e-9·max(1, |L|) and rtol 1e-7.
        let atol = 1e-9 * max(1, abs(out.loss))
        expectNear(out.dPolicyChosen, numC, atol: atol, rtol: 1e-7, "\(label) ∂L/∂πc", sourceLocation: sourceLocation)
        expectNear(out.dPolicyRejected, numR, atol: atol, rtol: 1e-7, "\(label) ∂L/∂πr", sourceLocation: sourceLocation)
        // The gradient must not be trivially zero.
        #expect((out.dPolicyChosen + out.dPolicyRejected).contains { abs($0) > 1e-6 }, "\(label): non-zero gradient",
                sourceLocation: sourceLocation)
    }

    @Test func everyLossMatchesFiniteDifferences() throws {
        var rng = RNG(seed: 7)
        for b in [1, 2, 6] {
            let pc = Self.random(b, &rng), pr = Self.random(b, &rng)
            let rc = Self.jitter(pc, 30, &rng), rr = Self.jitter(pr, 30, &rng)
            let emb = (0..<b).map { _ in (0..<11).map { _ in rng.nextDouble() - 0.3 } }
            let w = try Contrast.embeddingWeights(chosen: emb, rejected: emb, tau: 0.25)
            try Self.checkFiniteDifferences("sft B=\(b)", pc, []) { c, _ in try Losses.sft(policy: c) }
            try Self.checkFiniteDifferences("dpo B=\(b)", pc, pr) { try Losses.dpo(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr) }
            try Self.checkFiniteDifferences("ipo B=\(b)", pc, pr) { try Losses.ipo(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr) }
            try Self.checkFiniteDifferences("cdpo B=\(b)", pc, pr) { try Losses.cdpo(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr, epsilon: 0.3) }
            // SLiC: rejected near the chosen so that some hinges are active and some are not.
            try Self.checkFiniteDifferences("slic B=\(b)", pc, Self.jitter(pc, 3, &rng)) { try Losses.slic(policyChosen: $0, policyRejected: $1) }
            try Self.checkFiniteDifferences("rpo-paired B=\(b)", pc, pr) {
                try Losses.rpoPaired(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr, weights: w, beta: 0.2)
            }
            try Self.checkFiniteDifferences("uniform B=\(b)", pc, pr) {
                try Losses.rpoPaired(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr, weights: nil)
            }
            if b >= 2 {
                try Self.checkFiniteDifferences("rpo-diagonal B=\(b)", pc, pr) {
                    try Losses.rpoDiagonal(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr, beta: 0.3, diagonalWeight: 0.6)
                }
            }
        }
        for (nc, nr) in [(1, 1), (4, 3), (2, 5)] {
            let pc = Self.random(nc, &rng), pr = Self.random(nr, &rng)
            let rc = Self.jitter(pc, 25, &rng), rr = Self.jitter(pr, 25, &rng)
            let ec = (0..<nc).map { _ in (0..<5).map { _ in rng.nextDouble() - 0.5 } }
            let er = (0..<nr).map { _ in (0..<5).map { _ in rng.nextDouble() - 0.5 } }
            let w = try Contrast.embeddingWeights(chosen: ec, rejected: er, tau: 0.5)
            let pk = Self.random(nc + nr, &rng), rk = Self.jitter(pk, 10, &rng).map { $0 - 4 }
            let label = "\(nc)c×\(nr)r"
            try Self.checkFiniteDifferences("rpo-unpaired \(label)", pc, pr) {
                try Losses.rpoUnpaired(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr, weights: w)
            }
            try Self.checkFiniteDifferences("rpo-unpaired uniform \(label)", pc, pr) {
                try Losses.rpoUnpaired(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr, weights: nil)
            }
            try Self.checkFiniteDifferences("kto \(label)", pc, pr) {
                try Losses.kto(policyChosen: $0, policyRejected: $1, policyKL: pk, referenceChosen: rc, referenceRejected: rr,
                               referenceKL: rk, desirableWeight: 1.3, undesirableWeight: 0.7)
            }
            try Self.checkFiniteDifferences("kto-simple \(label)", pc, pr) {
                try Losses.ktoSimple(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr)
            }
            // kto-simple with both KL means positive (the clamps pass their gradient): policy above the reference.
            try Self.checkFiniteDifferences("kto-simple KL>0 \(label)", pc, pr) {
                try Losses.ktoSimple(policyChosen: $0, policyRejected: $1, referenceChosen: pc.map { $0 - 20 }, referenceRejected: pr.map { $0 - 15 })
            }
            try Self.checkFiniteDifferences("kto-zero \(label)", pc, pr) {
                try Losses.ktoZero(policyChosen: $0, policyRejected: $1, referenceChosen: rc, referenceRejected: rr)
            }
        }
    }

    // MARK: - PyTorch cross-check

    static func matrix(_ j: JSON?) -> ContrastMatrix? {
        guard let rows = j?.arrayValue else { return nil }
        let v = rows.flatMap { $0.doubleArray }
        return ContrastMatrix(rows: rows.count, cols: rows.isEmpty ? 0 : v.count / rows.count, values: v)
    }

    @Test func matchesPyTorchAutograd() throws {
        let fixture = try loadJSONFixture("losses/torch_losses.json")
        let cases = fixture.member("cases")?.arrayValue ?? []
        #expect(cases.count >= 80)
        var seen = Set<String>()
        for (n, c) in cases.enumerated() {
            let name = c.member("loss")?.stringValue ?? "?"
            seen.insert(name)
            let p = c.member("params")!, i = c.member("inputs")!, e = c.member("expected")!
            let beta = p.member("beta")?.doubleValue ?? 0
            let pc = i.member("pc")!.doubleArray, pr = i.member("pr")?.doubleArray ?? [], rc = i.member("rc")?.doubleArray ?? [], rr = i.member("rr")?.doubleArray ?? []
            let label = "case \(n) \(name)"
            var weights = Self.matrix(c.member("weights"))
            if let ce = i.member("chosen_emb")?.arrayValue, let re = i.member("rejected_emb")?.arrayValue, let w = weights {
                // Our contrast matrix from the same embeddings against torch's F.normalize/mm/softmax (float64):
                // both Double, 1e-12 relative allows for the different summation orders of the dot products.
                let ours = try Contrast.embeddingWeights(chosen: ce.map { $0.doubleArray }, rejected: re.map { $0.doubleArray },
                                                     tau: p.member("tau")!.doubleValue!)
                expectNear(ours.values, w.values, atol: 1e-15, rtol: 1e-12, "\(label) W")
                weights = ours
            }
            let out: LossOutput
            switch name {
            case "sft": out = try Losses.sft(policy: pc)
            case "dpo": out = try Losses.dpo(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: beta)
            case "ipo": out = try Losses.ipo(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: beta)
            case "cdpo": out = try Losses.cdpo(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: beta,
                                               epsilon: p.member("epsilon")!.doubleValue!)
            case "slic": out = try Losses.slic(policyChosen: pc, policyRejected: pr, beta: beta, lambda: p.member("lambda")!.doubleValue!)
            case "rpo-paired": out = try Losses.rpoPaired(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                                                          weights: weights, beta: beta)
            case "rpo-unpaired": out = try Losses.rpoUnpaired(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                                                              weights: weights, beta: beta)
            case "rpo-diagonal": out = try Losses.rpoDiagonal(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr,
                                                              beta: beta, diagonalWeight: p.member("diagonal_weight")!.doubleValue!)
            case "kto": out = try Losses.kto(policyChosen: pc, policyRejected: pr, policyKL: i.member("pk")!.doubleArray, referenceChosen: rc,
                                             referenceRejected: rr, referenceKL: i.member("rk")!.doubleArray, beta: beta,
                                             desirableWeight: p.member("desirable_weight")!.doubleValue!,
                                             undesirableWeight: p.member("undesirable_weight")!.doubleValue!)
            case "kto-simple": out = try Losses.ktoSimple(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: beta)
            case "kto-zero": out = try Losses.ktoZero(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: beta)
            default: Issue.record("unknown loss \(name) in the fixture"); continue
            }
            // Both sides compute in float64 with the same formulas; only the order of a few roundings differs
            // (torch's logsigmoid kernel, the order of the mean's sums): 1e-9 relative with a 1e-15 floor for zeros.
            expectNear([out.loss], [e.member("loss")!.doubleValue!], atol: 1e-15, rtol: 1e-9, "\(label) loss")
            expectNear(out.losses, e.member("losses")!.doubleArray, atol: 1e-15, rtol: 1e-9, "\(label) losses")
            expectNear(out.dPolicyChosen, e.member("d_pc")!.doubleArray, atol: 1e-15, rtol: 1e-9, "\(label) ∂/∂πc")
            if let dpr = e.member("d_pr") { expectNear(out.dPolicyRejected, dpr.doubleArray, atol: 1e-15, rtol: 1e-9, "\(label) ∂/∂πr") }
            if let kl = e.member("kl")?.doubleValue { expectNear([out.klEstimate ?? .nan], [kl], atol: 1e-15, rtol: 1e-9, "\(label) KL") }
        }
        #expect(seen == Set(LossKind.allCases.map(\.rawValue)), "the fixture covers every loss")
    }
}
