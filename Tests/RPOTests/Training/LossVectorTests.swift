// The test vectors of docs/method.md §18 (independent float64 NumPy values, 6 decimals), its sanity checks (§18.4),
// the metrics of §7, and the degenerate cases of §6.7-§6.8 and §9.3.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// |a − e| ≤ atol elementwise, reporting the worst difference.
func expectNear(_ a: [Double], _ e: [Double], atol: Double, rtol: Double = 0, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == e.count, "\(label): \(a.count) values, expected \(e.count)", sourceLocation: sourceLocation)
    guard a.count == e.count else { return }
    var worst = 0.0, worstAt = -1
    for i in 0..<a.count {
        let d = abs(a[i] - e[i])
        if !(d <= atol + rtol * abs(e[i])) && (worstAt < 0 || !(d <= worst)) { worst = d; worstAt = i }
    }
    #expect(worstAt < 0, "\(label): [\(worstAt)] \(worstAt >= 0 ? a[worstAt] : 0) vs \(worstAt >= 0 ? e[worstAt] : 0) (|diff| \(worst), atol \(atol), rtol \(rtol))",
            sourceLocation: sourceLocation)
}

@Suite struct LossVectorTests {
    // §18.1 inputs.
    static let pc = [-50.0, -80, -120], pr = [-60.0, -70, -130], rc = [-52.0, -79, -121], rr = [-58.0, -71, -126]
    static let emb: [[Double]] = [[1, 0, 0], [0.8, 0.6, 0], [0, 0, 2]]
    // The §18 values are printed to 6 decimals: 1e-6 absolute is the rounding of the table itself.
    static let tol = 1e-6

    @Test func paired18_1ContrastMatrix() throws {
        let w = try Contrast.embeddingWeights(chosen: Self.emb, rejected: Self.emb, tau: 0.5)
        expectNear(w.values, [0.553816, 0.371234, 0.074951, 0.371234, 0.553816, 0.074951, 0.106507, 0.106507, 0.786986],
                    atol: Self.tol, "W")
        let d = try Contrast.cosineDistances(chosen: Self.emb.map { Contrast.normalized($0) }, rejected: Self.emb.map { Contrast.normalized($0) })
        expectNear(d.values, [0, 0.2, 1, 0.2, 0, 1, 1, 1, 0], atol: 1e-12, "D (exact in float64 up to rounding)")
    }

    @Test func paired18_1Losses() throws {
        let w = try Contrast.embeddingWeights(chosen: Self.emb, rejected: Self.emb, tau: 0.5)
        let rpo = try Losses.rpoPaired(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc,
                                       referenceRejected: Self.rr, weights: w, beta: 0.1)
        expectNear(rpo.losses, [0.644726, 0.702262, 0.628693], atol: Self.tol, "rpo-paired rows")
        expectNear([rpo.loss], [0.658560], atol: Self.tol, "rpo-paired L")
        expectNear(rpo.dPolicyChosen, [-0.005169, -0.005683, -0.004697], atol: Self.tol, "rpo-paired dπc")
        expectNear(rpo.dPolicyRejected, [0.005344, 0.005863, 0.004342], atol: Self.tol, "rpo-paired dπr")

        let dpo = try Losses.dpo(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc, referenceRejected: Self.rr)
        expectNear(dpo.losses, [0.513015, 0.798139, 0.474077], atol: Self.tol, "dpo")
        expectNear([dpo.loss], [0.595077], atol: Self.tol, "dpo L")
        expectNear(dpo.dPolicyChosen, [-0.013377, -0.018328, -0.012585], atol: Self.tol, "dpo dπc")
        expectNear(dpo.dPolicyRejected, [0.013377, 0.018328, 0.012585], atol: Self.tol, "dpo dπr")

        let diag = try Losses.rpoDiagonal(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc,
                                          referenceRejected: Self.rr, beta: 0.1, diagonalWeight: 0.8)
        expectNear(diag.losses, [0.518601, 0.758386, 0.504012], atol: Self.tol, "rpo-diagonal")
        expectNear([diag.loss], [0.593666], atol: Self.tol, "rpo-diagonal L")
        expectNear(diag.dPolicyChosen, [-0.013466, -0.017664, -0.013153], atol: Self.tol, "rpo-diagonal dπc")
        expectNear(diag.dPolicyRejected, [0.013704, 0.017912, 0.012667], atol: Self.tol, "rpo-diagonal dπr")

        let uni = try Losses.rpoPaired(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc,
                                       referenceRejected: Self.rr, weights: nil, beta: 0.1)
        expectNear([uni.loss], [0.590374], atol: Self.tol, "uniform L")
        expectNear(uni.dPolicyChosen, [-0.013674, -0.016116, -0.014479], atol: Self.tol, "uniform dπc")
        expectNear(uni.dPolicyRejected, [0.014465, 0.016943, 0.012860], atol: Self.tol, "uniform dπr")
        // W = ones given explicitly is the same path.
        let ones = try Losses.rpoPaired(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc,
                                        referenceRejected: Self.rr, weights: .ones(rows: 3, cols: 3), beta: 0.1)
        #expect(ones.loss == uni.loss && ones.dPolicyChosen == uni.dPolicyChosen)

        let ipo = try Losses.ipo(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc, referenceRejected: Self.rr)
        expectNear(ipo.losses, [1, 49, 0], atol: 1e-9, "ipo")
        expectNear([ipo.loss], [16.666667], atol: Self.tol, "ipo L")
        let cdpo = try Losses.cdpo(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc, referenceRejected: Self.rr)
        expectNear(cdpo.losses, [0.593015, 0.758139, 0.574077], atol: Self.tol, "cdpo")
        expectNear([cdpo.loss], [0.641744], atol: Self.tol, "cdpo L")
        let slic = try Losses.slic(policyChosen: Self.pc, policyRejected: Self.pr, beta: 1.0, lambda: 0.1)
        expectNear(slic.losses, [5, 19, 12], atol: 1e-12, "slic")
        expectNear([slic.loss], [12], atol: 1e-12, "slic L")
    }

