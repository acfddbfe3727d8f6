// rpo-judge fit-reward: fits the reward judge's Bradley-Terry head on training pairs (Sources/RPOAlignment/Judging/RewardJudge.swift).
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct FitRewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit-reward",
        abstract: "Fit a Bradley-Terry reward head on a sentence encoder's embeddings of preference pairs.",
        discussion: """
        The reward of a text is w . e(text), e the sentence embedding (as
        rpo-embed computes it). w minimises the Bradley-Terry loss of the
        human labels, mean -log sigmoid(r(chosen) - r(rejected)), plus
        (l2 / 2) |w|^2, exactly (Newton's method, a strictly convex problem).
        With --validation, one head per --l2 value is fitted and the one with
        the best validation accuracy kept (the smaller l2 among equals); the
        test split is never read.

        Input: example records (rpo-tokenize) of training pairs; fields
        "chosen" and "rejected" (the response texts).
        Output (-o, one JSON object):
          {"kind": "bradley-terry-linear", "features": "response_embedding",
           "encoder": DIR, "encoder_fingerprint": "sha256:...",
           "dimension": 384, "l2", "train_pairs", "train_accuracy",
           "validation_pairs", "validation_accuracy",
           "grid": [{"l2", "validation_accuracy"}], "weights": [...]}
        Accuracies count ties half.

        Example:
          rpo-judge fit-reward --encoder models/all-MiniLM-L6-v2 \\
            --validation validation.examples.zst --l2 1e-4,1e-3,1e-2,1e-1 \\
            train.examples.zst -o reward.json
          rpo-judge --validate --judge reward --reward-model reward.json \\
            test.examples.zst -o validation.judgments.zst \\
            --summary judge-validation.json
        """)

    @OptionGroup var input: InputOptions
    @Option(name: .shortAndLong, help: "The reward head file to write (JSON).") var output: String
    @Option(help: "The sentence encoder directory (default: $RPO_EMBED_MODEL, then models/all-MiniLM-L6-v2).") var encoder: String?
    @Option(help: "Example records of validation pairs, for choosing among --l2 values.") var validation: String?
    @Option(help: "L2 penalties, comma-separated (more than one needs --validation).") var l2 = "1e-3"
    @OptionGroup var display: DisplayOptions

    func run() throws {
        try Tool.run("rpo-judge", display: display) { diag in
            let grid = try l2.split(separator: ",").map { s -> Double in
                guard let v = Double(s.trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite else {
                    throw CLIError.usage("--l2: \"\(s)\" is not a positive number")
                }
                return v
            }
            if grid.isEmpty { throw CLIError.usage("--l2 needs at least one value") }
            if grid.count > 1 && validation == nil { throw CLIError.usage("several --l2 values need --validation pairs to choose among them") }
            // Absolute, so that the head finds its encoder from any directory.
            let given = encoder ?? ProcessInfo.processInfo.environment["RPO_EMBED_MODEL"] ?? "models/all-MiniLM-L6-v2"
            let dir = URL(fileURLWithPath: given).standardizedFileURL.path
            let enc = try SentenceEncoder.load(path: dir)
            let train = try RewardPairs.read(try input.openRecords())
            let val = try validation.map { try RewardPairs.read(try RecordReader(path: $0)) }
            let start = Date()
            let head = try RewardFit.fit(train: train, validation: val, encoder: enc, encoderPath: dir, grid: grid) { diag.note($0) }
            let w = RecordWriter(try FileSink(path: output))
            try w.write(head.json)
            try w.finish()
            var line = String(format: "kept l2 %g: train accuracy %.1f%% on %d pairs", head.l2, head.trainAccuracy * 100, head.trainPairs)
            if let a = head.validationAccuracy, let m = head.validationPairs { line += String(format: ", validation %.1f%% on %d", a * 100, m) }
            diag.note(line + String(format: " (%.1f s)", Date().timeIntervalSince(start)))
        }
    }
}
