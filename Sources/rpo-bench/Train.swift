// rpo-bench train: seconds per optimizer step of rpo-train's loop on a model of a real shape (random weights),
// with the reference model loaded or with precomputed reference log-probs. The run: TrainBenchmark.swift here.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Optimizer-step throughput of rpo-train (DPO or RPO-paired) on random weights of a model's shape.",
        discussion: """
            Prints one record: {"bench":"train","shape","loss","pairs","seq","reference":"model"|"precomputed",
            "s_per_step","cpu_s_per_step","tokens_per_s","peak_rss_mb","parameters"}. A step is what rpo-train does per batch
            record: reference log-probs (unless precomputed), policy forward and backward, the loss, clipping
            and RMSprop. One warm-up step is not timed.
              rpo-bench train --loss rpo-paired --pairs 8 --seq 256
              rpo-bench train --loss dpo --precomputed
            """)

    @Option(help: "Model shape: smollm2-135m or tiny.") var shape = "smollm2-135m"
    @Option(help: "dpo, ipo, cdpo, slic, rpo-paired or rpo-diagonal.") var loss = "dpo"
    @Option(help: "Pairs per batch (one contrast group).") var pairs = 8
    @Option(help: "Tokens per sequence (half prompt, half completion).") var seq = 256
    @Option(help: "Timed steps after one warm-up step.") var steps = 2
    @Flag(help: "Batch records carry reference log-probs (scored once before timing).") var precomputed = false
    @Option(help: "Sequences through the model at once.") var microBatch = 16

    func validate() throws {
        if pairs < 1 || steps < 1 || microBatch < 1 || seq < 4 { throw ValidationError("--pairs, --steps, --micro-batch >= 1; --seq >= 4") }
        guard let l = LossKind(rawValue: loss), l.family == .paired else { throw ValidationError("--loss must be a paired loss") }
    }

    func run() throws {
        var o = TrainBenchmarkOptions()
        o.shape = shape; o.loss = LossKind(rawValue: loss)!; o.pairs = pairs; o.seqLen = seq; o.steps = steps
        o.precomputed = precomputed; o.microBatch = microBatch
        let r = try TrainBenchmark.run(o)
        try emit([("bench", .string("train")), ("shape", .string(shape)), ("loss", .string(loss)), ("pairs", .int(pairs)),
                  ("seq", .int(seq)), ("reference", .string(precomputed ? "precomputed" : "model")),
                  ("s_per_step", rounded(r.secondsPerStep, 6)), ("cpu_s_per_step", rounded(r.cpuSecondsPerStep, 6)),
                  ("tokens_per_s", rounded(r.tokensPerSecond)),
                  ("peak_rss_mb", .int(r.peakRSSBytes >> 20)), ("parameters", .int(r.parameters))])
    }
}
