// rpo-train score: example, item or batch records -> the same records with the reference log-probs of a model
// (ReferenceScorer, Sources/RPOAlignment/Training/ReferenceScorer.swift). The old spelling `rpo-train --score`
// still runs it, with a deprecation note.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Add a model's reference log-probs to example, item or batch records.",
        discussion: """
            Input: example, item or batch records (docs/records.md). Output: the
            same records, in order, with reference_chosen_logp and
            reference_rejected_logp (examples), reference_logp (items),
            reference_kl_logp (unpaired batches, with --loss kto), and
            reference_model = "sha256:..." of the model's weight files and
            tokenizer.json (--prefix replaces "reference"). rpo-train and
            rpo-train eval then use them instead of loading the reference model.

            Example:
              rpo-train score --model models/smol batches.zst -o scored.zst
            (`rpo-train --score ...` is the deprecated spelling of the same.)
            """)

    @OptionGroup var input: InputOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The scoring model: a Hugging Face directory or a GGUF file.") var model: String
    @Option(help: "kto: also score the KL sequences of unpaired batches (other losses need none).") var loss: LossKind?
    @Option(help: "Sequences through the model at once (memory only).") var microBatch = 16
    @Option(help: "Field prefix of the written log-probs and model.") var prefix = "reference"
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if microBatch < 1 { throw ValidationError("--micro-batch must be >= 1") }
    }

    func run() throws {
        try Tool.run("rpo-train", display: display) { diag in
            try Self.score(model: model, loss: loss, microBatch: microBatch, prefix: prefix, input: input,
                           output: output, display: display, diag: diag)
        }
    }

    static func score(model: String, loss: LossKind?, microBatch: Int, prefix: String, input: InputOptions,
                      output: OutputOptions, display: DisplayOptions, diag: Diagnostics) throws {
        let m = try ModelFiles.load(model)
        let fingerprint = try ModelFiles.fingerprint(model)
        let reader = try input.openRecords()
        let writer = try output.openRecords()
        var o = ScoreOptions()
        o.prefix = prefix; o.memoryMicroBatch = microBatch; o.kl = loss == .kto
        let bar = ProgressLine(enabled: display.showProgress, label: "rpo-train score", unit: "records")
        let s = try ReferenceScorer.run(model: m, fingerprint: fingerprint, input: reader, output: writer, options: o) { bar.update($0) }
        try writer.finish()
        bar.finish()
        diag.note("scored \(s.records) records (\(s.sequences) sequences, \(s.tokens) tokens) with \(model) (\(fingerprint))")
    }
}