    @Test func paired18_1Metrics() throws {
        let dpo = try Losses.dpo(policyChosen: Self.pc, policyRejected: Self.pr, referenceChosen: Self.rc, referenceRejected: Self.rr)
        let m = dpo.metrics(mode: "train")
        #expect(m.map(\.name) == ["rewards_train/chosen", "rewards_train/rejected", "rewards_train/accuracies",
                                  "rewards_train/accuracies_elementwise", "rewards_train/margins",
                                  "logps_train/rejected", "logps_train/chosen", "loss/train"])
        expectNear(m[0].values, [0.2, -0.1, 0.1], atol: 1e-12, "rewards/chosen")
        expectNear(m[1].values, [-0.2, 0.1, -0.4], atol: 1e-12, "rewards/rejected")
        expectNear(m[4].values, [0.4, -0.2, 0.5], atol: 1e-12, "rewards/margins")
        // Flipped: 0.2 > −0.4, −0.1 > 0.1, 0.1 > −0.2; elementwise: 0.2 > −0.2, −0.1 > 0.1, 0.1 > −0.4.
        #expect(m[2].values == [1, 0, 1])
        #expect(m[3].values == [1, 0, 1])
        #expect(m[5].values == Self.pr && m[6].values == Self.pc && m[7].values == dpo.losses)
        let slic = try Losses.slic(policyChosen: Self.pc, policyRejected: Self.pr)
        #expect(slic.metrics(mode: "eval")[0] == Metric("rewards_eval/chosen", Self.pc), "SLiC logs raw policy log-probs")
    }

    @Test func flippedAccuracy18_3() throws {
        // Δc = [1, 5], Δr = [0, 3] (reference 0): standard 1.0, upstream's flipped 0.5.
        let out = try Losses.dpo(policyChosen: [1, 5], policyRejected: [0, 3], referenceChosen: [0, 0], referenceRejected: [0, 0], beta: 0.7)
        let m = Dictionary(uniqueKeysWithValues: out.metrics().map { ($0.name, $0.values) })
        #expect(m["rewards_train/accuracies"] == [0, 1])
        #expect(m["rewards_train/accuracies_elementwise"] == [1, 1])
    }

    // §18.2 inputs: statuses [c, r, c, r].
    static let up = [-40.0, -55, -90, -30], ur = [-42.0, -54, -91, -31]
    static let uemb: [[Double]] = [[1, 0], [1, 1], [0, 1], [-1, 0]]

    @Test func unpaired18_2() throws {
        let c = [0, 2], r = [1, 3]
        let w = try Contrast.embeddingWeights(chosen: c.map { Self.uemb[$0] }, rejected: r.map { Self.uemb[$0] }, tau: 0.5)
        expectNear(w.values, [0.968146, 0.031854, 0.804430, 0.195570], atol: Self.tol, "W")
        let args = (c.map { Self.up[$0] }, r.map { Self.up[$0] }, c.map { Self.ur[$0] }, r.map { Self.ur[$0] })
        let rpo = try Losses.rpoUnpaired(policyChosen: args.0, policyRejected: args.1, referenceChosen: args.2,
                                         referenceRejected: args.3, weights: w, beta: 0.1)
        expectNear(rpo.losses, [0.624994, 0.654542], atol: Self.tol, "rpo-unpaired rows")
        expectNear([rpo.loss], [0.639768], atol: Self.tol, "rpo-unpaired L")
        expectNear(rpo.dPolicyChosen, [-0.010754, -0.011693], atol: Self.tol, "rpo-unpaired dπc")
        expectNear(rpo.dPolicyRejected, [0.019605, 0.002842], atol: Self.tol, "rpo-unpaired dπr")
        let zero = try Losses.ktoZero(policyChosen: args.0, policyRejected: args.1, referenceChosen: args.2, referenceRejected: args.3)
        expectNear(zero.losses, [0.450166, 0.475021, 0.475021, 0.524979], atol: Self.tol, "kto-zero")
        expectNear([zero.loss], [0.481297], atol: Self.tol, "kto-zero L")
        let simple = try Losses.ktoSimple(policyChosen: args.0, policyRejected: args.1, referenceChosen: args.2, referenceRejected: args.3)
        expectNear(simple.losses, [0.450166, 0.475021, 0.437823, 0.487503], atol: Self.tol, "kto-simple")
        expectNear([simple.loss], [0.462628], atol: Self.tol, "kto-simple L")
        let names = rpo.metrics().map(\.name)
        #expect(names == ["rewards_train/chosen", "rewards_train/rejected", "rewards_train/accuracies", "rewards_train/margins",
                          "logps_train/rejected", "logps_train/chosen", "loss/train"])
    }

    @Test func sanityAtInitialisation18_4() throws {
        var rng = RNG(seed: 18)
        let b = 5
        let pc = (0..<b).map { _ in -300 * rng.nextDouble() }, pr = (0..<b).map { _ in -300 * rng.nextDouble() }
        let emb = (0..<b).map { _ in (0..<7).map { _ in rng.nextDouble() - 0.5 } }
        let w = try Contrast.embeddingWeights(chosen: emb, rejected: emb, tau: 0.5)
        let ln2 = log(2.0)
        // Policy = reference: every logit is exactly 0.
        for out in [try Losses.dpo(policyChosen: pc, policyRejected: pr, referenceChosen: pc, referenceRejected: pr),
                    try Losses.cdpo(policyChosen: pc, policyRejected: pr, referenceChosen: pc, referenceRejected: pr),
                    try Losses.rpoPaired(policyChosen: pc, policyRejected: pr, referenceChosen: pc, referenceRejected: pr, weights: w),
                    try Losses.rpoPaired(policyChosen: pc, policyRejected: pr, referenceChosen: pc, referenceRejected: pr, weights: nil),
                    try Losses.rpoDiagonal(policyChosen: pc, policyRejected: pr, referenceChosen: pc, referenceRejected: pr),
                    try Losses.rpoUnpaired(policyChosen: pc, policyRejected: Array(pr.prefix(3)), referenceChosen: pc,
                                           referenceRejected: Array(pr.prefix(3)), weights: nil)] {
            expectNear([out.loss], [ln2], atol: 1e-15, "\(out.kind.rawValue) at init")
        }
        let ipo = try Losses.ipo(policyChosen: pc, policyRejected: pr, referenceChosen: pc, referenceRejected: pr, beta: 0.1)
        expectNear([ipo.loss], [25], atol: 1e-12, "ipo at init = (1/(2β))²")
        let zero = try Losses.ktoZero(policyChosen: pc, policyRejected: pr, referenceChosen: pc, referenceRejected: pr)
        #expect(zero.loss == 0.5)
        // B = 1: W = [[1]] whatever the embedding, and RPO-paired is DPO exactly (bit for bit).
        let w1 = try Contrast.embeddingWeights(chosen: [emb[0]], rejected: [emb[0]], tau: 0.5)
        #expect(w1.values == [1])
        let one = try Losses.rpoPaired(policyChosen: [-12.5], policyRejected: [-20.25], referenceChosen: [-14], referenceRejected: [-19], weights: w1)
        let dpo = try Losses.dpo(policyChosen: [-12.5], policyRejected: [-20.25], referenceChosen: [-14], referenceRejected: [-19])
        #expect(one.loss == dpo.loss && one.losses == dpo.losses)
        #expect(one.dPolicyChosen == dpo.dPolicyChosen && one.dPolicyRejected == dpo.dPolicyRejected)
    }

    @Test func degenerateCases() throws {
        // RPO-unpaired without rejected (or chosen) items: zero loss, step skipped, nothing logged (trainers.py:845).
        let none = try Losses.rpoUnpaired(policyChosen: [-3, -4], policyRejected: [], referenceChosen: [-3, -5],
                                          referenceRejected: [], weights: nil)
        #expect(none.skipped && none.loss == 0 && none.losses == [0] && none.dPolicyChosen == [0, 0])
        #expect(none.metrics().isEmpty)
        let noChosen = try Losses.rpoUnpaired(policyChosen: [], policyRejected: [-1], referenceChosen: [], referenceRejected: [-2], weights: nil)
        #expect(noChosen.skipped && noChosen.dPolicyRejected == [0])
        // rpo-diagonal with B = 1: upstream NaN, here an error.
        #expect(throws: LossError.self) {
            try Losses.rpoDiagonal(policyChosen: [-1], policyRejected: [-2], referenceChosen: [-1], referenceRejected: [-2])
        }
        do {
            _ = try Losses.rpoDiagonal(policyChosen: [-1], policyRejected: [-2], referenceChosen: [-1], referenceRejected: [-2])
        } catch {
            #expect(error.description.contains("at least 2 pairs"))
        }
        #expect(throws: LossError.self) {
            try Losses.ktoSimple(policyChosen: [-1, -2], policyRejected: [], referenceChosen: [-1, -2], referenceRejected: [])
        }
        // Shapes and values.
        #expect(throws: LossError.shapeMismatch("policy rejected has 1 values, policy chosen has 2")) {
            try Losses.dpo(policyChosen: [-1, -2], policyRejected: [-1], referenceChosen: [-1, -2], referenceRejected: [-1, -2])
        }
        #expect(throws: LossError.nonFinite("reference chosen[1] is nan")) {
            try Losses.dpo(policyChosen: [-1, -2], policyRejected: [-1, -3], referenceChosen: [-1, .nan], referenceRejected: [-1, -2])
        }
        #expect(throws: LossError.self) {
            try Losses.rpoPaired(policyChosen: [-1, -2], policyRejected: [-1, -3], referenceChosen: [-1, -2], referenceRejected: [-1, -2],
                                 weights: .ones(rows: 3, cols: 3))
        }
        #expect(throws: LossError.self) {
            try Losses.rpoPaired(policyChosen: [-1], policyRejected: [-1], referenceChosen: [-1], referenceRejected: [-1],
                                 weights: ContrastMatrix(rows: 1, cols: 1, values: [.infinity]))
        }
        #expect(throws: LossError.self) { try Losses.sft(policy: []) }
        #expect(throws: LossError.self) {
            try Losses.kto(policyChosen: [-1], policyRejected: [], policyKL: [], referenceChosen: [-1], referenceRejected: [], referenceKL: [])
        }
        #expect(throws: LossError.self) {
            try Losses.paired(.rpoPaired, policyChosen: [-1], policyRejected: [-1], referenceChosen: [-1], referenceRejected: [-1],
                              parameters: LossParameters())
        }
    }

    @Test func kindsAndDefaults() {
        #expect(LossKind(rawValue: "rpo-unpaired") == .rpoUnpaired)
        #expect(LossKind.allCases.count == 11)
        #expect(LossKind.slic.defaults.beta == 1.0 && LossKind.slic.defaults.lambda == 0.1 && !LossKind.slic.usesReference)
        #expect(LossKind.cdpo.defaults.epsilon == 0.2 && LossKind.rpoDiagonal.defaults.diagonalWeight == 0.8)
        #expect(LossKind.rpoUnpaired.family == .unpaired && LossKind.kto.family == .kto && LossKind.sft.family == .sft)
    }
}
