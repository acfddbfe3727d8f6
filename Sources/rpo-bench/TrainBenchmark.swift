// Throughput of rpo-train's optimizer step (`rpo-bench train`, scripts/bench/25-train.sh): a model of a real
// shape with random weights (the weights do not change the cost), one synthetic batch record of B pairs of T
// tokens (half prompt), trained through the same Trainer the tool runs (decode, reference log-probs, policy
// forward/backward, loss, clipping, RMSprop). With `precomputed` the record carries reference log-probs scored
// once beforehand (outside the timing), so the reference model is not in memory while training.
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

public struct TrainBenchmarkOptions: Sendable {
    /// "smollm2-135m" or "tiny".
    public var shape = "smollm2-135m"
    public var loss: LossKind = .dpo
    public var pairs = 8
    public var seqLen = 256
    /// Timed steps after one warm-up step.
    public var steps = 2
    public var precomputed = false
    public var microBatch = 16
    public init() {}
}

public struct TrainBenchmarkResult: Sendable {
    public var secondsPerStep: Double
    /// CPU seconds (user + system, all threads) per step: less disturbed than wall-clock on a shared machine.
    public var cpuSecondsPerStep: Double
    public var tokensPerSecond: Double
    public var peakRSSBytes: Int
    public var parameters: Int
}

public enum TrainBenchmark {
    static let shapes: [String: String] = [
        "smollm2-135m": #"{"model_type":"llama","vocab_size":49152,"hidden_size":576,"intermediate_size":1536,"num_hidden_layers":30,"num_attention_heads":9,"num_key_value_heads":3,"max_position_embeddings":8192,"rms_norm_eps":1e-5,"rope_theta":100000.0,"tie_word_embeddings":true}"#,
        "tiny": #"{"model_type":"llama","vocab_size":64,"hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"max_position_embeddings":512,"rms_norm_eps":1e-5,"rope_theta":10000.0,"tie_word_embeddings":false}"#,
    ]

    public static var shapeNames: [String] { shapes.keys.sorted() }

    static func model(_ shape: String, seed: UInt64) throws -> CausalLM {
        guard let json = shapes[shape] else {
            throw TrainError.configuration("unknown shape \"\(shape)\" (\(shapeNames.joined(separator: ", ")))")
        }
        let m = CausalLM(config: try ModelRegistry.config(json: Data(json.utf8), source: shape))
        m.initializeRandom(seed: seed)
        return m
    }

    /// One paired batch record of `pairs` pairs of `seqLen` tokens (prompts of seqLen/2), one contrast group,
    /// with embedding weights from random prompt embeddings for rpo-paired.
    static func record(_ o: TrainBenchmarkOptions, vocab: Int, rng: inout RNG) throws -> JSONObject {
        let p = o.seqLen / 2
        var examples: [JSON] = []
        var embs: [[Float]] = []
        for k in 0..<o.pairs {
            let prompt = (0..<p).map { _ in rng.below(vocab) }
            var e = JSONObject()
            e["id"] = .string("bench:\(k)")
            e["chosen_input_ids"] = .ints(prompt + (p..<o.seqLen).map { _ in rng.below(vocab) })
            e["chosen_label_start"] = .int(p)
            e["rejected_input_ids"] = .ints(prompt + (p..<o.seqLen).map { _ in rng.below(vocab) })
            e["rejected_label_start"] = .int(p)
            examples.append(.object(e))
            embs.append((0..<16).map { _ in rng.nextFloat() - 0.5 })
        }
        var r = JSONObject()
        r["step"] = .int(0); r["epoch"] = .int(0); r["layout"] = .string("paired")
        let rpo = o.loss == .rpoPaired
        r["weighting"] = .string(rpo ? "embedding" : "none")
        if rpo { r["tau"] = .double(0.5) }
        r["batch_size"] = .int(o.pairs); r["micro_batch"] = .int(o.pairs)
        r["groups"] = .array([.ints(0..<o.pairs)])
        if rpo {
            let w = try Contrast.embeddingWeights(chosen: embs, rejected: embs, tau: 0.5)
            r["weights"] = .array([.array((0..<w.rows).map { i in JSON.floats(w.row(i).map { Float($0) }) })])
        }
        r["examples"] = .array(examples)
        return r
    }

    public static func run(_ o: TrainBenchmarkOptions) throws -> TrainBenchmarkResult {
        guard o.loss.family == .paired else { throw TrainError.configuration("the benchmark trains paired losses") }
        let policy = try model(o.shape, seed: 1)
        var rng = RNG(seed: 2)
        var rec = try record(o, vocab: policy.config.vocabSize, rng: &rng)
        let provenance = RunProvenance(model: o.shape, reference: o.shape, referenceFingerprint: nil)
        if o.precomputed {
            // Score once, as `rpo-train score` would, then drop the reference model.
            let ref = try model(o.shape, seed: 1)
            let b = try TrainBatch(record: rec, source: "bench", record: 1, loss: o.loss, parameters: o.loss.defaults,
                                   vocabSize: policy.config.vocabSize)
            var lp: [Double] = []
            for c in Trainer.chunks(Array(0..<b.sequences.count), o.microBatch) {
                lp += try ref.sequenceLogProbs(c.map { b.sequences[$0].tokens })
            }
            var exs = rec["examples"]!.arrayValue!
            for k in 0..<exs.count {
                var e = exs[k].objectValue!
                e["reference_chosen_logp"] = .double(lp[2 * k])
                e["reference_rejected_logp"] = .double(lp[2 * k + 1])
                exs[k] = .object(e)
            }
            rec["examples"] = .array(exs)
        }
        var c = TrainerConfiguration(loss: o.loss)
        c.learningRate = 5e-7
        var options = TrainerOptions()
        options.memoryMicroBatch = o.microBatch
        let trainer = try Trainer(policy: policy, configuration: c, provenance: provenance, options: options,
                                  referenceLoader: o.precomputed ? nil : { try model(o.shape, seed: 1) })
        var line: [UInt8] = []
        try JSONSerializer.write(rec, to: &line)
        line.append(0x0A)
        // One warm-up step (it loads the reference, if any, and sizes the workspaces), then the timed steps.
        var all: [UInt8] = []
        for _ in 0...o.steps { all += line }
        var afterWarmup = Date(), cpuAfterWarmup = 0.0
        let s = try trainer.run(RecordReader(MemorySource(all)), sinks: TrainerSinks(metrics: { _ in }, step: { n, _ in
            if n == 1 { afterWarmup = Date(); cpuAfterWarmup = cpuSeconds() }
        }))
        let seconds = Date().timeIntervalSince(afterWarmup) / Double(max(s.steps - 1, 1))
        let cpu = (cpuSeconds() - cpuAfterWarmup) / Double(max(s.steps - 1, 1))
        return TrainBenchmarkResult(secondsPerStep: seconds, cpuSecondsPerStep: cpu, tokensPerSecond: Double(2 * o.pairs * o.seqLen) / seconds,
                                    peakRSSBytes: peakRSS(), parameters: policy.parameterCount)
    }

    /// User + system CPU seconds of the process so far.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
    }

    /// VmHWM of /proc/self/status (0 where unavailable).
    static func peakRSS() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }
        return 0
    }
}
