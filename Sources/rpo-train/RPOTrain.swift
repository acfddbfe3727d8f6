// rpo-train: batch records -> checkpoints + metrics (SFT, the DPO family, RPO paired/unpaired/diagonal); the
// subcommands score (records -> records with reference log-probs, Score.swift) and eval (Eval.swift). Thin executable: the loop is Sources/RPOAlignment/Training/Trainer.swift.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

extension LossKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

@main
struct RPOTrain: ParsableCommand {
    static func main() { Tool.main(Self.self) }

    static let discussion = """
        RPO is Relative Preference Optimization (arXiv 2402.10958), which is
        not TRL's rpo_alpha nor NeMo's reward-aware RPO. Losses, metrics,
        RMSprop, warmup (lr * min(1, (k+1)/(warmup+1))) and clipping follow the
        official code (yinyueqin/Relative-Preference-Optimization@c1b5163);
        fp32 compute, losses in Double.

        Input: rpo-pairs batch records, one per step of the plan (docs/records.md):
          {"step", "epoch", "layout": "sft"|"paired"|"unpaired", "weighting",
           ["tau"], ["diagonal_weight"], "batch_size", "micro_batch",
           "groups": [[positions]], ["weights": [[[w]]]], "examples": [...]}
        Paired examples: chosen_input_ids, chosen_label_start,
        rejected_input_ids, rejected_label_start; items: input_ids, label_start,
        status. Each group is a contrast scope (the official per-device
        micro-batch) with the official loss; gradients are averaged over the
        groups; one optimizer step every --gradient-accumulation records.
        Examples that carry reference log-probs (from rpo-train score) are used as they
        are: the reference model is never loaded. Their reference_model must be
        the reference's fingerprint (or --allow-reference-mismatch).

        Output (stdout or -o; JSON Lines flushed every step, zstd if -o ends in
        .zst), one record per optimizer step, with the loss family's keys:
          {"step", "epoch", "batch", "loss/train", "rewards_train/chosen",
           "rewards_train/rejected", "rewards_train/accuracies" (upstream's
           flipped accuracy: chosen i vs rejected B-1-i),
           "rewards_train/accuracies_elementwise" (the standard accuracy),
           "rewards_train/margins", "logps_train/rejected",
           "logps_train/chosen", "grad_norm" (before clipping), "lr",
           "tokens_per_s", "examples_per_s", "counters/examples",
           "counters/updates"}
        With --eval BATCHES (rpo-pairs batch records of held-out scored
        pairs), one more record per evaluation, before the first step
        (unless --no-first-eval) and whenever counters/examples is a multiple
        of --eval-every (rounded down to a multiple of the batch size, as
        upstream), after the last step too; no gradients, the run's
        --micro-batch, each held-out batch's own groups and matrices:
          {"mode": "eval", "step", "counters/examples", "loss/eval",
           "rewards_eval/chosen", "rewards_eval/rejected",
           "rewards_eval/accuracies" (flipped), 
           "rewards_eval/accuracies_elementwise", "rewards_eval/margins",
           "logps_eval/rejected", "logps_eval/chosen", "eval_batches",
           "eval_examples", "eval_seconds"}
        --per-example FILE, one record per example and batch:
          {"step", "batch", "group", "id", "policy_chosen_logp", ...,
           "reference_rejected_logp", "reward_chosen", "margin", "loss",
           "dloss_dchosen", "chosen_tokens", "weight_self", "row_entropy",
           "effective_beta", "nonfinite": [keys whose value is null]}

        Memory: --micro-batch sequences go through the model at once. A record
        that fits keeps its activations: one forward, one backward. Otherwise
        the log-probs of all chunks come first without activations, then the
        loss and d(loss)/d(logp) of the whole record, then each chunk is re-run
        and back-propagated from its cached gradients (GradCache): exact either
        way, at one more forward of every chunk but the last.

        Checkpoints (--out RUN_DIR, every --checkpoint-every steps and at the
        end): RUN_DIR/step-NNNNNN/ is a Hugging Face directory plus rpo_state/
        (optimizer moments, step, scheduler, RNG, position in the batch
        stream), written under a temporary name and renamed; RUN_DIR/latest
        links the newest. --resume RUN_DIR continues exactly on the same input.
        SIGINT/SIGTERM: checkpoint after the current step, exit 0 (a second
        signal stops at once). A NaN or infinite log-prob, loss or gradient
        stops the run naming the batch and the quantity, before the step:
        exit 1, checkpoints kept.

        rpo-train score: example, item or batch records -> the same records
        with reference_chosen_logp and reference_rejected_logp (examples),
        reference_logp (items), reference_kl_logp (unpaired batches, with
        --loss kto) and reference_model of --model (rpo-train score --help;
        `rpo-train --score` is its deprecated spelling).

        Example:
          rpo-tokenize --dataset hh --tokenizer models/smol hh.jsonl.gz \\
            | rpo-embed | rpo-pairs --layout paired --batch-size 64 \\
              --micro-batch 8 -o batches.zst
          rpo-train score --model models/smol batches.zst -o scored.zst
          rpo-train --model models/smol --loss rpo-paired --out runs/rpo \\
            scored.zst | jq -c '{step, "loss/train"}'

        Held-out metrics of any model, and paired comparisons: rpo-train eval
        (rpo-train eval --help).
        """

