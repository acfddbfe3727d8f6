// RPO's contrast matrices (docs/method.md §6.6-§6.8; trainers.py:815-822, 854-865 at c1b5163), in Double:
// prompt embeddings L2-normalised as F.normalize (eps 1e-12), cosine distance D = 1 − Ê_c Ê_rᵀ, and
// W = softmax(−D/τ) over each row (dim=1: over the rejected/column index for each chosen row). Paired: B×B over
// one micro-batch's prompts; unpaired: chosen items × rejected items. Also the statistics rpo-pairs reports.
import Foundation
import RPOCore

/// A dense row-major matrix of contrast weights: rows = chosen sequences, columns = rejected sequences.
public struct ContrastMatrix: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public var values: [Double]

    public init(rows: Int, cols: Int, values: [Double]) {
        precondition(values.count == rows * cols, "a \(rows)×\(cols) matrix has \(rows * cols) values")
        self.rows = rows; self.cols = cols; self.values = values
    }

    /// All ones: RPO's "uniform" path (`distance_weights = torch.ones_like(logits)`; ones, not 1/B).
    public static func ones(rows: Int, cols: Int) -> ContrastMatrix {
        ContrastMatrix(rows: rows, cols: cols, values: [Double](repeating: 1, count: rows * cols))
    }

    public subscript(i: Int, j: Int) -> Double { values[i * cols + j] }

    /// Row i as an array.
    public func row(_ i: Int) -> [Double] { Array(values[(i * cols)..<((i + 1) * cols)]) }
}

/// Summary numbers of a contrast matrix (per micro-batch; rpo-pairs averages them over a batch and a run).
public struct ContrastStatistics: Equatable, Sendable {
    /// Mean of W_ii (square matrices only): the factor multiplying β inside the sigmoid for each pair's own
    /// chosen/rejected cell (for `diagonal` weighting: the share α of each row's loss on its own pair).
    public var meanDiagonalWeight: Double?
    /// Mean over rows of the entropy (nats) of the row normalised to sum 1: ln(cols) for uniform rows,
    /// 0 when all of a row's weight is on one cell.
    public var meanRowEntropy: Double
    /// Σ W² / Σ W: the mean factor multiplying β inside the sigmoid, each cell weighted by its share of the
    /// gradient at initialisation (∝ W_ij when Z = 0). 1 for DPO, uniform and diagonal weighting (the latter
    /// weights losses, not logits); ≈ 1/B for flat embedding weights.
    public var effectiveBetaMultiplier: Double

    public init(meanDiagonalWeight: Double?, meanRowEntropy: Double, effectiveBetaMultiplier: Double) {
        self.meanDiagonalWeight = meanDiagonalWeight; self.meanRowEntropy = meanRowEntropy
        self.effectiveBetaMultiplier = effectiveBetaMultiplier
    }
}

public enum Contrast {
    /// F.normalize's eps: ê = e / max(‖e‖₂, eps).
    public static let normalizeEpsilon = 1e-12

    /// e / max(‖e‖₂, 1e-12) in Double (torch.nn.functional.normalize(p=2, dim=1) on one row).
    public static func normalized<C: Collection>(_ e: C) -> [Double] where C.Element: BinaryFloatingPoint {
        var ss = 0.0
        for x in e { let d = Double(x); ss += d * d }
        let denom = max(ss.squareRoot(), normalizeEpsilon)
        return e.map { Double($0) / denom }
    }

    /// D[i][j] = 1 − ĉ_i · r̂_j for already normalised rows (torch: `1 - torch.mm(norm_c, norm_r.t())`).
    /// Rows of different lengths are an error.
    public static func cosineDistances(chosen: [[Double]], rejected: [[Double]]) throws(LossError) -> ContrastMatrix {
        let dims = Set((chosen + rejected).map(\.count))
        if dims.count > 1 { throw LossError.shapeMismatch("prompt embeddings of one micro-batch have different lengths \(dims.sorted())") }
        var v = [Double](repeating: 0, count: chosen.count * rejected.count)
        for (i, c) in chosen.enumerated() {
            for (j, r) in rejected.enumerated() {
                var dot = 0.0
                for k in 0..<c.count { dot += c[k] * r[k] }
                v[i * rejected.count + j] = 1 - dot
            }
        }
        return ContrastMatrix(rows: chosen.count, cols: rejected.count, values: v)
    }

    /// W = softmax(−D/τ, dim=1), each row shifted by its maximum before exponentiating (as torch's softmax).
    public static func rowSoftmax(distances d: ContrastMatrix, tau: Double) -> ContrastMatrix {
        var w = d
        for i in 0..<d.rows {
            let base = i * d.cols
            var mx = -Double.infinity
            for j in 0..<d.cols { mx = max(mx, -d.values[base + j] / tau) }
            var sum = 0.0
            for j in 0..<d.cols {
                let e = exp(-d.values[base + j] / tau - mx)
                w.values[base + j] = e
                sum += e
            }
            for j in 0..<d.cols { w.values[base + j] /= sum }
        }
        return w
    }

    /// RPO's embedding weights from raw (unnormalised) prompt embeddings: paired passes the same B embeddings as
    /// `chosen` and `rejected`; unpaired the chosen items' and the rejected items' prompt embeddings.
    public static func embeddingWeights<E: Collection>(chosen: [E], rejected: [E], tau: Double) throws(LossError) -> ContrastMatrix
    where E.Element: BinaryFloatingPoint {
        rowSoftmax(distances: try cosineDistances(chosen: chosen.map { normalized($0) }, rejected: rejected.map { normalized($0) }),
                   tau: tau)
    }

    /// The loss weights V of `rpo-diagonal` (§6.8): α on the diagonal, (1−α)/(B−1) elsewhere (rows sum to 1).
    /// They multiply the per-cell LOSSES, not the logits; B ≥ 2.
    public static func diagonalLossWeights(size b: Int, diagonalWeight alpha: Double) -> ContrastMatrix {
        precondition(b >= 2, "diagonal weighting needs at least 2 pairs")
        let off = (1 - alpha) / Double(b - 1)
        var v = [Double](repeating: off, count: b * b)
        for i in 0..<b { v[i * b + i] = alpha }
        return ContrastMatrix(rows: b, cols: b, values: v)
    }

    /// Statistics of one matrix. `insideSigmoid`: the weights multiply β inside the sigmoid (embedding and uniform
    /// weighting); false for loss weights (diagonal weighting) and DPO, whose β multiplier is 1.
    public static func statistics(_ w: ContrastMatrix, insideSigmoid: Bool) -> ContrastStatistics {
        var entropy = 0.0, sum = 0.0, sumSq = 0.0
        for i in 0..<w.rows {
            let row = w.values[(i * w.cols)..<((i + 1) * w.cols)]
            let rs = row.reduce(0, +)
            var h = 0.0
            if rs > 0 { for x in row where x > 0 { let p = x / rs; h -= p * log(p) } }
            entropy += h
            for x in row { sum += x; sumSq += x * x }
        }
        let diag: Double? = w.rows == w.cols && w.rows > 0
            ? (0..<w.rows).reduce(0.0) { $0 + w[$1, $1] } / Double(w.rows) : nil
        return ContrastStatistics(meanDiagonalWeight: diag,
                                  meanRowEntropy: w.rows > 0 ? entropy / Double(w.rows) : 0,
                                  effectiveBetaMultiplier: insideSigmoid ? (sum > 0 ? sumSq / sum : 0) : 1)
    }
}
