// The training loop of rpo-train: the official BasicTrainer.train (docs/method.md §9.3) on one process, with the
// per-device micro-batches of FSDP as the batch record's contrast groups. Per batch record: reference log-probs
// (precomputed in the record, or from the frozen reference model), policy log-probs, each group's official loss
// and its gradient w.r.t. the sequence log-probs (Losses), then the model backward seeded with those scalars,
// scaled by 1/(groups × gradient accumulation) as FSDP's gradient averaging and `loss / GA` do. Every GA records:
// global-norm clipping, the optimizer step (RMSprop / AdamW), the warmup schedule, one metrics record.
// Memory: sequences go through the model `memoryMicroBatch` at a time. Every loss depends on the policy only
// through per-sequence log-probs, so when a record does not fit at once the log-probs of all chunks are computed
// first without activations (the last chunk keeps its activations), the loss and d(loss)/d(logp) on the whole
// record, then each other chunk is re-run with activations and back-propagated from its cached scalar gradients
// (GradCache: Gao et al. 2021, arXiv 2101.06983): exact, at the cost of one more forward of all but the last chunk.
import Foundation
import RPOCore

public enum OptimizerKind: String, CaseIterable, Sendable { case rmsprop, adamw }

/// Hyper-parameters of a run (saved with every checkpoint; a resumed run keeps them).
public struct TrainerConfiguration: Equatable, Sendable {
    public var loss: LossKind
    public var parameters: LossParameters
    public var optimizer: OptimizerKind = .rmsprop
    public var learningRate: Double = 5e-7
    public var warmupSteps: Int = 150
    public var maxGradNorm: Double = 10
    /// nil: the optimizer's default (RMSprop 0, AdamW 0.01).
    public var weightDecay: Double? = nil
    public var gradientAccumulation: Int = 1
    public var seed: UInt64 = 1

    /// The official defaults for `loss` (config/config.yaml, config/loss/*.yaml).
    public init(loss: LossKind) { self.loss = loss; parameters = loss.defaults }

    public var effectiveWeightDecay: Double { weightDecay ?? (optimizer == .adamw ? 0.01 : 0) }

    public func validate() throws(TrainError) {
        func bad(_ m: String) -> TrainError { .configuration(m) }
        if !(learningRate > 0 && learningRate.isFinite) { throw bad("the learning rate must be positive, got \(learningRate)") }
        if warmupSteps < 0 { throw bad("warmup steps must be >= 0") }
        if !(maxGradNorm > 0) { throw bad("the maximum gradient norm must be positive") }
        if gradientAccumulation < 1 { throw bad("gradient accumulation must be >= 1") }
        if !(parameters.beta > 0 && parameters.beta.isFinite) { throw bad("beta must be positive") }
        if let w = weightDecay, !(w >= 0) { throw bad("weight decay must be >= 0") }
        if !(0...1).contains(parameters.diagonalWeight) { throw bad("the diagonal weight must be in [0, 1]") }
    }
}

/// How a run is executed (may change on resume without changing the result, up to float rounding for
/// `memoryMicroBatch`).
public struct TrainerOptions: Sendable {
    /// Sequences through the model at once.
    public var memoryMicroBatch = 16
    /// Stop after this many optimizer steps (counted over the whole run, resumed parts included).
    public var maxSteps: Int? = nil
    /// Write a checkpoint every N optimizer steps (and always at the end).
    public var checkpointEvery: Int? = nil
    /// Accept precomputed reference log-probs whose `reference_model` differs from the reference's fingerprint.
    public var allowReferenceMismatch = false
    /// Evaluate on `Trainer.evalBatches` whenever the examples counter is a multiple of this (upstream
    /// `eval_every`, already rounded down to a multiple of the batch size); nil: never.
    public var evalEvery: Int? = nil
    /// Evaluate before the first step too (upstream `do_first_eval`, default true).
    public var firstEval = true
    public init() {}
}

public enum TrainError: Error, CustomStringConvertible, Equatable {
    case configuration(String)
    case nonFinite(String)
    case checkpoint(String)
    case reference(String)

    public var description: String {
        switch self {
        case .configuration(let m), .checkpoint(let m), .reference(let m): return m
        case .nonFinite(let m): return m + "; stopped without taking the step (the last checkpoint is kept)"
        }
    }
}

