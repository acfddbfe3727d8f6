// Contrast matrices and their statistics on hand-checkable inputs (the torch cross-check of the matrices is in
// LossGradientTests.matchesPyTorchAutograd; the docs/method.md §18 matrices in LossVectorTests).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct ContrastTests {
    @Test func normalizationFollowsFNormalize() throws {
        // ‖(3, 4)‖ = 5; a zero vector stays zero (divided by eps, as F.normalize) rather than becoming NaN.
        #expect(Contrast.normalized([3.0, 4.0]) == [0.6, 0.8])
        #expect(Contrast.normalized([Float(0), 0, 0]) == [0, 0, 0])
        // Scale invariance of the weights: embeddings multiplied by 1000 give the same matrix.
        let e: [[Double]] = [[1, 2, 3], [-1, 0.5, 2], [0, 0, 1]]
        let a = try Contrast.embeddingWeights(chosen: e, rejected: e, tau: 0.5)
        let b = try Contrast.embeddingWeights(chosen: e.map { $0.map { $0 * 1000 } }, rejected: e.map { $0.map { $0 * 1000 } }, tau: 0.5)
        expectNear(a.values, b.values, atol: 1e-15, "scale invariance")
        // Embeddings of different lengths are an error, not a trap.
        #expect(throws: LossError.self) { try Contrast.embeddingWeights(chosen: [[1.0, 0]], rejected: [[1.0, 0, 0]], tau: 0.5) }
    }

    @Test func rowsAreStochasticAndTheDiagonalDominates() throws {
        var rng = RNG(seed: 11)
        let e = (0..<8).map { _ in (0..<384).map { _ in Float(rng.nextDouble() - 0.5) } }
        let w = try Contrast.embeddingWeights(chosen: e, rejected: e, tau: 0.5)
        for i in 0..<8 {
            let row = w.row(i)
            expectNear([row.reduce(0, +)], [1], atol: 1e-15, "row \(i) sums to 1")
            #expect(row.allSatisfy { $0 > 0 })
            #expect(row.firstIndex(of: row.max()!) == i, "D_ii = 0 gets the largest weight of its row")
        }
        // W is not symmetric in general: rows are normalised separately (softmax over dim=1).
        #expect((0..<8).contains { i in (0..<8).contains { j in abs(w[i, j] - w[j, i]) > 1e-6 } })
    }

    @Test func pitfallExampleOfSection17() {
        // docs/method.md §17.1: B = 8, τ = 0.5, off-diagonal cosine distance 0.7 → W_ii ≈ 0.367, W_ij ≈ 0.091.
        var d = [Double](repeating: 0.7, count: 64)
        for i in 0..<8 { d[i * 8 + i] = 0 }
        let w = Contrast.rowSoftmax(distances: ContrastMatrix(rows: 8, cols: 8, values: d), tau: 0.5)
        let ii = 1 / (1 + 7 * exp(-1.4)), ij = exp(-1.4) / (1 + 7 * exp(-1.4))
        expectNear([w[0, 0], w[0, 1]], [ii, ij], atol: 1e-15, "closed form")
        expectNear([w[0, 0], w[0, 1]], [0.367, 0.091], atol: 6e-4, "§17.1 (3 decimals; 0.0905 is printed as 0.091)")
    }

    @Test func statistics() {
        // Uniform ones: entropy ln(cols), multiplier 1, diagonal 1.
        let u = Contrast.statistics(.ones(rows: 4, cols: 4), insideSigmoid: true)
        #expect(u.meanDiagonalWeight == 1 && u.effectiveBetaMultiplier == 1)
        expectNear([u.meanRowEntropy], [log(4.0)], atol: 1e-15, "uniform entropy")
        // Rectangular: no diagonal.
        #expect(Contrast.statistics(.ones(rows: 2, cols: 3), insideSigmoid: true).meanDiagonalWeight == nil)
        // Identity (DPO): entropy 0.
        let id = ContrastMatrix(rows: 3, cols: 3, values: [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let s = Contrast.statistics(id, insideSigmoid: false)
        #expect(s.meanRowEntropy == 0 && s.meanDiagonalWeight == 1 && s.effectiveBetaMultiplier == 1)
        // A flat row-stochastic B×B matrix multiplies β by 1/B on average.
        let flat = ContrastMatrix(rows: 5, cols: 5, values: [Double](repeating: 0.2, count: 25))
        expectNear([Contrast.statistics(flat, insideSigmoid: true).effectiveBetaMultiplier], [0.2], atol: 1e-15, "flat")
        // Diagonal weighting: α on the diagonal, rows sum to 1, β unchanged.
        let v = Contrast.diagonalLossWeights(size: 4, diagonalWeight: 0.8)
        expectNear(v.row(0), [0.8, 0.2 / 3, 0.2 / 3, 0.2 / 3], atol: 1e-16, "V")
        let sv = Contrast.statistics(v, insideSigmoid: false)
        expectNear([sv.meanDiagonalWeight!], [0.8], atol: 1e-15, "α")
        #expect(sv.effectiveBetaMultiplier == 1)
        expectNear([sv.meanRowEntropy], [-(0.8 * log(0.8) + 0.2 * log(0.2 / 3))], atol: 1e-15, "entropy of V")
    }
}
