// Decoding throughput of the Generator (rpo-bench sample, scripts/bench/35-sample.sh): B copies of one chat
// prompt completed to exactly N new tokens (EOS ignored), greedy or sampled, timed end to end (prefill
// included, as transformers' generate is timed) and per decoding step. Decoding one token for every
// sequence streams all the weights once, so batch-1 speed is bound by memory bandwidth: the benchmark also
// measures this machine's read bandwidth, in the same process, to state that bound.
import CKernels
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

public struct SampleBenchmarkResult: Sendable {
    public var batch: Int
    public var promptTokens: Int
    public var newTokens: Int
    /// Wall time of the whole generation (prefill, steps, sampling).
    public var seconds: Double
    /// Generated tokens per second over the whole generation.
    public var tokensPerSecond: Double
    /// Time in decoding steps only, and their count.
    public var stepSeconds: Double
    public var steps: Int
    /// Bytes of fp32 weights (each step reads them all once).
    public var weightBytes: Int
    /// Weight bytes read per second during the steps.
    public var weightBytesPerSecond: Double
    /// The machine's read bandwidth measured here (two threads summing a 1 GiB buffer), bytes/s.
    public var readBandwidth: Double
    /// Process CPU seconds of the whole generation and of its steps (steadier than wall time on a shared
    /// machine: divided by the threads, an estimate of the wall time when the cores are free).
    public var cpuSeconds: Double
    public var stepCPUSeconds: Double
}

/// CPU seconds used by this process so far (all threads).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

public enum SampleBenchmark {
    /// Completes `batch` copies of `promptIds` to `newTokens` tokens each with `settings`; returns timings.
    public static func run(model: CausalLM, promptIds: [Int], batch: Int, newTokens: Int,
                           settings: SamplingSettings, repeats: Int = 2) throws -> SampleBenchmarkResult {
        let gen = try Generator(model: model, options: GenerationOptions(sampling: settings, batchSize: batch))
        var best = Double.infinity, bestSteps = 0.0, steps = 0, cpu = 0.0, stepCPU = 0.0
        for r in 0..<max(1, repeats) {
            var pulled = 0
            var stepTime = 0.0, stepCPUTime = 0.0, lastCPU = 0.0
            let t0 = Date(), c0 = processCPUSeconds()
            try gen.run(next: {
                defer { pulled += 1 }
                return pulled < batch ? GenerationRequest(promptIds: promptIds, maxNewTokens: newTokens,
                                                          rng: SampleStreams.rng(seed: UInt64(r), record: pulled, sample: 0)) : nil
            }, done: { _, g in precondition(g.ids.count == newTokens) }, stepTimer: { dt in
                // called right after each step: the CPU time since the previous call is this step's and the
                // sampling of the previous one (small), or the prefills for the first step
                let c = processCPUSeconds()
                if lastCPU > 0 { stepCPUTime += c - lastCPU }
                lastCPU = c
                stepTime += dt
            })
            let total = Date().timeIntervalSince(t0), totalCPU = processCPUSeconds() - c0
            if total < best { best = total; bestSteps = stepTime; steps = gen.steps; cpu = totalCPU; stepCPU = stepCPUTime }
        }
        let weightBytes = model.parameterCount * 4
        return SampleBenchmarkResult(
            batch: batch, promptTokens: promptIds.count, newTokens: newTokens, seconds: best,
            tokensPerSecond: Double(batch * newTokens) / best, stepSeconds: bestSteps, steps: steps,
            weightBytes: weightBytes, weightBytesPerSecond: Double(weightBytes * steps) / bestSteps,
            readBandwidth: measureReadBandwidth(), cpuSeconds: cpu,
            stepCPUSeconds: steps > 1 ? stepCPU * Double(steps) / Double(steps - 1) : stepCPU)
    }

    /// Bytes per second two threads read from a 1 GiB buffer: the best of 3 passes of each of two loops, SIMD
    /// sums in Swift and CKernels' prefetching sum (the decoding kernel prefetches; the bound it is compared
    /// with must be read at least as well).
    public static func measureReadBandwidth(bytes: Int = 1 << 30) -> Double {
        let n = bytes / 4
        let buf = TensorStorage(count: n, zeroed: true)
        let p = UncheckedSendable(buf.pointer)
        var best = Double.infinity
        var sink: Double = 0
        for pass in 0..<6 {
            let t0 = Date()
            var partial = [Double](repeating: 0, count: 2)
            partial.withUnsafeMutableBufferPointer { out in
                let o = UncheckedSendable(out.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: 2) { t in
                    let lo = n / 32 * t / 2 * 32, hi = n / 32 * (t + 1) / 2 * 32
                    if pass % 2 == 1 {
                        o.value[t] = rpo_stream_sum(Kernels.isa, p.value + lo, hi - lo)
                        return
                    }
                    var a = SIMD16<Float>(), b = SIMD16<Float>()
                    var i = lo
                    let base = UnsafeRawPointer(p.value)
                    while i < hi {
                        a += base.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                        b += base.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
                        i += 32
                    }
                    o.value[t] = Double((a + b).sum())
                }
            }
            sink += partial[0] + partial[1]
            best = min(best, Date().timeIntervalSince(t0))
        }
        precondition(sink == 0)
        return Double(n * 4) / best
    }
}
