// rpo-train eval: held-out preference metrics of a model on scored pairs (the official eval.py's mode=eval), or
// the paired comparison of two such evaluations. Library: Sources/RPOAlignment/Training/Evaluation.swift.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Held-out preference metrics of a model on scored pairs, or the paired comparison of two evaluations.",
        discussion: """
        Input: paired example records (rpo-tokenize) of held-out pairs, with
        reference log-probs from `rpo-train score` (else --reference scores
        them). The model (--model: a HF directory, a GGUF file or a checkpoint)
        scores each chosen and rejected response, no gradients, --micro-batch
        sequences at a time. Per pair, with the DPO family's implicit rewards
        (beta times the log-prob change since the reference):

        Output, one record per pair in input order:
          {"id", "prompt_id", "policy_chosen_logp", "policy_rejected_logp",
           "reference_chosen_logp", "reference_rejected_logp",
           "chosen_logp_change", "rejected_logp_change", "reward_chosen",
           "reward_rejected", "margin", "correct", "chosen_tokens",
           "rejected_tokens"}
        correct is 1 when reward_chosen > reward_rejected, 0 when smaller and
        0.5 on a tie, so that the reference model itself (every margin 0)
        scores 50%.

        Summary on standard error and with --summary FILE as JSON: pairs,
        accuracy, margin, chosen_logp_change, rejected_logp_change, each
        {"mean", "lower", "upper"}: means with 95% percentile-bootstrap
        intervals over pairs (--bootstrap resamples, --seed).

        --against BASE: the input is a per-pair file of this command, and so is
        BASE (the same pairs, matched by id: e.g. the starting model's); output
        is one record per pair {"id", "base_margin", "other_margin",
        "margin_difference", "correct_difference",
        "chosen_logp_change_difference"}, and the summary the mean differences
        (input minus BASE) of accuracy, margin and the log-prob changes, with
        paired bootstrap intervals (the same resampled pairs for both).

        Examples:
          rpo-train score --model start.gguf test.examples.zst -o test.scored.zst
          rpo-train eval --model run/latest test.scored.zst -o dpo.pairs.zst \\
            --summary dpo.eval.json
          rpo-train eval --model start.gguf test.scored.zst -o start.pairs.zst
            (start.gguf scored the records: its log-probs are reused, margins 0)
          rpo-train eval --against start.pairs.zst dpo.pairs.zst \\
            -o dpo-vs-start.pairs.zst --summary dpo-vs-start.json
        """)

    @OptionGroup var input: InputOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The model to evaluate: a Hugging Face directory, a GGUF file or a checkpoint.") var model: String?
    @Option(help: "Scores the reference log-probs of records that carry none (default: they must carry them).") var reference: String?
    @Option(help: "Inverse temperature beta of the implicit rewards.") var beta = 0.1
    @Option(help: "Sequences through the model at once (memory only).") var microBatch = 8
    @Option(help: "A per-pair file of this command to compare the input with (input minus BASE).") var against: String?
    @Option(help: "Bootstrap resamples of the 95% intervals.") var bootstrap = 10_000
    @Option(help: "Seed of the bootstrap.") var seed: UInt64 = 0
    @Option(help: "Write the summary as JSON to this file.") var summary: String?
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if microBatch < 1 { throw ValidationError("--micro-batch must be >= 1") }
        if bootstrap < 1 { throw ValidationError("--bootstrap must be >= 1") }
        if !(beta > 0 && beta.isFinite) { throw ValidationError("--beta must be positive") }
        if against == nil && model == nil { throw ValidationError("--model is required (or --against BASE to compare two evaluations)") }
        if against != nil && (model != nil || reference != nil) { throw ValidationError("--against compares two per-pair files: no --model or --reference") }
    }

    func run() throws {
        try Tool.run("rpo-train", display: display) { diag in
            let summaryJSON: JSONObject
            let lines: [String]
            let records: [JSONObject]
            if let base = against {
                let a = try readPairs(try RecordReader(path: base))
                let b = try readPairs(try input.openRecords())
                let (c, rows) = try Evaluation.compare(base: a, other: b, beta: beta, resamples: bootstrap, seed: seed)
                var o = c.json
                o["base"] = .string(base)
                o["other"] = .string(input.sourceName)
                (summaryJSON, lines, records) = (o, c.lines, rows)
            } else {
                let ref = try reference.map { try CausalLM.load(path: $0) }
                let bar = ProgressLine(enabled: display.showProgress, label: "rpo-train eval", unit: "records")
                let pairs = try Evaluation.evaluate(policy: { try CausalLM.load(path: model!) },
                                                    policyFingerprint: try ModelFiles.fingerprint(model!), reference: ref,
                                                    input: try input.openRecords(), memoryMicroBatch: microBatch,
                                                    reusedReference: { reused in
                                                        if reused { diag.note("\(model!) is the reference model of every record (same fingerprint): its log-probs are the records' reference log-probs") }
                                                    }) { bar.update($0) }
                bar.finish()
                let s = try Evaluation.summarize(pairs, beta: beta, resamples: bootstrap, seed: seed)
                var o = JSONObject()
                o["model"] = .string(model!)
                o["input"] = .string(input.sourceName)
                for (k, v) in s.json { o[k] = v }
                (summaryJSON, lines, records) = (o, ["\(model!): " + s.lines[0]] + s.lines.dropFirst(), pairs.map { $0.record(beta: beta) })
            }
            let writer = try output.openRecords()
            for r in records { try writer.write(r) }
            try writer.finish()
            if let path = summary {
                let w = RecordWriter(try FileSink(path: path))
                try w.write(summaryJSON)
                try w.finish()
            }
            for l in lines { diag.note(l) }
        }
    }

    func readPairs(_ reader: RecordReader) throws -> [PairEvaluation] {
        var out: [PairEvaluation] = []
        while let r = try reader.read() { out.append(try PairEvaluation(record: r, source: reader.name, line: reader.recordNumber)) }
        if out.isEmpty { throw IOError(reader.name, "no per-pair records") }
        return out
    }
}
