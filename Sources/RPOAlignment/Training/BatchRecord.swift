// The batch record: what rpo-pairs writes and rpo-train reads, one per optimiser step (docs/records.md).
//   {"step", "epoch", "layout", "weighting", ["tau"], ["diagonal_weight"], "batch_size", "micro_batch",
//    "groups": [[positions]], ["weights": [[[Float]]] one matrix per group], ["stats": {...}], "examples": [...]}
// `TrainingBatch` decodes and validates one (for rpo-train) and writes everything but the examples (for rpo-pairs,
// which splices the stored example bytes in after it). The batch formation itself is Data/Batching.swift.
import Foundation
import RPOCore

/// What one element of a batch is.
public enum BatchLayout: String, CaseIterable, Sendable {
    /// One element per unique prompt, its SFT target (SFTDataLoader).
    case sft
    /// One element per (prompt, pair) (PairedPreferenceDataLoader).
    case paired
    /// Pairs split into chosen and rejected items, interleaved c, r, c, r (SimpleKTODataLoader).
    case unpaired
}

/// How the contrast between a micro-batch's chosen and rejected sequences is weighted (docs/method.md §6.6-§6.9).
public enum ContrastWeighting: String, CaseIterable, Sendable {
    /// W = rowSoftmax(−D/τ) from the cosine distance of prompt embeddings (rpo-paired, rpo-unpaired).
    case embedding
    /// W = ones: the "uniform" ablation (RPO with `prompts_emb = None`).
    case uniform
    /// rpo-diagonal: α on each pair's own cell, (1−α)/(B−1) elsewhere, weighting the losses (paired only).
    case diagonal
    /// No contrast matrix: DPO and the other paired baselines, SFT, the KTO family.
    case none
}

public struct TrainingBatch: Sendable {
    /// 0-based index of the batch in the whole plan (= the optimiser step it feeds, before skips).
    public var step: Int
    public var epoch: Int
    public var layout: BatchLayout
    public var weighting: ContrastWeighting
    /// τ of the embedding weights (embedding weighting only).
    public var tau: Double?
    /// α of the diagonal weighting (diagonal only).
    public var diagonalWeight: Double?
    public var batchSize: Int
    public var microBatch: Int
    /// The contrast scopes (micro-batches): positions into `examples`, each exactly once.
    public var groups: [[Int]]
    /// One matrix per group (embedding weighting only), rows = the group's chosen sequences in batch order,
    /// columns = its rejected sequences in batch order (paired: chosen and rejected of the same B pairs).
    public var weights: [ContrastMatrix]?
    public var stats: ContrastStatistics?
    /// Pair records (paired layout) or item records (sft, unpaired), as rpo-pairs received them minus the
    /// embedding field (items: see docs/records.md).
    public var examples: [JSONObject]

    /// `examples` may be left empty by a writer that splices the examples in itself (rpo-pairs).
    public init(step: Int, epoch: Int, layout: BatchLayout, weighting: ContrastWeighting, tau: Double?, diagonalWeight: Double?,
                batchSize: Int, microBatch: Int, groups: [[Int]], weights: [ContrastMatrix]?, stats: ContrastStatistics?,
                examples: [JSONObject]) {
        self.step = step; self.epoch = epoch; self.layout = layout; self.weighting = weighting; self.tau = tau
        self.diagonalWeight = diagonalWeight; self.batchSize = batchSize; self.microBatch = microBatch; self.groups = groups
        self.weights = weights; self.stats = stats; self.examples = examples
    }

    /// For an unpaired group: the positions of its chosen and rejected items, each in batch order.
    public func statusSplit(group g: Int) -> (chosen: [Int], rejected: [Int]) {
        var c: [Int] = [], r: [Int] = []
        for k in groups[g] {
            if examples[k]["status"]?.stringValue == "chosen" { c.append(k) } else { r.append(k) }
        }
        return (c, r)
    }

    /// The matrix RPO puts inside the sigmoid for group g: the stored weights (embedding), ones (uniform), or nil
    /// (diagonal weighting uses `Losses.rpoDiagonal`, none a baseline loss).
    public func contrastMatrix(group g: Int) -> ContrastMatrix? {
        switch weighting {
        case .embedding: return weights?[g]
        case .uniform:
            if layout == .unpaired { let s = statusSplit(group: g); return .ones(rows: s.chosen.count, cols: s.rejected.count) }
            return .ones(rows: groups[g].count, cols: groups[g].count)
        case .diagonal, .none: return nil
        }
    }

    // MARK: - Writing

    /// Every field but `examples`, in schema order. Weights are stored as Float (shortest round-trip form).
    public func header() -> JSONObject {
        var o = JSONObject()
        o["step"] = .int(step)
        o["epoch"] = .int(epoch)
        o["layout"] = .string(layout.rawValue)
        o["weighting"] = .string(weighting.rawValue)
        if let t = tau { o["tau"] = .double(t) }
        if let a = diagonalWeight { o["diagonal_weight"] = .double(a) }
        o["batch_size"] = .int(batchSize)
        o["micro_batch"] = .int(microBatch)
        o["groups"] = .array(groups.map { JSON.ints($0) })
        if let ws = weights {
            o["weights"] = .array(ws.map { w in .array((0..<w.rows).map { i in JSON.floats(w.row(i).map { Float($0) }) }) })
        }
        if let s = stats { o["stats"] = .object(TrainingBatch.statsObject(s)) }
        return o
    }

