// rpo-bench sgemm: GFLOP/s of sgemm at the shapes the models run (SmolLM2-135M and MiniLM forward and
// backward), with 1 and 2 threads: BLAS.sgemm (single-threaded OpenBLAS on panels, one per thread of the
// team: what the models run) and, for comparison, one OpenBLAS call with OpenBLAS's own threads.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct Sgemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "GFLOP/s of sgemm at model shapes, per thread count: rpo's panels and OpenBLAS's threads.",
        discussion: """
            Shapes (M x K times K x N, with transposes as the layers use them): the SmolLM2-135M attention
            and MLP projections and LM head over 512 tokens, their weight gradients, and MiniLM's 384/1536
            projections over 256 tokens. Output: one JSON record per shape, thread count and implementation
            ("panels": BLAS.sgemm as the models call it; "openblas": one call threaded by OpenBLAS), e.g.
              {"bench":"sgemm","impl":"panels","shape":"smollm2.mlp_up","m":512,"n":1536,"k":576,"ta":false,
               "tb":true,"threads":2,"seconds":0.0021,"gflops":431.2}
            """
    )

    @Option(help: "Thread counts to measure, comma-separated.")
    var threads: String = "1,2"

    @Option(help: "Minimum seconds spent per measurement.")
    var seconds: Double = 0.5

    @Option(help: "Only the shapes whose name contains this text.")
    var only: String?

    struct Shape { let name: String; let m: Int, n: Int, k: Int; let ta: Transpose, tb: Transpose }

    /// C[M,N] = op(A) op(B). Linear forward y = x W^T: (T x in) (out x in)^T; weight gradient dW = dy^T x.
    static let shapes: [Shape] = [
        Shape(name: "smollm2.attn_q", m: 512, n: 576, k: 576, ta: .none, tb: .transposed),
        Shape(name: "smollm2.attn_kv", m: 512, n: 192, k: 576, ta: .none, tb: .transposed),
        Shape(name: "smollm2.mlp_up", m: 512, n: 1536, k: 576, ta: .none, tb: .transposed),
        Shape(name: "smollm2.mlp_down", m: 512, n: 576, k: 1536, ta: .none, tb: .transposed),
        Shape(name: "smollm2.lm_head", m: 512, n: 49152, k: 576, ta: .none, tb: .transposed),
        Shape(name: "smollm2.mlp_up.dx", m: 512, n: 576, k: 1536, ta: .none, tb: .none),
        Shape(name: "smollm2.mlp_up.dw", m: 1536, n: 576, k: 512, ta: .transposed, tb: .none),
        Shape(name: "smollm2.attn_scores", m: 512, n: 512, k: 64, ta: .none, tb: .transposed),
        Shape(name: "minilm.qkv", m: 256, n: 384, k: 384, ta: .none, tb: .transposed),
        Shape(name: "minilm.ffn_up", m: 256, n: 1536, k: 384, ta: .none, tb: .transposed),
    ]

    mutating func validate() throws {
        let t = threads.split(separator: ",").compactMap { Int($0) }
        if t.isEmpty || t.contains(where: { $0 < 1 }) { throw ValidationError("--threads must list positive integers") }
        if seconds <= 0 { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        try Tool.run("rpo-bench") { _ in
            var rng = RNG(seed: 1)
            for s in Sgemm.shapes where only.map({ s.name.contains($0) }) ?? true {
                let a = (0..<(s.m * s.k)).map { _ in rng.nextFloat() - 0.5 }
                let b = (0..<(s.k * s.n)).map { _ in rng.nextFloat() - 0.5 }
                var c = [Float](repeating: 0, count: s.m * s.n)
                let lda = s.ta == .none ? s.k : s.m, ldb = s.tb == .none ? s.n : s.k
                for t in threads.split(separator: ",").compactMap({ Int($0) }) { for impl in ["panels", "openblas"] {
                    BLAS.setThreads(t)
                    func once() {
                        if impl == "panels" {
                            BLAS.sgemm(s.ta, s.tb, m: s.m, n: s.n, k: s.k, a: a, lda: lda, b: b, ldb: ldb, c: &c, ldc: s.n)
                        } else {
                            BLAS.openBLASThreadedSgemm(threads: t, s.ta, s.tb, m: s.m, n: s.n, k: s.k, a: a, lda: lda,
                                                       b: b, ldb: ldb, c: &c, ldc: s.n)
                        }
                    }
                    once()  // warm-up: thread pool, caches
                    var reps = 0
                    let start = now()
                    var elapsed = 0.0
                    while elapsed < seconds { once(); reps += 1; elapsed = now() - start }
                    let per = elapsed / Double(reps)
                    let gflops = 2.0 * Double(s.m) * Double(s.n) * Double(s.k) / per / 1e9
                    try emit([("bench", .string("sgemm")), ("impl", .string(impl)), ("shape", .string(s.name)), ("m", .int(s.m)),
                              ("n", .int(s.n)), ("k", .int(s.k)), ("ta", .bool(s.ta == .transposed)),
                              ("tb", .bool(s.tb == .transposed)), ("threads", .int(t)),
                              ("seconds", .double(per)), ("gflops", rounded(gflops))])
                } }
            }
        }
    }
}
