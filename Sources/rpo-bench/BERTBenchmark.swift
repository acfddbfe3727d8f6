// Sentence-encoder throughput, for `rpo-bench embed` (scripts/bench/40-embed.sh): texts per second of
// SentenceEncoder.encode (tokenization included, as in sentence-transformers' encode), the model-FLOP rate,
// and the OpenBLAS sgemm rate at the encoder's shapes (2,048 rows, as many threads) in the same process.
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

public enum SentenceEncoderBenchmark {
    public struct Result: Sendable {
        public var texts: Int
        /// Word-pieces the model read (special tokens included, after truncation).
        public var tokens: Int
        /// Best wall-clock seconds of one pass over the texts (tokenization + encoder).
        public var seconds: Double
        /// Process CPU seconds (user + system) of that pass.
        public var cpuSeconds: Double
        public var tokenizeSeconds: Double
        public var flops: Double
        public var sgemmGflops: Double
        /// sgemm GFLOP per CPU second (all threads): barely moved by other processes on the machine.
        public var sgemmCPUGflops: Double
        public var peakRSSBytes: Int
        public var textsPerSecond: Double { Double(texts) / seconds }
        public var modelGflops: Double { flops / seconds / 1e9 }
        public var utilisation: Double { modelGflops / sgemmGflops }
        /// Model FLOPs per CPU second of the encoder against sgemm's FLOPs per CPU second.
        public var cpuUtilisation: Double { flops / cpuSeconds / 1e9 / sgemmCPUGflops }
    }

    /// Texts of a JSON Lines file (the string field `field` of each record; zstd, gzip or plain).
    public static func texts(path: String, field: String) throws -> [String] {
        let r = try RecordReader(path: path)
        var out: [String] = []
        while let o = try r.read() { out.append(try r.field(o, field).string()) }
        return out
    }

    /// FLOPs of the encoder forward over sequences of these lengths: 2 per multiply-add of every linear
    /// layer (q, k, v, output, up, down) and of attention (q kᵀ and P v over each sequence's own tokens).
    public static func flops(_ c: BERTConfig, lengths: [Int]) -> Double {
        let C = Double(c.hiddenSize), I = Double(c.intermediateSize), layers = Double(c.numLayers)
        let tokens = Double(lengths.reduce(0, +))
        let squares = lengths.reduce(0.0) { $0 + Double($1) * Double($1) }
        return layers * (2 * tokens * (4 * C * C + 2 * C * I) + 4 * squares * C)
    }

    /// OpenBLAS sgemm GFLOP/s with `threads` threads on the encoder's projections (q/k/v, output, up, down)
    /// over `tokens` rows, each shape weighted by its share of the FLOPs: the peak the model-FLOP rate is
    /// held against, per wall second (best of 10 calls per shape) and per CPU second (all 10 calls).
    public static func sgemmRate(_ c: BERTConfig, tokens m: Int, threads: Int) -> (wall: Double, cpu: Double) {
        let saved = BLAS.threads
        BLAS.setThreads(threads)
        defer { BLAS.setThreads(saved) }
        let C = c.hiddenSize, I = c.intermediateSize
        var rng = RNG(seed: 1)
        var totalFlops = 0.0, totalSeconds = 0.0, totalCPU = 0.0
        for (n, k) in [(3 * C, C), (C, C), (I, C), (C, I)] {  // (out, in)
            let a = Tensor(zeros: [m, k]), b = Tensor(zeros: [n, k]), out = Tensor(zeros: [m, n])
            for i in 0..<a.count { a.pointer[i] = rng.nextFloat() - 0.5 }
            for i in 0..<b.count { b.pointer[i] = rng.nextFloat() - 0.5 }
            var best = Double.infinity
            let c0 = cpuSeconds()
            for _ in 0..<10 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                BLAS.sgemm(.none, .transposed, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k,
                           c: out.pointer, ldc: n)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            totalCPU += (cpuSeconds() - c0) / 10
            totalFlops += 2 * Double(m) * Double(n) * Double(k)
            totalSeconds += best
        }
        return (totalFlops / totalSeconds / 1e9, totalFlops / max(totalCPU, 1e-6) / 1e9)
    }

    /// Encodes `texts` `repeats` times after a warm-up pass and keeps the fastest pass.
    public static func run(_ encoder: SentenceEncoder, texts: [String], repeats: Int = 1) -> Result {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let tokens = encoder.tokenize(texts)
        let tokenizeSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let lengths = tokens.map(\.count)
        _ = encoder.encodeChecked(Array(tokens.prefix(64)))  // warm-up: workspaces, thread pool
        var best = Double.infinity, bestCPU = 0.0
        for _ in 0..<max(1, repeats) {
            let c0 = cpuSeconds(), w0 = DispatchTime.now().uptimeNanoseconds
            _ = encoder.encode(texts)
            let w = Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9
            if w < best { best = w; bestCPU = cpuSeconds() - c0 }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let rate = sgemmRate(encoder.model.config, tokens: 2048, threads: Parallel.threads)
        return Result(texts: texts.count, tokens: lengths.reduce(0, +), seconds: best, cpuSeconds: bestCPU,
                      tokenizeSeconds: tokenizeSeconds, flops: flops(encoder.model.config, lengths: lengths),
                      sgemmGflops: rate.wall, sgemmCPUGflops: rate.cpu, peakRSSBytes: Int(usage.ru_maxrss) * 1024)
    }

    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }
}