    static func statsObject(_ s: ContrastStatistics) -> JSONObject {
        var o = JSONObject()
        if let d = s.meanDiagonalWeight { o["mean_diagonal_weight"] = .double(d) }
        o["mean_row_entropy"] = .double(s.meanRowEntropy)
        o["effective_beta_multiplier"] = .double(s.effectiveBetaMultiplier)
        return o
    }

    /// The whole record (tests and small producers; rpo-pairs splices stored bytes instead).
    public func record() -> JSONObject {
        var o = header()
        o["examples"] = .array(examples.map { .object($0) })
        return o
    }

    // MARK: - Reading

    /// How far a stored contrast row may sum from 1 (float32 rounding of a softmax row is far below this).
    public static let rowSumTolerance = 1e-3

    /// Decodes and checks a batch record: known layout and weighting, groups that partition the examples,
    /// one finite matrix of the right shape per group for embedding weighting.
    public init(record o: JSONObject, source: String, record n: Int?) throws(RecordError) {
        func fail(_ m: String) -> RecordError { RecordError(source: source, record: n, "batch record: " + m) }
        func field(_ k: String) -> RecordField { o.field(k, source: source, record: n) }
        do {
            step = try field("step").int()
            epoch = try field("epoch").int()
            let l = try field("layout").string()
            guard let layout = BatchLayout(rawValue: l) else { throw fail("unknown layout \"\(l)\"") }
            self.layout = layout
            let w = try field("weighting").string()
            guard let weighting = ContrastWeighting(rawValue: w) else { throw fail("unknown weighting \"\(w)\"") }
            self.weighting = weighting
            tau = field("tau").exists ? try field("tau").double() : nil
            diagonalWeight = field("diagonal_weight").exists ? try field("diagonal_weight").double() : nil
            batchSize = try field("batch_size").int()
            microBatch = try field("micro_batch").int()
            let ex = try field("examples").array()
            examples = try ex.enumerated().map { (i, e) throws(RecordError) -> JSONObject in
                guard let obj = e.objectValue else { throw fail("examples[\(i)] is not an object") }
                return obj
            }
            guard examples.count == batchSize else { throw fail("\(examples.count) examples, batch_size \(batchSize)") }
            groups = []
            for (gi, g) in try field("groups").array().enumerated() {
                guard let a = g.arrayValue else { throw fail("groups[\(gi)] is not an array") }
                groups.append(try a.map { (x) throws(RecordError) -> Int in
                    guard let k = x.intValue else { throw fail("groups[\(gi)] holds a non-integer") }
                    return k
                })
            }
            var seen = [Bool](repeating: false, count: examples.count)
            for g in groups { for k in g {
                guard k >= 0 && k < examples.count && !seen[k] else {
                    throw fail("groups must use each of the \(examples.count) example positions exactly once (position \(k))")
                }
                seen[k] = true
            } }
            if seen.contains(false) { throw fail("groups leave example positions out") }
            stats = nil
            weights = nil
            if weighting == .embedding {
                guard tau != nil else { throw fail("embedding weighting without \"tau\"") }
                let ws = try field("weights").array()
                guard ws.count == groups.count else { throw fail("\(ws.count) weight matrices for \(groups.count) groups") }
                var mats: [ContrastMatrix] = []
                for (gi, m) in ws.enumerated() {
                    let (rows, cols): (Int, Int)
                    if layout == .unpaired { let s = statusSplit(group: gi); (rows, cols) = (s.chosen.count, s.rejected.count) }
                    else { (rows, cols) = (groups[gi].count, groups[gi].count) }
                    guard let rs = m.arrayValue, rs.count == rows else { throw fail("weights[\(gi)] must have \(rows) rows") }
                    var v: [Double] = []
                    v.reserveCapacity(rows * cols)
                    for (ri, r) in rs.enumerated() {
                        guard let cs = r.arrayValue, cs.count == cols else { throw fail("weights[\(gi)][\(ri)] must have \(cols) values") }
                        var sum = 0.0
                        for c in cs {
                            guard let x = c.doubleValue, x.isFinite else { throw fail("weights[\(gi)][\(ri)] holds a non-finite value") }
                            guard x >= 0 else { throw fail("weights[\(gi)][\(ri)] holds a negative value (\(x))") }
                            sum += x
                            v.append(x)
                        }
                        // Each row is a softmax (stored as float32): a distribution up to rounding.
                        guard abs(sum - 1) <= TrainingBatch.rowSumTolerance else {
                            throw fail("weights[\(gi)][\(ri)] sums to \(sum), not 1 (each row of an embedding-weighted contrast is a distribution)")
                        }
                    }
                    mats.append(ContrastMatrix(rows: rows, cols: cols, values: v))
                }
                weights = mats
            }
            if weighting == .diagonal && diagonalWeight == nil { throw fail("diagonal weighting without \"diagonal_weight\"") }
            if let s = o["stats"]?.objectValue {
                stats = ContrastStatistics(meanDiagonalWeight: s["mean_diagonal_weight"]?.doubleValue,
                                           meanRowEntropy: s["mean_row_entropy"]?.doubleValue ?? .nan,
                                           effectiveBetaMultiplier: s["effective_beta_multiplier"]?.doubleValue ?? .nan)
            }
        } catch let e as RecordError {
            throw e
        } catch {
            throw fail("\(error)")
        }
    }
}
