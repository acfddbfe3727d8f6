// rpo-bench lm: causal LM training-step or forward throughput (scripts/bench/20-lm.sh).
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct LM: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Causal LM training-step or forward throughput on random weights of a model's shape.",
        discussion: """
        Prints one JSON object: tokens_per_s, s_per_step, model_gflops (model FLOPs per second: 2 per \
        multiply-add in every linear layer, attention and the scored rows of the head; training counts \
        3x forward), sgemm_gflops (OpenBLAS on a model-sized matrix product in the same process), \
        utilisation (their ratio), cpu_s_per_step (process CPU time), cpu_utilisation (the same ratio \
        per CPU second, steadier on a shared machine) and peak_rss_mb.

        Example: rpo-bench lm --shape smollm2-135m --batch 4 --seq 256
        """)

    @Option(help: "Model shape: smollm2-135m or gpt2-124m.") var shape = "smollm2-135m"
    @Option(help: "Sequences per batch.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "Timed steps after one warm-up step; the fastest is reported.") var steps = 3
    @Flag(help: "Forward only (sequence log-probs, no activations kept).") var forwardOnly = false
    @Flag(help: "Gradient checkpointing (recompute each block in backward).") var checkpointing = false
    @Option(help: "Fraction of each sequence that is prompt (not scored).") var promptFraction = 0.5
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if batch < 1 || seq < 2 || steps < 1 { throw ValidationError("--batch, --steps must be >= 1 and --seq >= 2") }
        if !(0..<1).contains(promptFraction) { throw ValidationError("--prompt-fraction must be in [0, 1)") }
    }

    func run() throws {
        try Tool.run("rpo-bench", display: display) { _ in
            let r = try LMBenchmark.run(.init(shape: shape, batch: batch, seqLen: seq, steps: steps,
                                              forwardOnly: forwardOnly, checkpointing: checkpointing,
                                              promptFraction: promptFraction))
            let o = JSONObject([
                ("impl", .string("rpo")), ("shape", .string(shape)), ("batch", .int(batch)), ("seq", .int(seq)),
                ("mode", .string(forwardOnly ? "forward" : "train")), ("checkpointing", .bool(checkpointing)),
                ("tokens_per_s", .double((r.tokensPerSecond * 10).rounded() / 10)),
                ("s_per_step", .double((r.secondsPerStep * 1000).rounded() / 1000)),
                ("cpu_s_per_step", .double((r.cpuSecondsPerStep * 1000).rounded() / 1000)),
                ("model_gflops", .double((r.modelGflops * 10).rounded() / 10)),
                ("sgemm_gflops", .double((r.sgemmGflops * 10).rounded() / 10)),
                ("utilisation", .double((r.utilisation * 1000).rounded() / 1000)),
                ("cpu_utilisation", .double((r.cpuUtilisation * 1000).rounded() / 1000)),
                ("peak_rss_mb", .int(r.peakRSSBytes >> 20)), ("parameters", .int(r.parameters)),
            ])
            print(try JSONSerializer.string(.object(o)))
        }
    }
}