/// Where the loop's output goes: one metrics record per optimizer step, optional per-example telemetry, progress.
public struct TrainerSinks {
    /// Metrics records: one per optimizer step, and one per evaluation (marked `"mode": "eval"`).
    public var metrics: (JSONObject) throws -> Void
    public var perExample: ((JSONObject) throws -> Void)?
    /// After every optimizer step: (steps taken in the whole run, this step's metrics record).
    public var step: ((Int, JSONObject) -> Void)?
    public init(metrics: @escaping (JSONObject) throws -> Void, perExample: ((JSONObject) throws -> Void)? = nil,
                step: ((Int, JSONObject) -> Void)? = nil) {
        self.metrics = metrics; self.perExample = perExample; self.step = step
    }
}

public struct TrainerSummary: Sendable {
    public var steps = 0
    public var recordsRead = 0
    public var skippedRecords = 0
    public var droppedGroups = 0
    /// Records of a last, incomplete gradient accumulation (not stepped, as upstream).
    public var leftoverRecords = 0
    public var stoppedBySignal = false
    public var reachedMaxSteps = false
    public var referenceModelLoaded = false
    public var precomputedReferenceRecords = 0
    public var lastCheckpoint: String?
    /// Evaluations run on the held-out batches.
    public var evaluations = 0
}

public final class Trainer {
    public let policy: CausalLM
    public let configuration: TrainerConfiguration
    public var options: TrainerOptions
    public internal(set) var progress: TrainingProgress
    public let provenance: RunProvenance
    /// Where checkpoints go (nil: none are written).
    public var runDirectory: RunDirectory?
    var rmsprop: RMSprop?
    var adamw: AdamW?
    let schedule: WarmupSchedule
    let referenceLoader: (() throws -> CausalLM)?
    var reference: CausalLM?
    var summary = TrainerSummary()
    var savedAtUpdate: Int?
    /// Held-out batch records evaluated every `options.evalEvery` examples (no gradients, the records' own groups
    /// and contrast matrices).
    public var evalBatches: [TrainBatch] = []
    /// The examples count of the last evaluation (one evaluation per count).
    var evaluatedAt: Int?
    var evalEveryRounded = false

    /// A new run: fresh optimizer state, step 0. `referenceLoader` loads the frozen reference when a batch
    /// carries no reference log-probs (never called otherwise).
    public init(policy: CausalLM, configuration: TrainerConfiguration, provenance: RunProvenance,
                options: TrainerOptions = TrainerOptions(), referenceLoader: (() throws -> CausalLM)?) throws {
        try configuration.validate()
        if options.memoryMicroBatch < 1 { throw TrainError.configuration("the memory micro-batch must be >= 1") }
        self.policy = policy
        self.configuration = configuration
        self.options = options
        self.provenance = provenance
        self.referenceLoader = referenceLoader
        progress = TrainingProgress(rng: RNG(seed: configuration.seed))
        schedule = WarmupSchedule(baseLR: configuration.learningRate, warmupSteps: configuration.warmupSteps)
        let n = policy.layout.count
        switch configuration.optimizer {
        case .rmsprop: rmsprop = RMSprop(parameterCount: n, weightDecay: configuration.effectiveWeightDecay)
        case .adamw: adamw = AdamW(parameterCount: n, weightDecay: configuration.effectiveWeightDecay)
        }
    }

    /// A resumed run: `policy` holds the checkpoint's weights, `state` its rpo_state.
    public convenience init(policy: CausalLM, resuming state: SavedTrainingState, options: TrainerOptions = TrainerOptions(),
                            referenceLoader: (() throws -> CausalLM)?) throws {
        try self.init(policy: policy, configuration: state.configuration, provenance: state.provenance, options: options,
                      referenceLoader: referenceLoader)
        progress = state.progress
        rmsprop = state.rmsprop
        adamw = state.adamw
        if (rmsprop == nil) == (adamw == nil) || (rmsprop?.parameterCount ?? adamw!.parameterCount) != policy.layout.count {
            throw TrainError.checkpoint("the checkpoint's optimizer state does not fit the model")
        }
        savedAtUpdate = progress.updates
    }

    /// The optimizer's state (for checkpoints).
    public var optimizerState: (rmsprop: RMSprop?, adamw: AdamW?) { (rmsprop, adamw) }

    // MARK: - Loop

