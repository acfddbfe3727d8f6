// rpo-pairs' library entry point: example records in, batch records out (the whole training plan of rpo-train).
// One epoch's elements are held in memory, compactly: each as its serialized JSON bytes in one arena, each
// prompt embedding as float32 in one table. Every epoch is planned by BatchPlanner, each micro-batch's contrast
// matrix computed in Double (Contrast) and written as Float.
import Foundation
import RPOCore
import RPOAlignment

/// Options of a run (the tool's flags).
public struct PairsOptions: Sendable {
    public var layout: BatchLayout
    public var batchSize: Int = 64
    /// The contrast scope: the paper's per-GPU batch (64 global / 8 GPUs). Equal to `batchSize` for whole-batch matrices.
    public var microBatch: Int = 8
    public var weighting: ContrastWeighting
    public var tau: Double = 0.5
    public var diagonalWeight: Double = 0.8
    public var epochs: Int = 1
    public var seed: UInt64 = 1
    /// Stop after the batch at which this many elements have been emitted (upstream's `n_examples`).
    public var maxExamples: Int?
    public var embeddingField: String = "prompt_embedding"
    /// How the micro-batches are formed: random (as upstream) or of similar prompts.
    public var grouping: BatchGrouping = .random

    /// Whether records must carry prompt embeddings.
    var needsEmbeddings: Bool { weighting == .embedding || grouping == .similar }

    public init(layout: BatchLayout, weighting: ContrastWeighting) { self.layout = layout; self.weighting = weighting }

    /// The combinations that make sense, as usage errors.
    public func validate() throws(PairsError) {
        func bad(_ m: String) -> PairsError { .usage(m) }
        if batchSize < 1 { throw bad("--batch-size must be positive") }
        if microBatch < 1 { throw bad("--micro-batch must be positive") }
        if batchSize % microBatch != 0 { throw bad("--batch-size \(batchSize) is not a multiple of --micro-batch \(microBatch)") }
        if epochs < 1 { throw bad("--epochs must be at least 1") }
        if let m = maxExamples, m < 1 { throw bad("--max-examples must be positive") }
        if !(tau > 0) || !tau.isFinite { throw bad("--tau must be a positive number") }
        if !(0...1).contains(diagonalWeight) { throw bad("--diagonal-weight must be between 0 and 1") }
        switch layout {
        case .sft:
            if weighting != .none { throw bad("the sft layout has no contrast: use --weighting none") }
        case .unpaired:
            if batchSize % 2 != 0 || microBatch % 2 != 0 {
                throw bad("the unpaired layout interleaves chosen and rejected items: --batch-size and --micro-batch must be even")
            }
            if weighting == .diagonal { throw bad("diagonal weighting needs pairs: use the paired layout") }
        case .paired:
            if weighting == .diagonal && microBatch < 2 {
                throw bad("diagonal weighting needs at least 2 pairs per micro-batch (--micro-batch)")
            }
        }
        if grouping == .similar && layout != .paired {
            throw bad("--grouping similar forms micro-batches of similar pairs: it needs the paired layout")
        }
    }
}

public enum PairsError: Error, CustomStringConvertible, Sendable {
    /// Options that do not fit together (exit 64).
    case usage(String)
    public var description: String { switch self { case .usage(let m): return m } }
}

/// What a run did, for the tool's summary on standard error.
public struct PairsSummary: Sendable {
    public var inputRecords = 0
    /// Elements per epoch: unique prompts (sft), pairs (paired) or items (unpaired).
    public var elements = 0
    public var batches = 0
    public var examplesWritten = 0
    public var droppedPerEpoch: [Int] = []
    public var stoppedEarly = false
    /// Means over all batches of the per-batch statistics (nil without a contrast matrix).
    public var meanDiagonalWeight: Double?
    public var minDiagonalWeight: Double?
    public var maxDiagonalWeight: Double?
    public var meanRowEntropy: Double?
    public var effectiveBetaMultiplier: Double?
}

