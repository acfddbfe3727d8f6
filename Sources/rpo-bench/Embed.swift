// rpo-bench embed: sentence-encoder throughput (scripts/bench/40-embed.sh).
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sentence-encoder throughput: texts/s of SentenceEncoder.encode on a file of texts.",
        discussion: """
        Reads the string field --field of each JSON Lines record, encodes all texts (tokenization included, \
        as sentence-transformers' encode does) once to warm up and --repeats times, and prints one JSON \
        object: texts_per_s, tokens, seconds (best pass, wall), cpu_seconds (that pass), tokenize_seconds, \
        model_gflops (2 FLOPs per multiply-add of the linear layers and attention), sgemm_gflops (OpenBLAS \
        on the encoder's projection shapes, 2,048 rows, same thread count, same process), utilisation \
        (their ratio), the same per CPU second (model_gflops_per_cpu_s, sgemm_gflops_per_cpu_s, \
        cpu_utilisation: steadier on a shared machine) and peak_rss_mb.

        Example: rpo-bench embed --model models/all-MiniLM-L6-v2 --threads 2 prompts.jsonl
        """)

    @Argument(help: "JSON Lines of texts (zstd, gzip or plain).") var input: String
    @Option(help: "The text field.") var field = "prompt"
    @Option(help: "The model directory.") var model = "models/all-MiniLM-L6-v2"
    @Option(help: "Threads (cores taking chunks in turn).") var threads = 2
    @Option(help: "Timed passes (the best is reported).") var repeats = 1
    @Option(help: "Tokens per chunk of work.") var chunkTokens: Int?
    @Option(help: "Use only the first N texts.") var limit: Int?
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if threads < 1 || repeats < 1 { throw ValidationError("--threads and --repeats must be positive") }
        if let c = chunkTokens, c < 1 { throw ValidationError("--chunk-tokens must be positive") }
    }

    func run() throws {
        try Tool.run("rpo-bench", display: display) { _ in
            Parallel.threads = threads
            BLAS.setThreads(threads)
            let encoder = try SentenceEncoder.load(path: model)
            if let c = chunkTokens { encoder.chunkTokens = c }
            var texts = try SentenceEncoderBenchmark.texts(path: input, field: field)
            if let l = limit { texts = Array(texts.prefix(l)) }
            let r = SentenceEncoderBenchmark.run(encoder, texts: texts, repeats: repeats)
            try emit([("bench", .string("embed")), ("impl", .string("rpo")), ("threads", .int(threads)),
                      ("chunk_tokens", .int(encoder.chunkTokens)), ("texts", .int(r.texts)), ("tokens", .int(r.tokens)),
                      ("texts_per_s", rounded(r.textsPerSecond, 2)), ("seconds", rounded(r.seconds, 3)),
                      ("cpu_seconds", rounded(r.cpuSeconds, 3)), ("tokenize_seconds", rounded(r.tokenizeSeconds, 3)),
                      ("model_gflops", rounded(r.modelGflops)), ("sgemm_gflops", rounded(r.sgemmGflops)),
                      ("utilisation", rounded(r.utilisation, 3)),
                      ("model_gflops_per_cpu_s", rounded(r.flops / r.cpuSeconds / 1e9)),
                      ("sgemm_gflops_per_cpu_s", rounded(r.sgemmCPUGflops)), ("cpu_utilisation", rounded(r.cpuUtilisation, 3)),
                      ("peak_rss_mb", .int(r.peakRSSBytes >> 20))])
        }
    }
}