    /// Trains on the batch records of `reader` (the whole plan from its first record: a resumed run passes over
    /// the records it has consumed) until it ends, `options.maxSteps` is reached, or `shouldStop` answers true at
    /// an optimizer-step boundary; then writes the final checkpoint (if a run directory is set).
    public func run(_ reader: RecordReader, sinks: TrainerSinks, shouldStop: () -> Bool = { false }) throws -> TrainerSummary {
        summary = TrainerSummary()
        if progress.recordsConsumed > 0 { try skipConsumed(reader) }
        var acc = StepAccumulator(digest: progress.recordsDigest)
        while true {
            if acc.records == 0 {
                try evaluateIfDue(sinks: sinks)
                if let m = options.maxSteps, progress.updates >= m { summary.reachedMaxSteps = true; break }
                if shouldStop() { summary.stoppedBySignal = true; break }
            }
            guard let record = try reader.read() else { break }
            summary.recordsRead += 1
            let batch = try TrainBatch(record: record, source: reader.name, record: reader.recordNumber,
                                       loss: configuration.loss, parameters: configuration.parameters,
                                       vocabSize: policy.config.vocabSize)
            acc.read += 1
            acc.lastRecordStep = batch.step
            if !evalEveryRounded, let e = options.evalEvery {
                // Upstream rounds eval_every down to a multiple of the batch size (train.py:87-90); at least one batch.
                evalEveryRounded = true
                options.evalEvery = max(e - e % batch.batchSize, batch.batchSize)
            }
            if let d = acc.digest { acc.digest = Trainer.chain(d, record) }
            if batch.isSingleStatus { summary.skippedRecords += 1; continue }  // upstream `continue`, no counters
            if acc.records == 0 { policy.zeroGrad(); acc.start = Date() }
            guard let c = try process(batch, scale: 1 / Double(configuration.gradientAccumulation), sinks: sinks) else {
                summary.skippedRecords += 1
                continue
            }
            acc.add(c, batch)
            if acc.records == configuration.gradientAccumulation {
                try optimizerStep(acc, sinks: sinks)
                acc = StepAccumulator(digest: progress.recordsDigest)
            }
        }
        summary.leftoverRecords = acc.records
        if runDirectory != nil && progress.updates > 0 && savedAtUpdate != progress.updates {
            summary.lastCheckpoint = try saveCheckpoint()
        }
        return summary
    }

    /// Passes over the records a resumed run has already consumed, checking that the stream is the same plan.
    func skipConsumed(_ reader: RecordReader) throws {
        var last: Int?
        var digest = ""
        for i in 0..<progress.recordsConsumed {
            guard let r = try reader.read() else {
                throw TrainError.checkpoint("\(reader.name): the run consumed \(progress.recordsConsumed) batch records before its checkpoint, the input has only \(i)")
            }
            last = r["step"]?.intValue
            digest = Trainer.chain(digest, r)
        }
        if let want = progress.lastRecordStep, last != want {
            throw RecordError(source: reader.name, record: reader.recordNumber,
                              "resuming: the run's last consumed batch record had step \(want), this input has \(last.map(String.init) ?? "none") there (not the same batch stream)")
        }
        if let saved = progress.recordsDigest, saved != digest {
            throw RecordError(source: reader.name, record: reader.recordNumber,
                              "resuming: the first \(progress.recordsConsumed) batch records differ from those the run consumed (not the same batch stream)")
        }
        progress.recordsDigest = digest
    }

    /// The records digest after `record`: SHA-256 of the digest so far and the record's compact JSON.
    static func chain(_ digest: String, _ record: JSONObject) -> String {
        var bytes = Array(digest.utf8)
        bytes.append(0x0A)
        try? JSONSerializer.write(record, to: &bytes)  // a parsed record holds finite numbers only
        var h = SHA256()
        h.update(bytes)
        return h.hexDigest()
    }

    /// What one record adds to the step: metric lists, tokens, examples.
    struct Contribution {
        var metrics: [(String, [Double])]
        var tokens: Int
    }

    struct StepAccumulator {
        /// The records digest including the records read so far (nil when the run does not keep one).
        var digest: String?
        var records = 0
        var read = 0
        var lastRecordStep: Int?
        var lastBatch = 0
        var epoch = 0
        var tokens = 0
        var examples = 0
        var start = Date()
        var names: [String] = []
        var lists: [String: [Double]] = [:]
        var location = ""

        mutating func add(_ c: Contribution, _ b: TrainBatch) {
            records += 1
            tokens += c.tokens
            examples += b.batchSize
            lastBatch = b.step
            epoch = b.epoch
            location = b.location
            for (name, v) in c.metrics {
                if lists[name] == nil { names.append(name); lists[name] = [] }
                lists[name]!.append(contentsOf: v)
            }
        }
    }

