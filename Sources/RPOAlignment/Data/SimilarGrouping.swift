// Micro-batches of similar prompts (rpo-pairs --grouping similar), an option the official code does not have.
// RPO's contrast matrix only relates the pairs that share a micro-batch, and with random grouping related
// prompts rarely meet there (the objection of RPO's ICLR 2025 reviews). This planner keeps the random
// epoch order's choice of which elements are dropped, then cuts the kept elements into micro-batches of
// mutually similar prompts and deals those into batches in a seeded random order:
//
//   1. shuffle the elements (the same draw as the random plan), keep the first ⌊n/B⌋·B;
//   2. greedy clusters of size m: the first unassigned element in shuffled order seeds a micro-batch, and the
//      m−1 unassigned elements most similar to it (cosine of prompt embeddings; ties broken by shuffled
//      position) join it; repeat until every kept element is assigned (the last micro-batches get what is
//      left, so they are the least coherent);
//   3. shuffle the micro-batches and deal B/m of them into each batch.
//
// Cost per epoch: n²/m dot products of the embedding dimension (1,800 pairs × 384: ~0.2 G multiply-adds).
// Deterministic for a given seed; the RNG advances by exactly two shuffles per epoch.
import Foundation
import RPOCore

/// How rpo-pairs forms the contrast scopes (micro-batches) of each batch.
public enum BatchGrouping: String, CaseIterable, Sendable, Codable {
    /// Consecutive elements of a shuffled epoch (the official code).
    case random
    /// Micro-batches of similar prompts (greedy clustering of the prompt embeddings), in a shuffled order.
    case similar
}

extension BatchPlanner {
    /// The plan of one epoch with micro-batches of similar elements. `embeddings` holds `count` rows of `dim`
    /// floats (any scale: rows are normalised here; an all-zero row is similar to nothing).
    public static func similar(count: Int, batchSize: Int, microBatch: Int, embeddings: [Float], dim: Int,
                               rng: inout RNG) -> EpochPlan {
        precondition(batchSize > 0 && microBatch > 0 && batchSize % microBatch == 0)
        precondition(embeddings.count == count * dim)
        var order = Array(0..<count)
        rng.shuffle(&order)
        let full = count / batchSize
        let kept = Array(order[0..<(full * batchSize)])
        // Unit rows, in kept (shuffled) order, so that a dot product is a cosine.
        let n = kept.count
        var unit = [Float](repeating: 0, count: n * dim)
        for (i, k) in kept.enumerated() {
            var s: Float = 0
            for j in 0..<dim { let v = embeddings[k * dim + j]; s += v * v }
            let inv: Float = s > 0 ? 1 / s.squareRoot() : 0
            for j in 0..<dim { unit[i * dim + j] = embeddings[k * dim + j] * inv }
        }
        var assigned = [Bool](repeating: false, count: n)
        var clusters: [[Int]] = []
        clusters.reserveCapacity(n / microBatch)
        var candidates: [(sim: Float, pos: Int)] = []
        candidates.reserveCapacity(n)
        var next = 0  // the first position that may still be unassigned
        unit.withUnsafeBufferPointer { u in
            while clusters.count * microBatch < n {
                while assigned[next] { next += 1 }
                let seed = next
                assigned[seed] = true
                candidates.removeAll(keepingCapacity: true)
                let a = u.baseAddress! + seed * dim
                for p in (seed + 1)..<n where !assigned[p] {
                    let b = u.baseAddress! + p * dim
                    var s: Float = 0
                    for j in 0..<dim { s += a[j] * b[j] }
                    candidates.append((s, p))
                }
                // the m−1 most similar; equal similarities keep the earlier shuffled position first
                candidates.sort { $0.sim != $1.sim ? $0.sim > $1.sim : $0.pos < $1.pos }
                var cluster = [kept[seed]]
                for c in candidates.prefix(microBatch - 1) { assigned[c.pos] = true; cluster.append(kept[c.pos]) }
                clusters.append(cluster)
            }
        }
        rng.shuffle(&clusters)
        let perBatch = batchSize / microBatch
        let batches = (0..<full).map { b in Array(clusters[(b * perBatch)..<((b + 1) * perBatch)].joined()) }
        return EpochPlan(batches: batches, dropped: count - full * batchSize)
    }
}
