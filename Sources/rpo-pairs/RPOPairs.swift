// rpo-pairs: example records → batch records (the training plan of rpo-train), with RPO's contrast matrices.
// Thin executable: options, validation, streams; the work is PairsBuilder in Sources/RPOTools/Data.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

extension BatchLayout: ExpressibleByArgument {}
extension ContrastWeighting: ExpressibleByArgument {}
extension BatchGrouping: ExpressibleByArgument {}

@main
struct RPOPairs: ParsableCommand {
    static func main() { Tool.main(Self.self) }


    static let configuration = CommandConfiguration(
        commandName: "rpo-pairs",
        abstract: "Turn example records into training batches with RPO's distance-weighted contrast matrices.",
        discussion: """
        Batches are formed as the official RPO loaders do
        (yinyueqin/Relative-Preference-Optimization@c1b5163):
          sft       one element per unique prompt_id: the SFT completion of
                    its record with "sft_target": true (chosen, or rejected
                    per "sft_completion"), as an item (SFTDataLoader)
          paired    one element per pair record (PairedPreferenceDataLoader)
          unpaired  pairs split into chosen and rejected items, shuffled;
                    batches filled from two FIFO queues in chosen/rejected
                    alternation, batch/2 of each; leftovers wait for the next
                    batch and are dropped at the end of the epoch
                    (SimpleKTODataLoader). Item records ("status") are taken
                    as they are.
        Each epoch is a fresh seeded shuffle. Partial final batches are
        dropped; the count is reported on standard error. Each batch is cut
        into micro-batches of --micro-batch (the paper's per-GPU batch:
        64 global / 8 GPUs = 8; --micro-batch = --batch-size gives whole-batch
        matrices), each with its contrast, computed in Double:
          embedding  W = softmax(-D/tau) over each row, D = 1 - cosine of the
                     L2-normalised prompt embeddings; paired: B x B over the
                     micro-batch's prompts; unpaired: chosen x rejected items.
                     Stored as float32.
          uniform    W = ones (not stored)
          diagonal   rpo-diagonal's loss weights, alpha = --diagonal-weight
          none       no matrix (DPO, IPO, cDPO, SLiC, KTO family, SFT)

        Input, one record per pair (rpo-tokenize; rpo-embed adds the embedding):
          {"id", "prompt_id", "dataset", "split", "prompt", "chosen",
           "rejected", "prompt_ids", "chosen_input_ids", "chosen_label_start",
           "rejected_input_ids", "rejected_label_start", "sft_target": bool,
           "prompt_embedding": [float], ...}
        Required: prompt_id; the four chosen_/rejected_ token fields;
        sft_target (sft layout); the embedding (embedding weighting: the same
        length in every record, finite as float32, not all zero). Other fields
        pass through.

        Output, one record per optimiser step (docs/records.md):
          {"step", "epoch", "layout", "weighting", "tau", "diagonal_weight",
           "batch_size", "micro_batch", "groups": [[positions per micro-batch]],
           "weights": [one matrix per group], "stats": {"mean_diagonal_weight",
           "mean_row_entropy", "effective_beta_multiplier"}, "examples": [...]}
        Paired batches carry the pair records. Sft and unpaired batches carry
        items: the pair's shared fields, "id" as "<pair id>:<side>",
        "completion" (from "chosen" or "rejected"), every "<side>_X" as "X"
        ("input_ids", "label_start", ...) and "status". The embedding field is
        not carried on. Unpaired
        matrices: rows are the group's chosen items, columns its rejected
        items, each in batch order.

        Memory: one epoch's examples are held, compactly (serialized records,
        float32 embeddings). The same input and --seed give byte-identical
        output.

        Example:
          rpo-tokenize --dataset hh --tokenizer DIR hh.jsonl.gz | rpo-embed |
            rpo-pairs --layout paired --batch-size 64 --micro-batch 8 \\
            --tau 0.5 --stats -o batches.zst
        """)

    @OptionGroup var inputOptions: InputOptions
    @OptionGroup var outputOptions: OutputOptions

    @Option(help: "What one element of a batch is: sft, paired or unpaired.")
    var layout: BatchLayout

    @Option(help: "Elements per batch (per optimiser step), as the official model.batch_size.")
    var batchSize: Int = 64

