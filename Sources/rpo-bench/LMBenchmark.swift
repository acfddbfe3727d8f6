// Throughput of CausalLM on model-shaped random weights: training steps (forward + backward) or forward
// only, in tokens/s, the model FLOPs they achieve and how that compares with the sgemm rate measured in the
// same process (the better of rpo's panels and OpenBLAS's own threading, so the ratio is not flattered).
// Used by `rpo-bench lm` and scripts/bench/20-lm.sh; the numbers are only meaningful on a quiet machine.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import RPOCore
import RPOAlignment
import RPOTools

public enum LMBenchmark {
    /// Model shapes with HF config.json contents (random weights).
    public static let shapes: [String: String] = [
        "smollm2-135m": #"{"model_type": "llama", "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000, "tie_word_embeddings": true}"#,
        "gpt2-124m": #"{"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}"#,
    ]

    public struct Options: Sendable {
        public var shape: String
        public var batch: Int
        public var seqLen: Int
        public var steps: Int
        public var forwardOnly: Bool
        public var checkpointing: Bool
        /// Fraction of each sequence that is prompt (not scored).
        public var promptFraction: Double
        public init(shape: String, batch: Int, seqLen: Int, steps: Int, forwardOnly: Bool, checkpointing: Bool,
                    promptFraction: Double) {
            self.shape = shape; self.batch = batch; self.seqLen = seqLen; self.steps = steps
            self.forwardOnly = forwardOnly; self.checkpointing = checkpointing; self.promptFraction = promptFraction
        }
    }

    public struct Result: Sendable {
        public var tokensPerSecond: Double
        public var secondsPerStep: Double
        /// Model FLOPs per step: forward = 2·(linear MACs) + attention + head; training = 3x forward.
        public var flopsPerStep: Double
        public var sgemmGflops: Double
        /// sgemm GFLOP per CPU second.
        public var sgemmCPUGflops: Double
        public var peakRSSBytes: Int
        public var parameters: Int
        /// Process CPU time (user + system, all threads) per step: less sensitive than wall time to other
        /// processes on a shared machine (but it counts OpenBLAS's spin-waiting).
        public var cpuSecondsPerStep: Double

        public var modelGflops: Double { flopsPerStep / secondsPerStep / 1e9 }
        public var utilisation: Double { modelGflops / sgemmGflops }
        /// The same ratio per CPU second: model FLOPs / CPU s of a step against sgemm's FLOPs / CPU s.
        public var cpuUtilisation: Double { flopsPerStep / cpuSecondsPerStep / 1e9 / sgemmCPUGflops }
    }

    public static func config(_ shape: String) throws -> ModelConfig {
        guard let json = shapes[shape] else {
            throw ModelError.io("unknown shape \"\(shape)\" (known: \(shapes.keys.sorted().joined(separator: ", ")))")
        }
        return try ModelRegistry.config(json: Data(json.utf8), source: shape)
    }

    /// Forward FLOPs of one batch: every linear layer 2·N·in·out, attention 4·hs·NH per causal pair
    /// (scores and weighted sum), the head 2·R·C·V on the scored rows.
    public static func forwardFlops(_ c: ModelConfig, lengths: [Int], scored: Int) -> Double {
        let N = Double(lengths.reduce(0, +)), C = Double(c.hiddenSize)
        let perToken = C * Double(c.qkvSize) + Double(c.attnSize) * C + C * Double(c.upSize) + Double(c.intermediateSize) * C
        let pairs = lengths.reduce(0.0) { $0 + Double($1) * Double($1 + 1) / 2 }
        return 2 * N * perToken * Double(c.numLayers) + 4 * pairs * Double(c.headDim * c.numHeads) * Double(c.numLayers)
            + 2 * Double(scored) * C * Double(c.vocabSize)
    }

    /// sgemm rate on a model-shaped product (M = 1024 tokens, K = C, N = Up): GFLOP per wall second (best
    /// of 8 calls) and per CPU second of the process over the 8 calls (barely moved by other load), for
    /// BLAS.sgemm (panels) and for one OpenBLAS call with its own threads; the faster of the two.
    public static func sgemmRate(_ c: ModelConfig) -> (wall: Double, cpu: Double) {
        let panels = sgemmRate(c, openBLASThreads: nil), openblas = sgemmRate(c, openBLASThreads: BLAS.threads)
        return panels.wall >= openblas.wall ? panels : openblas
    }

    static func sgemmRate(_ c: ModelConfig, openBLASThreads: Int?) -> (wall: Double, cpu: Double) {
        let m = 1024, k = c.hiddenSize, n = c.upSize
        let a = Tensor(zeros: [m, k]), b = Tensor(zeros: [n, k]), out = Tensor(zeros: [m, n])
        var rng = RNG(seed: 1)
        for i in 0..<a.count { a.pointer[i] = rng.nextFloat() }
        for i in 0..<b.count { b.pointer[i] = rng.nextFloat() }
        var best = Double.infinity
        let c0 = cpuSeconds()
        for _ in 0..<8 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            if let t = openBLASThreads {
                BLAS.openBLASThreadedSgemm(threads: t, .none, .transposed, m: m, n: n, k: k, a: a.pointer, lda: k,
                                           b: b.pointer, ldb: k, c: out.pointer, ldc: n)
            } else {
                BLAS.sgemm(.none, .transposed, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k, c: out.pointer, ldc: n)
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let cpu = cpuSeconds() - c0  // all 8 calls: CPU time is counted in clock ticks
        let flops = 2 * Double(m) * Double(n) * Double(k)
        return (flops / best / 1e9, 8 * flops / max(cpu, 1e-6) / 1e9)
    }

    /// User + system CPU seconds of the whole process (all threads).
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    public static func run(_ o: Options) throws -> Result {
        let c = try config(o.shape)
        let m = CausalLM(config: c)
        m.initializeRandom(seed: 1)
        m.gradientCheckpointing = o.checkpointing
        var rng = RNG(seed: 2)
        let ls = Int(Double(o.seqLen) * o.promptFraction)
        let batch = (0..<o.batch).map { _ in
            ScoredSequence(inputIds: (0..<o.seqLen).map { _ in rng.below(c.vocabSize) }, labelStart: ls)
        }
        let scored = o.batch * (o.seqLen - max(ls, 1))
        let dl = (0..<o.batch).map { _ in rng.nextDouble() - 0.5 }
        func step() throws {
            if o.forwardOnly {
                _ = try m.sequenceLogProbs(batch)
            } else {
                _ = try m.trainingLogProbs(batch)
                try m.backward(dLogProbs: dl)
            }
        }
        try step()  // warm-up: allocates the workspace and the gradients
        // The fastest of the timed steps (wall and CPU): the least disturbed by other processes.
        var secs = Double.infinity, cpu = Double.infinity
        for _ in 0..<o.steps {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            try step()
            secs = min(secs, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            cpu = min(cpu, cpuSeconds() - c0)
        }
        let fwd = forwardFlops(c, lengths: batch.map(\.inputIds.count), scored: scored)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let rate = sgemmRate(c)
        return Result(tokensPerSecond: Double(o.batch * o.seqLen) / secs, secondsPerStep: secs,
                      flopsPerStep: o.forwardOnly ? fwd : 3 * fwd, sgemmGflops: rate.wall, sgemmCPUGflops: rate.cpu,
                      peakRSSBytes: Int(usage.ru_maxrss) * 1024, parameters: m.parameterCount,
                      cpuSecondsPerStep: cpu)
    }
}
