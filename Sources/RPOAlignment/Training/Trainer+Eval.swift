// Held-out evaluation during training, as the official BasicTrainer.train does it (trainers.py:354-380): whenever
// the examples counter is a multiple of eval_every (and before the first step, do_first_eval), every held-out batch
// goes through the policy without gradients, each group's loss and metrics are computed as in training under the
// `eval` names (`loss/eval`, `rewards_eval/chosen`, ..., `logps_eval/rejected`), batches whose items all have one
// status are skipped, and the per-example lists of all batches are averaged into one metrics record marked
// `"mode": "eval"`. RPO losses use each held-out batch's own groups and contrast matrices.
//
// One difference from upstream: the check also runs after the last step, so a run whose example count ends on a
// multiple of eval_every gets its final evaluation (upstream checks only before fetching another batch).
import Foundation
import RPOCore

extension Trainer {
    /// Runs an evaluation when one is due at the current examples count.
    func evaluateIfDue(sinks: TrainerSinks) throws {
        guard let every = options.evalEvery, every > 0, !evalBatches.isEmpty else { return }
        let n = progress.examples
        guard n % every == 0, n > 0 || options.firstEval, evaluatedAt != n else { return }
        evaluatedAt = n
        try sinks.metrics(try evaluate())
        summary.evaluations += 1
    }

    /// The eval metrics record over `evalBatches` at the current weights.
    public func evaluate() throws -> JSONObject {
        let start = Date()
        var outputs: [LossOutput] = []
        var pairs = 0, batches = 0
        for b in evalBatches {
            if b.isSingleStatus { continue }  // upstream skips eval batches whose statuses are all identical
            let (P, R) = try evalLogProbs(b)
            let out = try evalOutputs(b, policy: P, reference: R)
            if out.isEmpty { continue }
            batches += 1
            pairs += b.batchSize
            outputs += out
        }
        var o = JSONObject()
        o["mode"] = .string("eval")
        o["step"] = .int(progress.updates)
        o["counters/examples"] = .int(progress.examples)
        for (name, mean) in Trainer.evalMeans(outputs) { o[name] = Trainer.number(mean) }
        o["eval_batches"] = .int(batches)
        o["eval_examples"] = .int(pairs)
        o["eval_seconds"] = .double((Date().timeIntervalSince(start) * 1000).rounded() / 1000)
        return o
    }

    /// The `eval` metrics of the groups' outputs: each metric's per-example values of all groups together, averaged
    /// (upstream gathers the lists of every batch and logs their means).
    public static func evalMeans(_ outputs: [LossOutput]) -> [(String, Double)] {
        var names: [String] = []
        var lists: [String: [Double]] = [:]
        for out in outputs {
            for m in out.metrics(mode: "eval") {
                if lists[m.name] == nil { names.append(m.name); lists[m.name] = [] }
                lists[m.name]!.append(contentsOf: m.values)
            }
        }
        return names.map { n in (n, lists[n]!.reduce(0, +) / Double(lists[n]!.count)) }
    }

    /// Policy and reference log-probs of a held-out batch: forward passes without activations, `memoryMicroBatch`
    /// sequences at a time; reference log-probs from the record when it carries them.
    func evalLogProbs(_ b: TrainBatch) throws -> ([Double], [Double]) {
        let S = b.sequences.count
        var R = [Double](repeating: 0, count: S)
        var P = [Double](repeating: .nan, count: S)
        do {
            if configuration.loss.usesReference {
                if b.hasReference {
                    try checkReferenceModel(b)
                    for i in 0..<S { R[i] = b.sequences[i].reference! }
                } else {
                    try inferenceLogProbs(try referenceModel(), b, Array(0..<S), into: &R)
                }
            }
            try inferenceLogProbs(policy, b, Array(0..<S), into: &P)
        } catch let e as ModelError {
            throw RecordError(source: b.source, record: b.record, "eval batch record: \(e)")
        }
        return (P, R)
    }

    /// Each group's loss of a held-out batch from its log-probs (`P`, `R`: one per sequence of `b`); groups that
    /// the loss skips are left out.
    public func evalOutputs(_ b: TrainBatch, policy P: [Double], reference R: [Double]) throws -> [LossOutput] {
        if let bad = P.indices.first(where: { !P[$0].isFinite }) {
            let s = b.sequences[bad]
            throw TrainError.nonFinite("\(b.location): eval batch \(b.step): the policy log-prob of example \(b.exampleIds[s.example]) (\(s.role.rawValue)) is \(P[bad])")
        }
        return try b.loss(configuration.loss, parameters: configuration.parameters, policy: P, reference: R,
                          context: "eval batch record").outputs.map { $0.1 }
    }

    /// Reads held-out batch records (rpo-pairs output) for `evalBatches`, checked as training batches are.
    public func loadEvalBatches(_ reader: RecordReader) throws {
        var batches: [TrainBatch] = []
        while let record = try reader.read() {
            batches.append(try TrainBatch(record: record, source: reader.name, record: reader.recordNumber,
                                          loss: configuration.loss, parameters: configuration.parameters,
                                          vocabSize: policy.config.vocabSize))
        }
        if batches.isEmpty { throw IOError(reader.name, "no held-out batch records") }
        evalBatches = batches
    }
}
