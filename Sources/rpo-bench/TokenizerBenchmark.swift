// Encode throughput, for `rpo-bench tokenize` (scripts/bench/10-tokenize.sh): texts encoded without
// special tokens, one thread or all, best of a few runs after a warm-up run (which also fills the caches,
// as a long-running tokenizer would have them).
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

public enum TokenizerBenchmark {
    public struct Result: Sendable {
        public let bytes: Int
        public let tokens: Int
        public let seconds: Double
        public let threads: Int
        public var megabytesPerSecond: Double { Double(bytes) / seconds / 1e6 }
        public var tokensPerSecond: Double { Double(tokens) / seconds }
    }

    /// Texts of the HH-RLHF file layout (JSON Lines, zstd/gzip/plain, each record's `chosen` and `rejected`
    /// strings), as the Python reference in the bench script reads them.
    public static func hhTexts(path: String) throws -> [String] {
        var out: [String] = []
        let reader = try RecordReader(path: path)
        while let r = try reader.read() {
            for k in ["chosen", "rejected"] { if let s = r[k]?.stringValue { out.append(s) } }
        }
        return out
    }

    /// Measures `tokenizer.encode` over `texts` with `threads` threads (1 = the calling thread only).
    public static func run(_ tokenizer: Tokenizer, texts: [String], threads: Int, repeats: Int = 3) -> Result {
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        var best = Double.infinity
        var tokens = 0
        let saved = Parallel.threads
        Parallel.threads = threads
        defer { Parallel.threads = saved }
        for r in 0...max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var n = 0
            if threads <= 1 {
                for t in texts { n += tokenizer.encode(t, addSpecialTokens: false).count }
            } else {
                for ids in tokenizer.encode(batch: texts, addSpecialTokens: false) { n += ids.count }
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            tokens = n
            if r > 0 { best = min(best, dt) }  // run 0 warms up
        }
        return Result(bytes: bytes, tokens: tokens, seconds: best, threads: threads)
    }
}