    @Option(help: "Elements per contrast matrix (the per-device micro-batch).")
    var microBatch: Int = 8

    @Option(help: "embedding, uniform, diagonal or none (default: none for sft, embedding otherwise).")
    var weighting: ContrastWeighting?

    @Option(help: ArgumentHelp("random (consecutive elements of the shuffled epoch, as upstream) or similar (micro-batches of pairs with similar prompt embeddings, dealt into batches in a seeded order; paired layout).", valueName: "grouping"))
    var grouping: BatchGrouping = .random

    @Option(help: "Temperature of the embedding weights (loss.distance_temperature).")
    var tau: Double = 0.5

    @Option(help: "Share of each row's loss on its own pair, for --weighting diagonal.")
    var diagonalWeight: Double = 0.8

    @Option(help: "Passes over the data, each reshuffled.")
    var epochs: Int = 1

    @Option(help: "Stop after the batch at which this many elements have been written (upstream's n_examples).")
    var maxExamples: Int?

    @Option(help: "The field holding each prompt's embedding.")
    var embeddingField: String = "prompt_embedding"

    @Flag(help: "Print a summary of the batches and their contrast statistics on standard error.")
    var stats = false

    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var display: DisplayOptions

    var parameters: PairsOptions {
        var o = PairsOptions(layout: layout, weighting: weighting ?? (layout == .sft ? .none : .embedding))
        o.batchSize = batchSize; o.microBatch = microBatch; o.tau = tau; o.diagonalWeight = diagonalWeight
        o.epochs = epochs; o.seed = seedOptions.seed; o.maxExamples = maxExamples; o.embeddingField = embeddingField
        o.grouping = grouping
        return o
    }

    mutating func validate() throws {
        do { try parameters.validate() } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        try Tool.run("rpo-pairs", display: display) { diag in
            let options = parameters
            let reader = try inputOptions.openRecords()
            let writer = try outputOptions.openRecords()
            // Progress: records while reading, then batches while writing.
            let reading = ProgressLine(enabled: display.showProgress, label: "rpo-pairs: reading", unit: "records")
            let writing = ProgressLine(enabled: display.showProgress, label: "rpo-pairs: writing", unit: "batches")
            let summary = try PairsBuilder.run(input: reader, output: writer, options: options) { records, batches in
                if batches == 0 { reading.update(records) } else {
                    if batches == 1 { reading.finish() }
                    writing.update(batches)
                }
            }
            try writer.finish()
            reading.finish()
            writing.finish()
            report(summary, options, diag)
        }
    }

    func report(_ s: PairsSummary, _ o: PairsOptions, _ diag: Diagnostics) {
        let unit = ["sft": "prompts", "paired": "pairs", "unpaired": "items"][o.layout.rawValue]!
        let dropped = s.droppedPerEpoch.reduce(0, +)
        if s.batches == 0 {
            diag.warning("no batch written: \(s.elements) \(unit) per epoch, fewer than --batch-size \(o.batchSize)")
        }
        diag.note("dropped \(dropped) \(unit) in partial final batches (\(s.droppedPerEpoch.map(String.init).joined(separator: ", ")) per epoch)")
        guard stats else { return }
        diag.note("\(s.inputRecords) records, \(s.elements) \(unit) per epoch; \(s.batches) batches of \(o.batchSize) in \(s.droppedPerEpoch.count) epoch(s), \(s.examplesWritten) elements written\(s.stoppedEarly ? " (stopped at --max-examples)" : "")")
        guard let h = s.meanRowEntropy, let m = s.effectiveBetaMultiplier else { return }
        var line = "contrast (\(o.weighting.rawValue)\(o.weighting == .embedding ? ", tau \(o.tau)" : ""), micro-batch \(o.microBatch), \(o.grouping.rawValue) grouping):"
        if let d = s.meanDiagonalWeight {
            line += " mean diagonal weight \(f(d)) (min \(f(s.minDiagonalWeight ?? d)), max \(f(s.maxDiagonalWeight ?? d)));"
        }
        line += " mean row entropy \(f(h)) nats; effective beta multiplier \(f(m))"
        diag.note(line)
    }

    func f(_ x: Double) -> String { String(format: "%.4f", x) }
}