    static let configuration = CommandConfiguration(
        commandName: "rpo-train",
        abstract: "Train a causal LM on rpo-pairs batches with SFT, DPO, IPO, cDPO, SLiC, KTO or RPO (Relative Preference Optimization).",
        discussion: discussion + "\n\nOptions: rpo-train train --help. The subcommand train is the default: `rpo-train ARGS` is `rpo-train train ARGS`.",
        subcommands: [TrainCommand.self, ScoreCommand.self, EvalCommand.self],
        defaultSubcommand: TrainCommand.self)
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a causal LM on rpo-pairs batches with SFT, DPO, IPO, cDPO, SLiC, KTO or RPO (Relative Preference Optimization).",
        discussion: RPOTrain.discussion)

    @OptionGroup var input: InputOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The policy's initial weights: a Hugging Face directory or a GGUF file.") var model: String?
    @Option(help: "sft, dpo, ipo, cdpo, slic, kto, kto-simple, kto-zero, rpo-paired, rpo-unpaired or rpo-diagonal.") var loss: LossKind?
    @Option(help: "The frozen reference model (default: --model).") var reference: String?
    @Option(help: "Inverse temperature beta (default 0.1; slic 1.0).") var beta: Double?
    @Option(help: "cDPO label smoothing epsilon (default 0.2).") var epsilon: Double?
    @Option(help: "SLiC's NLL weight lambda (default 0.1).") var lambda: Double?
    @Option(help: "rpo-diagonal's share of each row on its own pair when the batch does not set it (default 0.8).") var diagonalWeight: Double?
    @Option(name: .customLong("lr"), help: "Learning rate (default 5e-7).") var learningRate: Double?
    @Option(help: "rmsprop (default, PyTorch defaults) or adamw (betas 0.9/0.999, weight decay 0.01).") var optimizer: OptimizerKind?
    @Option(help: "Linear warmup steps (default 150).") var warmupSteps: Int?
    @Option(help: "Global gradient-norm clipping threshold (default 10).") var maxGradNorm: Double?
    @Option(help: "Weight decay (default: rmsprop 0, adamw 0.01).") var weightDecay: Double?
    @Option(help: "Batch records per optimizer step (default 1).") var gradientAccumulation: Int?
    @Option(help: "Sequences through the model at once (memory, not the contrast scope).") var microBatch = 16
    @Option(help: "Write a checkpoint every N optimizer steps (and at the end).") var checkpointEvery: Int?
    @Option(help: "Complete checkpoints kept in the run directory.") var keepCheckpoints = 1
    @Option(help: "Stop after N optimizer steps in all (resumed runs count their earlier steps).") var maxSteps: Int?
    @Option(help: "Run directory for checkpoints.") var out: String?
    @Option(help: "Continue the run in this run directory from its latest checkpoint.") var resume: String?
    @Option(help: "Write per-example telemetry records to FILE (.zst: compressed).") var perExample: String?
    @Flag(help: "Train with precomputed reference log-probs from another model, or a changed reference.") var allowReferenceMismatch = false
    @Flag(help: "Deprecated spelling of `rpo-train score`.") var score = false
    @Option(help: "Field prefix of --score (deprecated; rpo-train score --prefix).") var prefix = "reference"
    @Option(help: "Seed of the run's generator (default 1; training itself draws no random numbers).") var seed: UInt64?
    @Option(help: "Held-out batch records (rpo-pairs output of scored held-out pairs) to evaluate during training.") var eval: String?
    @Option(help: "Evaluate every N training examples (upstream eval_every; default 20000).") var evalEvery: Int?
    @Flag(help: "No evaluation before the first step (upstream do_first_eval=false).") var noFirstEval = false
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if microBatch < 1 { throw ValidationError("--micro-batch must be >= 1") }
        if keepCheckpoints < 1 { throw ValidationError("--keep-checkpoints must be >= 1") }
        if let n = checkpointEvery, n < 1 { throw ValidationError("--checkpoint-every must be >= 1") }
        if let n = maxSteps, n < 0 { throw ValidationError("--max-steps must be >= 0") }
        if let n = gradientAccumulation, n < 1 { throw ValidationError("--gradient-accumulation must be >= 1") }
        if let n = evalEvery, n < 1 { throw ValidationError("--eval-every must be >= 1") }
        if eval == nil && (evalEvery != nil || noFirstEval) { throw ValidationError("--eval-every and --no-first-eval need --eval BATCHES") }
        if score {
            if model == nil { throw ValidationError("--score needs --model") }
            if resume != nil || out != nil || perExample != nil || eval != nil { throw ValidationError("--score writes records only (no --out, --resume, --per-example, --eval)") }
        } else {
            if resume == nil && (model == nil || loss == nil) { throw ValidationError("--model and --loss are required (or --resume RUN_DIR)") }
            if let r = resume, let o = out, r != o { throw ValidationError("--resume continues in its own run directory (no --out)") }
            if prefix != "reference" { throw ValidationError("--prefix applies to --score") }
        }
    }

    var request: TrainRequest {
        var r = TrainRequest()
        r.model = model; r.reference = reference; r.loss = loss; r.beta = beta; r.epsilon = epsilon; r.lambda = lambda
        r.diagonalWeight = diagonalWeight; r.learningRate = learningRate; r.optimizer = optimizer
        r.warmupSteps = warmupSteps; r.maxGradNorm = maxGradNorm; r.weightDecay = weightDecay
        r.gradientAccumulation = gradientAccumulation; r.seed = seed; r.out = out; r.resume = resume
        r.keepCheckpoints = keepCheckpoints
        r.options.memoryMicroBatch = microBatch; r.options.maxSteps = maxSteps; r.options.checkpointEvery = checkpointEvery
        r.options.allowReferenceMismatch = allowReferenceMismatch
        r.eval = eval
        if eval != nil { r.options.evalEvery = evalEvery ?? 20_000 }
        r.options.firstEval = !noFirstEval
        return r
    }

    func run() throws {
        try Tool.run("rpo-train", display: display) { diag in
            if score { return try scoreRecords(diag) }
            StopSignal.install()
            let trainer = try TrainSession.open(request) { diag.note($0) }
            let reader = try input.openRecords()
            func open(_ path: String?) throws -> RecordWriter {
                try RecordWriter(path: path, compression: path?.lowercased().hasSuffix(".zst") == true ? .zstd : .none)
            }
            let metrics = try open(output.output)
            let telemetry = try perExample.map { try open($0) }
            let bar = ProgressLine(enabled: display.showProgress, label: "rpo-train", unit: "steps", total: maxSteps)
            let sinks = TrainerSinks(metrics: { try metrics.write($0); try metrics.flush() },
                                     perExample: telemetry.map { w in { try w.write($0) } },
                                     step: { n, _ in bar.update(n) })
            let s: TrainerSummary
            do { s = try trainer.run(reader, sinks: sinks, shouldStop: { StopSignal.isRequested }) } catch {
                bar.finish()
                try? telemetry?.finish()  // keep what the NaN hunt needs
                try? metrics.finish()
                throw error
            }
            try metrics.finish()
            try telemetry?.finish()
            bar.finish()
            var line = "\(s.steps) steps (\(trainer.progress.updates) in the run) from \(s.recordsRead) batch records"
            if s.skippedRecords > 0 { line += ", \(s.skippedRecords) skipped (one status, as upstream)" }
            if s.droppedGroups > 0 { line += ", \(s.droppedGroups) groups without both statuses left out" }
            if s.precomputedReferenceRecords > 0 { line += "; precomputed reference log-probs in \(s.precomputedReferenceRecords) records" }
            if s.evaluations > 0 { line += "; \(s.evaluations) held-out evaluations" }
            diag.note(line)
            if s.leftoverRecords > 0 { diag.warning("the last \(s.leftoverRecords) records did not complete a gradient accumulation and were not stepped") }
            if s.stoppedBySignal { diag.note("stopped by signal") }
            if let c = s.lastCheckpoint { diag.note("checkpoint \(c)") }
        }
    }

    /// The deprecated `rpo-train --score`: `rpo-train score` with the same options.
    func scoreRecords(_ diag: Diagnostics) throws {
        diag.warning("--score is deprecated: use `rpo-train score` (same options)")
        try ScoreCommand.score(model: model!, loss: loss, microBatch: microBatch, prefix: prefix, input: input,
                               output: output, display: display, diag: diag)
    }
}