    func optimizerStep(_ acc: StepAccumulator, sinks: TrainerSinks) throws {
        let n = policy.layout.count, g = policy.gradients!.pointer, p = policy.parameters.pointer
        let norm = GradientClipping.clip(g, count: n, maxNorm: configuration.maxGradNorm)
        guard norm.isFinite else {
            throw TrainError.nonFinite("\(acc.location): batch \(acc.lastBatch): the gradient norm is \(norm) (first non-finite gradient: \(firstNonFiniteGradient() ?? "none found"))")
        }
        let lr = schedule.lr(step: progress.schedulerSteps)
        if rmsprop != nil { rmsprop!.step(parameters: p, gradients: g, lr: lr) } else { adamw!.step(parameters: p, gradients: g, lr: lr) }
        progress.schedulerSteps += 1
        progress.updates += 1
        progress.recordsConsumed += acc.read
        progress.lastRecordStep = acc.lastRecordStep
        progress.recordsDigest = acc.digest
        progress.examples += acc.examples
        summary.steps += 1
        let elapsed = max(Date().timeIntervalSince(acc.start), 1e-9)
        var o = JSONObject()
        o["step"] = .int(progress.updates)
        o["epoch"] = .int(acc.epoch)
        o["batch"] = .int(acc.lastBatch)
        for name in acc.names {
            let v = acc.lists[name]!
            o[name] = Trainer.number(v.reduce(0, +) / Double(v.count))
        }
        o["grad_norm"] = .double(norm)
        o["lr"] = .double(lr)
        o["tokens_per_s"] = .double((Double(acc.tokens) / elapsed * 10).rounded() / 10)
        o["examples_per_s"] = .double((Double(acc.examples) / elapsed * 1000).rounded() / 1000)
        o["counters/examples"] = .int(progress.examples)
        o["counters/updates"] = .int(progress.updates)
        try sinks.metrics(o)
        sinks.step?(progress.updates, o)
        if let every = options.checkpointEvery, every > 0, progress.updates % every == 0, runDirectory != nil {
            summary.lastCheckpoint = try saveCheckpoint()
        }
    }

    /// The HF name of the first parameter tensor whose gradient is not finite.
    func firstNonFiniteGradient() -> String? {
        guard let g = policy.gradients else { return nil }
        for e in policy.layout.entries {
            let base = g.pointer + e.offset
            for i in 0..<e.count where !base[i].isFinite {
                return "\(e.name)[\(i)] = \(base[i])"
            }
        }
        return nil
    }

    /// Writes a checkpoint of the current state into the run directory; returns its path.
    @discardableResult
    public func saveCheckpoint() throws -> String? {
        guard let run = runDirectory else { return nil }
        let state = SavedTrainingState(configuration: configuration, progress: progress, provenance: provenance,
                                       rmsprop: rmsprop, adamw: adamw)
        let path = try run.save(step: progress.updates) { dir in
            try ModelFiles.save(policy, to: dir, companionsFrom: provenance.model)  // first: it replaces `dir` whole
            try state.write(to: (dir as NSString).appendingPathComponent("rpo_state"), model: policy)
        }
        savedAtUpdate = progress.updates
        return path
    }

    // MARK: - One batch record

    func referenceModel() throws -> CausalLM {
        if let r = reference { return r }
        guard let load = referenceLoader else {
            throw TrainError.reference("the batch records carry no reference log-probs and no reference model is available")
        }
        let r = try load()
        if r.config.vocabSize != policy.config.vocabSize {
            throw TrainError.reference("the reference model's vocabulary (\(r.config.vocabSize)) differs from the policy's (\(policy.config.vocabSize))")
        }
        reference = r
        summary.referenceModelLoaded = true
        return r
    }

    /// Log-probs of `indices` under `model`, `memoryMicroBatch` sequences at a time, without activations.
    func inferenceLogProbs(_ model: CausalLM, _ b: TrainBatch, _ indices: [Int], into out: inout [Double]) throws {
        for chunk in Trainer.chunks(indices, options.memoryMicroBatch) {
            let lp = try model.sequenceLogProbs(chunk.map { b.sequences[$0].tokens })
            for (k, i) in chunk.enumerated() { out[i] = lp[k] }
        }
    }

    package static func chunks(_ a: [Int], _ size: Int) -> [[Int]] {
        stride(from: 0, to: a.count, by: size).map { Array(a[$0..<min($0 + size, a.count)]) }
    }

    /// Forward, loss and backward of one record; nil when every group was skipped (upstream's zero loss).
    func process(_ b: TrainBatch, scale: Double, sinks: TrainerSinks) throws -> Contribution? {
        do {
            return try processChecked(b, scale: scale, sinks: sinks)
        } catch let e as ModelError {
            throw RecordError(source: b.source, record: b.record, "batch record: \(e)")
        } catch let e as LossError {
            throw RecordError(source: b.source, record: b.record, "batch record: \(e)")
        }
    }

