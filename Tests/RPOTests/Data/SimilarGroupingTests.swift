// rpo-pairs --grouping similar: the planner's invariants (each kept element once, the same elements dropped as
// the random plan of the same seed, deterministic), its clustering on data with a known answer, and the tool's
// option checks and telemetry.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct SimilarGroupingTests {
    /// `clusters` well-separated directions (one-hot axes plus small per-element noise), `size` elements each,
    /// in interleaved order (element k belongs to cluster k % clusters).
    static func separated(clusters: Int, size: Int, dim: Int = 16, seed: UInt64 = 3) -> [Float] {
        var rng = RNG(seed: seed)
        var e = [Float](repeating: 0, count: clusters * size * dim)
        for k in 0..<(clusters * size) {
            for j in 0..<dim { e[k * dim + j] = 0.05 * (rng.nextFloat() - 0.5) }
            e[k * dim + k % clusters] += 1
        }
        return e
    }

    @Test func microBatchesAreTheClustersWhenTheDataHasThem() {
        // 6 clusters of 8, micro-batches of 8, batches of 16: the greedy planner must recover every cluster
        // exactly (within-cluster cosine ≈ 1, across ≈ 0), and random grouping must not.
        let emb = Self.separated(clusters: 6, size: 8)
        var rng = RNG(seed: 11)
        let plan = BatchPlanner.similar(count: 48, batchSize: 16, microBatch: 8, embeddings: emb, dim: 16, rng: &rng)
        #expect(plan.batches.count == 3 && plan.dropped == 0)
        for b in plan.batches {
            for g in BatchPlanner.groups(batchSize: 16, microBatch: 8) {
                #expect(Set(g.map { b[$0] % 6 }).count == 1, "micro-batch \(g.map { b[$0] }) mixes clusters")
            }
        }
        var rng2 = RNG(seed: 11)
        let random = BatchPlanner.sequential(count: 48, batchSize: 16, rng: &rng2)
        let pure = random.batches.flatMap { b in BatchPlanner.groups(batchSize: 16, microBatch: 8).map { g in Set(g.map { b[$0] % 6 }).count == 1 } }
        #expect(pure.filter { $0 }.count < pure.count, "random grouping happened to be clustered: the test shows nothing")
    }

    @Test(arguments: [(37, 8, 4), (100, 16, 8), (64, 64, 8), (50, 10, 5), (9, 4, 1)])
    func keepsTheRandomPlansElementsOnceEachAndIsDeterministic(_ count: Int, _ batchSize: Int, _ microBatch: Int) {
        var rng = RNG(seed: 5)
        let emb = (0..<(count * 8)).map { _ in rng.nextFloat() - 0.5 }
        var a = RNG(seed: 9), b = RNG(seed: 9), c = RNG(seed: 9)
        let plan = BatchPlanner.similar(count: count, batchSize: batchSize, microBatch: microBatch, embeddings: emb, dim: 8, rng: &a)
        let again = BatchPlanner.similar(count: count, batchSize: batchSize, microBatch: microBatch, embeddings: emb, dim: 8, rng: &b)
        let random = BatchPlanner.sequential(count: count, batchSize: batchSize, rng: &c)
        #expect(plan == again)
        #expect(plan.dropped == random.dropped && plan.batches.count == random.batches.count)
        #expect(plan.batches.allSatisfy { $0.count == batchSize })
        let flat = plan.batches.flatMap { $0 }
        #expect(Set(flat).count == flat.count, "an element twice")
        #expect(Set(flat) == Set(random.batches.flatMap { $0 }), "not the random plan's elements")
        var other = RNG(seed: 10)  // every case has several batches or several micro-batches per batch to reorder
        #expect(BatchPlanner.similar(count: count, batchSize: batchSize, microBatch: microBatch, embeddings: emb, dim: 8, rng: &other) != plan)
    }

    @Test func aZeroEmbeddingIsSimilarToNothingButStillPlaced() {
        var emb = Self.separated(clusters: 2, size: 4, dim: 4)
        for j in 0..<4 { emb[3 * 4 + j] = 0 }
        var rng = RNG(seed: 2)
        let plan = BatchPlanner.similar(count: 8, batchSize: 8, microBatch: 4, embeddings: emb, dim: 4, rng: &rng)
        #expect(Set(plan.batches.flatMap { $0 }) == Set(0..<8))
    }

    @Test func optionsAndTelemetry() throws {
        var o = PairsOptions(layout: .unpaired, weighting: .embedding)
        o.grouping = .similar
        #expect(throws: PairsError.self) { try o.validate() }
        o = PairsOptions(layout: .sft, weighting: .none); o.grouping = .similar
        #expect(throws: PairsError.self) { try o.validate() }

        // 4 clusters of 8 pairs: with embedding weights, similar grouping spreads each row's weight over its
        // (similar) micro-batch, so the mean diagonal weight falls and the row entropy rises towards log 8.
        let emb = Self.separated(clusters: 4, size: 8, dim: 8)
        let records = (0..<32).map { k in PairsCLITests.pair(k, embedding: (0..<8).map { Double(emb[k * 8 + $0]) }) }
        var stats: [String: (diag: Double, entropy: Double)] = [:]
        for grouping in ["random", "similar"] {
            let (r, batches, _) = try PairsCLITests.run(records, ["--layout", "paired", "--batch-size", "16", "--micro-batch", "8",
                                                                  "--tau", "0.5", "--grouping", grouping, "--stats", "--seed", "4"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("\(grouping) grouping"))
            #expect(batches.count == 2)
            stats[grouping] = (batches.map { $0.stats!.meanDiagonalWeight! }.reduce(0, +) / 2,
                               batches.map { $0.stats!.meanRowEntropy }.reduce(0, +) / 2)
            if grouping == "similar" {
                for b in batches { for g in b.groups { #expect(Set(g.map { PairsCLITests.id(b.examples[$0]) % 4 }).count == 1) } }
            }
        }
        #expect(stats["similar"]!.diag < stats["random"]!.diag)
        #expect(stats["similar"]!.entropy > stats["random"]!.entropy)
        #expect(stats["similar"]!.entropy > 0.99 * log(8.0), "a cluster's rows are near-uniform over its 8 pairs")

        // uniform weighting with similar grouping still needs the embeddings, and says so with the record
        var bad = records; bad[5]["prompt_embedding"] = nil
        let (r, _, _) = try PairsCLITests.run(bad, ["--layout", "paired", "--batch-size", "16", "--micro-batch", "8",
                                                   "--weighting", "uniform", "--grouping", "similar"])
        #expect(r.status != 0 && r.stdout.isEmpty)
        #expect(r.stderr.contains(":6: missing field \"prompt_embedding\""), "\(r.stderr)")
    }
}
