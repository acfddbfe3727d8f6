// Setting up a run of rpo-train from its command line: a new run (policy and reference paths, configuration from
// the official defaults and the options given) or a resumed one (weights, optimizer, position and configuration
// from the run directory's latest checkpoint; options given must agree with the saved configuration).
import Foundation
import RPOCore
import RPOAlignment

/// The command line of a training run; nil means "not given" (defaults for a new run, the saved value on resume).
public struct TrainRequest: Sendable {
    public var model: String?
    public var reference: String?
    public var loss: LossKind?
    public var beta: Double?
    public var epsilon: Double?
    public var lambda: Double?
    public var diagonalWeight: Double?
    public var learningRate: Double?
    public var optimizer: OptimizerKind?
    public var warmupSteps: Int?
    public var maxGradNorm: Double?
    public var weightDecay: Double?
    public var gradientAccumulation: Int?
    public var seed: UInt64?
    /// The run directory of a new run (nil: no checkpoints).
    public var out: String?
    /// The run directory to resume.
    public var resume: String?
    public var keepCheckpoints = 1
    /// Held-out batch records (rpo-pairs output of scored held-out pairs) evaluated every `options.evalEvery`
    /// examples; nil: no evaluation.
    public var eval: String?
    public var options = TrainerOptions()
    public init() {}
}

public enum TrainSession {
    /// Paths are kept absolute in the run's state, so that a resumed run finds them from any directory.
    static func absolute(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }

    /// Builds the trainer of a new or resumed run. `note` receives one-line messages for standard error.
    public static func open(_ r: TrainRequest, note: (String) -> Void) throws -> Trainer {
        let evalReader = try r.eval.map { try RecordReader(path: $0) }  // a missing file fails before any model is loaded
        let trainer = try openTrainer(r, note: note)
        if let path = r.eval, let reader = evalReader {
            try trainer.loadEvalBatches(reader)
            let examples = trainer.evalBatches.reduce(0) { $0 + $1.batchSize }
            note("held-out evaluation: \(trainer.evalBatches.count) batch records (\(examples) examples) from \(path)")
        }
        return trainer
    }

    static func openTrainer(_ r: TrainRequest, note: (String) -> Void) throws -> Trainer {
        if let dir = r.resume { return try resume(dir, r, note: note) }
        guard let model = r.model.map(absolute) else { throw TrainError.configuration("--model is required (or --resume RUN_DIR)") }
        guard let loss = r.loss else { throw TrainError.configuration("--loss is required (or --resume RUN_DIR)") }
        var c = TrainerConfiguration(loss: loss)
        if let v = r.beta { c.parameters.beta = v }
        if let v = r.epsilon { c.parameters.epsilon = v }
        if let v = r.lambda { c.parameters.lambda = v }
        if let v = r.diagonalWeight { c.parameters.diagonalWeight = v }
        if let v = r.learningRate { c.learningRate = v }
        if let v = r.optimizer { c.optimizer = v }
        if let v = r.warmupSteps { c.warmupSteps = v }
        if let v = r.maxGradNorm { c.maxGradNorm = v }
        if let v = r.weightDecay { c.weightDecay = v }
        if let v = r.gradientAccumulation { c.gradientAccumulation = v }
        if let v = r.seed { c.seed = v }
        try c.validate()
        if !loss.usesReference, r.reference != nil { note("note: --reference is not used by \(loss.rawValue)") }
        let referencePath = loss.usesReference ? (r.reference.map(absolute) ?? model) : nil
        // The run directory first: a refusal must come before any expensive work.
        let run = try r.out.map { try RunDirectory(newRun: $0) }
        run?.keep = r.keepCheckpoints
        let policy = try ModelFiles.load(model)
        let fingerprint = try referencePath.map { try ModelFiles.fingerprint($0) }
        let provenance = RunProvenance(model: model, reference: referencePath, referenceFingerprint: fingerprint)
        let trainer = try Trainer(policy: policy, configuration: c, provenance: provenance, options: r.options,
                                  referenceLoader: referencePath.map { p in { try ModelFiles.load(p) } })
        trainer.runDirectory = run
        return trainer
    }

    static func resume(_ dir: String, _ r: TrainRequest, note: (String) -> Void) throws -> Trainer {
        let run = try RunDirectory(resuming: dir)
        run.keep = r.keepCheckpoints
        guard let checkpoint = try run.latestCheckpoint() else { throw TrainError.checkpoint("\(dir): holds no checkpoint") }
        let (c, _, v, _) = try SavedTrainingState.readState(checkpoint: checkpoint)
        // Options given on the command line must agree with the run's configuration.
        var conflicts: [String] = []
        func check<T: Equatable>(_ flag: String, _ given: T?, _ saved: T) {
            if let g = given, g != saved { conflicts.append("\(flag) \(g) (the run has \(saved))") }
        }
        check("--model", r.model.map(absolute), v.model)
        check("--loss", r.loss?.rawValue, c.loss.rawValue)
        if let ref = r.reference.map(absolute), ref != v.reference { conflicts.append("--reference \(ref) (the run has \(v.reference ?? "none"))") }
        check("--beta", r.beta, c.parameters.beta)
        check("--epsilon", r.epsilon, c.parameters.epsilon)
        check("--lambda", r.lambda, c.parameters.lambda)
        check("--diagonal-weight", r.diagonalWeight, c.parameters.diagonalWeight)
        check("--lr", r.learningRate, c.learningRate)
        check("--optimizer", r.optimizer?.rawValue, c.optimizer.rawValue)
        check("--warmup-steps", r.warmupSteps, c.warmupSteps)
        check("--max-grad-norm", r.maxGradNorm, c.maxGradNorm)
        check("--weight-decay", r.weightDecay, c.effectiveWeightDecay)
        check("--gradient-accumulation", r.gradientAccumulation, c.gradientAccumulation)
        check("--seed", r.seed, c.seed)
        if !conflicts.isEmpty {
            throw TrainError.configuration("a resumed run keeps its configuration; these options differ from \(checkpoint): \(conflicts.joined(separator: ", "))")
        }
        if let ref = v.reference, let saved = v.referenceFingerprint {
            let now = try ModelFiles.fingerprint(ref)
            if now != saved {
                if r.options.allowReferenceMismatch {
                    note("warning: the reference model \(ref) changed since the run started (\(saved) -> \(now))")
                } else {
                    throw TrainError.reference("the reference model \(ref) changed since the run started (\(saved), now \(now)); resuming would train against a different reference (--allow-reference-mismatch to do it anyway)")
                }
            }
        }
        let policy = try ModelFiles.load(checkpoint)
        let state = try SavedTrainingState.read(checkpoint: checkpoint, model: policy)
        let trainer = try Trainer(policy: policy, resuming: state, options: r.options,
                                  referenceLoader: v.reference.map { p in { try ModelFiles.load(p) } })
        trainer.runDirectory = run
        note("resuming \(checkpoint) at step \(state.progress.updates) (\(state.progress.recordsConsumed) batch records consumed)")
        return trainer
    }
}