public enum PairsBuilder {
    /// Reads every record of `input`, then writes the batches of `options.epochs` epochs to `output`.
    /// `progress` is called with (records read, batches written).
    public static func run(input: RecordReader, output: RecordWriter, options: PairsOptions,
                           progress: ((Int, Int) -> Void)? = nil) throws -> PairsSummary {
        try options.validate()
        var store = try ElementStore.load(input, options: options, progress: progress)
        var summary = PairsSummary()
        summary.inputRecords = store.records
        summary.elements = store.count
        var rng = RNG(seed: options.seed)
        let groups = BatchPlanner.groups(batchSize: options.batchSize, microBatch: options.microBatch)
        // similar grouping clusters the same embeddings every epoch: gathered once
        let embeddings = options.grouping == .similar ? store.elementEmbeddings() : []
        var statSums = (diag: 0.0, diagN: 0, entropy: 0.0, mult: 0.0, n: 0)
        var line: [UInt8] = []
        epochs: for epoch in 0..<options.epochs {
            let plan = options.layout == .unpaired
                ? BatchPlanner.interleaved(isChosen: store.isChosen, batchSize: options.batchSize, rng: &rng)
                : options.grouping == .similar
                ? BatchPlanner.similar(count: store.count, batchSize: options.batchSize, microBatch: options.microBatch,
                                       embeddings: embeddings, dim: store.dim, rng: &rng)
                : BatchPlanner.sequential(count: store.count, batchSize: options.batchSize, rng: &rng)
            summary.droppedPerEpoch.append(plan.dropped)
            let contrasts = try epochContrasts(plan.batches, groups: groups, store: store, options: options)
            for (b, batch) in plan.batches.enumerated() {
                let (weights, stats) = contrasts[b]
                let tb = TrainingBatch(step: summary.batches, epoch: epoch, layout: options.layout, weighting: options.weighting,
                                       tau: options.weighting == .embedding ? options.tau : nil,
                                       diagonalWeight: options.weighting == .diagonal ? options.diagonalWeight : nil,
                                       batchSize: batch.count, microBatch: options.microBatch, groups: groups, weights: weights,
                                       stats: stats, examples: [])
                line.removeAll(keepingCapacity: true)
                try JSONSerializer.write(tb.header(), to: &line)
                line.removeLast()  // "}"
                line.append(contentsOf: #","examples":["#.utf8)
                for (i, e) in batch.enumerated() {
                    if i > 0 { line.append(UInt8(ascii: ",")) }
                    store.appendBytes(of: e, to: &line)
                }
                line.append(contentsOf: "]}".utf8)
                try output.writeLine(String(decoding: line, as: UTF8.self))
                if let s = stats {
                    if let d = s.meanDiagonalWeight {
                        statSums.diag += d; statSums.diagN += 1
                        summary.minDiagonalWeight = min(summary.minDiagonalWeight ?? d, d)
                        summary.maxDiagonalWeight = max(summary.maxDiagonalWeight ?? d, d)
                    }
                    statSums.entropy += s.meanRowEntropy; statSums.mult += s.effectiveBetaMultiplier; statSums.n += 1
                }
                summary.batches += 1
                summary.examplesWritten += batch.count
                progress?(store.records, summary.batches)
                if let m = options.maxExamples, summary.examplesWritten >= m { summary.stoppedEarly = true; break epochs }
            }
        }
        store.release()
        if statSums.n > 0 {
            summary.meanRowEntropy = statSums.entropy / Double(statSums.n)
            summary.effectiveBetaMultiplier = statSums.mult / Double(statSums.n)
            if statSums.diagN > 0 { summary.meanDiagonalWeight = statSums.diag / Double(statSums.diagN) }
        }
        return summary
    }

    /// The contrasts of every batch of an epoch, computed on the worker team (Parallel: one thread per core; each
    /// batch independently, so the result does not depend on the split).
    static func epochContrasts(_ batches: [[Int]], groups: [[Int]], store: ElementStore,
                               options: PairsOptions) throws -> [([ContrastMatrix]?, ContrastStatistics?)] {
        var out = [Result<([ContrastMatrix]?, ContrastStatistics?), Error>](repeating: .success((nil, nil)), count: batches.count)
        out.withUnsafeMutableBufferPointer { o in
            let box = UncheckedSendable((o, store))
            Parallel.forRanges(batches.count, costPerItem: options.weighting == .embedding ? 4096 : 64) { r in
                let (results, store) = box.value
                for b in r { results[b] = Result { try contrast(batches[b], groups: groups, store: store, options: options) } }
            }
        }
        return try out.map { try $0.get() }
    }

    /// The weights (embedding weighting) and the statistics of one batch, group by group.
    static func contrast(_ batch: [Int], groups: [[Int]], store: ElementStore,
                         options: PairsOptions) throws -> ([ContrastMatrix]?, ContrastStatistics?) {
        var mats: [ContrastMatrix] = []
        var stats: [ContrastStatistics] = []
        for g in groups {
            let members = g.map { batch[$0] }
            let chosen: [Int], rejected: [Int]
            if options.layout == .unpaired {
                chosen = members.filter { store.isChosen[$0] }
                rejected = members.filter { !store.isChosen[$0] }
            } else {
                chosen = members; rejected = members
            }
            switch options.weighting {
            case .embedding:
                let w = try Contrast.embeddingWeights(chosen: chosen.map { store.embedding(of: $0) },
                                                  rejected: rejected.map { store.embedding(of: $0) }, tau: options.tau)
                mats.append(w)
                stats.append(Contrast.statistics(w, insideSigmoid: true))
            case .uniform:
                stats.append(Contrast.statistics(.ones(rows: chosen.count, cols: rejected.count), insideSigmoid: true))
            case .diagonal:
                stats.append(Contrast.statistics(Contrast.diagonalLossWeights(size: g.count, diagonalWeight: options.diagonalWeight),
                                                 insideSigmoid: false))
            case .none:
                break
            }
        }
        guard !stats.isEmpty else { return (nil, nil) }
        let n = Double(stats.count)
        // Unpaired items of a micro-batch come from unrelated prompts: their matrices have no diagonal.
        let diags = options.layout == .unpaired ? [] : stats.compactMap(\.meanDiagonalWeight)
        let merged = ContrastStatistics(meanDiagonalWeight: diags.count == stats.count ? diags.reduce(0, +) / n : nil,
                                        meanRowEntropy: stats.reduce(0) { $0 + $1.meanRowEntropy } / n,
                                        effectiveBetaMultiplier: stats.reduce(0) { $0 + $1.effectiveBetaMultiplier } / n)
        return (options.weighting == .embedding ? mats : nil, merged)
    }
}
