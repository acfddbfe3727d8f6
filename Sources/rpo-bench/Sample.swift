// rpo-bench sample: decoding throughput of rpo-sample's generator (KV cache, batch-invariant steps) on a
// real model, at several batch sizes, with the weight bandwidth it reaches and the machine's read bandwidth.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generated tokens per second of rpo-sample's decoder (prefill included), per batch size.",
        discussion: """
            Output, one JSON record per batch size:
              {"bench":"sample","model":"SmolLM2-135M-Instruct.Q4_1.gguf","batch":1,"prompt_tokens":38,
               "new_tokens":128,"seconds":3.1,"tokens_per_s":41.3,"step_ms":23.9,"weight_gb_per_s":22.5,
               "read_gb_per_s":27.8,"bandwidth_fraction":0.81}
            Each batch decodes copies of one chat prompt to exactly --new-tokens tokens (EOS ignored).
            weight_gb_per_s: fp32 weight bytes streamed per second in the decoding steps (each step reads
            all weights once); read_gb_per_s: this machine's read bandwidth, measured in the same process;
            bandwidth_fraction: their ratio. cpu_seconds, cpu_step_ms: process CPU time of the run and per
            step, all threads (steadier than wall time on a busy machine; divided by `threads`, an estimate
            of the wall time on free cores). Best of --repeats runs.
            """
    )

    @Argument(help: "A GGUF file or Hugging Face model directory.") var model: String
    @Option(help: "Batch sizes, comma-separated.") var batch = "1,8"
    @Option(help: "New tokens per sequence.") var newTokens = 128
    @Option(help: "The user message of the prompt (chat template applied).") var prompt = "Write a short story about a robot who learns to paint."
    @Option(help: "Sampling temperature (0 = greedy).") var temperature = 0.0
    @Option(help: "Runs per batch size (the fastest is reported).") var repeats = 2

    func run() throws {
        try Tool.run("rpo-bench") { _ in
            let m = try SampleModel.load(path: model)
            var text = prompt
            if let t = try ChatTemplate.of(m.tokenizer) {
                text = try t.render([ChatMessage(role: "user", content: prompt)], addGenerationPrompt: true)
            }
            let ids = m.tokenizer.encode(text, addSpecialTokens: m.tokenizer.chatTemplate == nil)
            for b in batch.split(separator: ",").compactMap({ Int($0) }) {
                let r = try SampleBenchmark.run(model: m.model, promptIds: ids, batch: b, newTokens: newTokens,
                                                settings: SamplingSettings(temperature: temperature, topK: 50, topP: 0.95),
                                                repeats: repeats)
                try emit([("bench", .string("sample")), ("model", .string(m.name)), ("batch", .int(b)),
                          ("prompt_tokens", .int(r.promptTokens)), ("new_tokens", .int(r.newTokens)),
                          ("seconds", rounded(r.seconds, 3)), ("tokens_per_s", rounded(r.tokensPerSecond)),
                          ("step_ms", rounded(r.stepSeconds / Double(max(r.steps, 1)) * 1000, 2)),
                          ("weight_gb_per_s", rounded(r.weightBytesPerSecond / 1e9, 2)),
                          ("read_gb_per_s", rounded(r.readBandwidth / 1e9, 2)),
                          ("bandwidth_fraction", rounded(r.weightBytesPerSecond / r.readBandwidth, 3)),
                          ("cpu_seconds", rounded(r.cpuSeconds, 3)), ("threads", .int(Parallel.threads)),
                          ("cpu_step_ms", rounded(r.stepCPUSeconds / Double(max(r.steps, 1)) * 1000, 2))])
            }
        }
    }
}