    func processChecked(_ b: TrainBatch, scale: Double, sinks: TrainerSinks) throws -> Contribution? {
        let loss = configuration.loss, S = b.sequences.count
        // 1. Reference log-probs: from the record, or from the frozen reference model.
        var R = [Double](repeating: 0, count: S)
        if loss.usesReference {
            if b.hasReference {
                try checkReferenceModel(b)
                for i in 0..<S { R[i] = b.sequences[i].reference! }
                summary.precomputedReferenceRecords += 1
            } else {
                try inferenceLogProbs(try referenceModel(), b, Array(0..<S), into: &R)
            }
        }
        // 2. Policy log-probs: KL sequences (no gradient) and all chunks but the last without activations, the
        // last chunk with them.
        var P = [Double](repeating: .nan, count: S)
        let kl = (0..<S).filter { b.sequences[$0].role == .kl }
        let grad = (0..<S).filter { b.sequences[$0].role != .kl }
        try inferenceLogProbs(policy, b, kl, into: &P)
        let chunks = Trainer.chunks(grad, options.memoryMicroBatch)
        for c in chunks.dropLast() {
            let lp = try policy.sequenceLogProbs(c.map { b.sequences[$0].tokens })
            for (k, i) in c.enumerated() { P[i] = lp[k] }
        }
        let last = chunks.last!
        let lpLast = try policy.trainingLogProbs(last.map { b.sequences[$0].tokens })
        for (k, i) in last.enumerated() { P[i] = lpLast[k] }
        if let bad = (0..<S).first(where: { !P[$0].isFinite }) {
            try telemetry(b, P, R, outputs: [], sinks: sinks)
            let s = b.sequences[bad]
            throw TrainError.nonFinite("\(b.location): batch \(b.step): the policy log-prob of example \(b.exampleIds[s.example]) (\(s.role.rawValue)) is \(P[bad])")
        }
        // 3. Each group's loss and its gradient w.r.t. the log-probs (BatchLoss.swift).
        let batchLoss = try b.loss(loss, parameters: configuration.parameters, policy: P, reference: R, scale: scale)
        summary.droppedGroups += batchLoss.skippedGroups
        let outputs = batchLoss.outputs
        if outputs.isEmpty { return nil }
        for (gi, out) in outputs where !out.loss.isFinite {
            try telemetry(b, P, R, outputs: outputs, sinks: sinks)
            throw TrainError.nonFinite("\(b.location): batch \(b.step): the \(loss.rawValue) loss of group \(gi) is \(out.loss)")
        }
        let dP = batchLoss.dPolicy
        if let bad = (0..<S).first(where: { !dP[$0].isFinite }) {
            try telemetry(b, P, R, outputs: outputs, sinks: sinks)
            let q = b.sequences[bad]
            throw TrainError.nonFinite("\(b.location): batch \(b.step): d(loss)/d(logp) of example \(b.exampleIds[q.example]) (\(q.role.rawValue)) is \(dP[bad])")
        }
        // 4. Backward: the live last chunk, then each other chunk re-run with activations.
        try policy.backward(dLogProbs: last.map { dP[$0] })
        for c in chunks.dropLast() {
            _ = try policy.trainingLogProbs(c.map { b.sequences[$0].tokens })
            try policy.backward(dLogProbs: c.map { dP[$0] })
        }
        // 5. Metrics (upstream's per-example lists) and telemetry.
        var metrics: [(String, [Double])] = []
        for (_, out) in outputs { for m in out.metrics(mode: "train") { metrics.append((m.name, m.values)) } }
        try telemetry(b, P, R, outputs: outputs, sinks: sinks)
        return Contribution(metrics: metrics, tokens: b.tokenCount)
    }

    func checkReferenceModel(_ b: TrainBatch) throws {
        guard let expected = provenance.referenceFingerprint, !options.allowReferenceMismatch else { return }
        guard let got = b.referenceModel else {
            throw RecordError(source: b.source, record: b.record, "batch record: its reference log-probs name no reference_model; the reference is \(expected) (use --allow-reference-mismatch to train with them anyway)")
        }
        if got != expected {
            throw RecordError(source: b.source, record: b.record, "batch record: its reference log-probs come from \(got), but the reference model \(provenance.reference ?? "") is \(expected) (re-score with rpo-train score, or --allow-reference-mismatch)")
        }
    }
}
