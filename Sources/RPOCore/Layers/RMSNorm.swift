// RMSNorm over the channel axis, forward and backward (Llama, Mistral, Qwen2, SmolLM).
// Reference: HF LlamaRMSNorm (transformers 5.24.0 models/llama/modeling_llama.py):
// x * rsqrt(mean(x^2) + eps) * weight, computed in fp32. Legend: N rows (tokens), C channels.

public enum RMSNorm {
    /// out = inp * rstd * weight per row, rstd = 1 / sqrt(mean(inp^2) + eps); caches rstd (N).
    public static func forward(_ out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               N: Int, C: Int, eps: Float) {
        Parallel.forRanges(N, costPerItem: C, minWork: 1 << 15) { r in
            for n in r {
                let x = inp + n * C, o = out + n * C
                var ss: Float = 0
                for c in 0..<C { ss += x[c] * x[c] }
                let s = 1 / (ss / Float(C) + eps).squareRoot()
                for c in 0..<C { o[c] = weight[c] * (x[c] * s) }
                rstd[n] = s
            }
        }
    }

    /// dinp += rstd * (dnorm - norm * mean(dnorm * norm)) with norm = x * rstd, dnorm = dout * weight;
    /// dweight += Σ_n dout * norm.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        Parallel.forRanges(N, costPerItem: C, minWork: 1 << 15) { r in
            for n in r {
                let x = inp + n * C, d = dout + n * C, dx = dinp + n * C
                let s = rstd[n]
                var dot: Float = 0
                for c in 0..<C { dot += d[c] * weight[c] * x[c] * s }
                dot /= Float(C)
                for c in 0..<C { dx[c] += s * (d[c] * weight[c] - x[c] * s * dot) }
            }
        }
        Parallel.forRanges(C, costPerItem: N, minWork: 1 << 15) { cr in
            for n in 0..<N {
                let x = inp + n * C, d = dout + n * C
                let s = rstd[n]
                for c in cr { dweight[c] += d[c] * x[c] * s }
            }
        }
    }
}
