// rpo-bench optim: one optimizer step over a flat fp32 parameter buffer (RMSprop, AdamW) and global-norm
// clipping, in parameters per second and GB/s of memory traffic: the per-step overhead rpo-train adds to a
// model's forward and backward. Compared with torch.optim by scripts/bench/31-optim.sh.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct Optim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput of RMSprop, AdamW and clipping steps over a flat parameter buffer.",
        discussion: """
            Output: one JSON record per operation, e.g.
              {"bench":"optim","op":"rmsprop","params":33554432,"threads":2,"seconds":0.021,
               "ns_per_param":0.63,"gb_per_s":31.9}
            Memory traffic per parameter: RMSprop reads θ, g, v and writes θ, v (20 bytes); AdamW reads θ, g, m, v
            and writes θ, m, v (28 bytes); clipping reads g for the norm, then reads and writes it (12 bytes).
            """
    )

    @Option(help: "Parameters in the buffer (SmolLM2-135M has 134,515,008).")
    var params: Int = 1 << 25

    @Option(help: "Minimum seconds spent per measurement.")
    var seconds: Double = 1

    mutating func validate() throws {
        if params < 1 { throw ValidationError("--params must be positive") }
        if seconds <= 0 { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        try Tool.run("rpo-bench") { _ in
            var rng = RNG(seed: 1)
            var p = (0..<params).map { _ in rng.nextFloat() - 0.5 }
            var g = (0..<params).map { _ in (rng.nextFloat() - 0.5) * 1e-3 }
            func measure(_ op: String, bytesPerParam: Int, _ body: () -> Void) throws {
                body()  // warm-up: page faults of the optimizer state
                var reps = 0
                let start = now()
                var elapsed = 0.0
                while elapsed < seconds { body(); reps += 1; elapsed = now() - start }
                let per = elapsed / Double(reps)
                try emit([("bench", .string("optim")), ("op", .string(op)), ("params", .int(params)),
                          ("threads", .int(Parallel.threads)), ("seconds", .double(per)),
                          ("ns_per_param", rounded(per / Double(params) * 1e9, 3)),
                          ("gb_per_s", rounded(Double(bytesPerParam * params) / per / 1e9))])
            }
            var rms = RMSprop(parameterCount: params)
            try measure("rmsprop", bytesPerParam: 20) { rms.step(parameters: &p, gradients: g, lr: 5e-7) }
            rms = RMSprop(parameterCount: 0)
            var adam = AdamW(parameterCount: params)
            try measure("adamw", bytesPerParam: 28) { adam.step(parameters: &p, gradients: g, lr: 5e-7) }
            adam = AdamW(parameterCount: 0)
            // Half the initial norm: the first call halves the gradients, every later one finds the norm a hair
            // above maxNorm (the 1e-6 of max_norm / (norm + 1e-6)) and scales too, the costlier case.
            let half = g.withUnsafeBufferPointer { GradientClipping.globalNorm($0.baseAddress!, count: params) } / 2
            try measure("clip", bytesPerParam: 12) { GradientClipping.clip(&g, maxNorm: half) }
        }
    }
}
