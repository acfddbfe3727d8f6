// LayerNorm over the channel axis, forward and backward (GPT-2, GPT-NeoX).
// Reference: llm.c train_gpt2.c layernorm_forward / layernorm_backward; torch.nn.LayerNorm (biased variance).
// Legend: N rows (tokens), C channels.
import Foundation

public enum LayerNorm {
    /// out = (inp - mean) * rstd * weight + bias, per row; caches mean and rstd (N each).
    public static func forward(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               N: Int, C: Int, eps: Float) {
        Parallel.forRanges(N, costPerItem: C, minWork: 1 << 15) { r in
            for n in r {
                let x = inp + n * C, o = out + n * C
                var m: Float = 0
                for c in 0..<C { m += x[c] }
                m /= Float(C)
                var v: Float = 0
                for c in 0..<C { let d = x[c] - m; v += d * d }
                v /= Float(C)
                let s = 1 / (v + eps).squareRoot()
                for c in 0..<C { o[c] = (x[c] - m) * s * weight[c] + bias[c] }
                mean[n] = m
                rstd[n] = s
            }
        }
    }

    /// dinp += d(out)/d(inp)ᵀ dout; dweight += Σ_n dout * norm; dbias += Σ_n dout.
    /// With norm = (x - mean) * rstd and dnorm = dout * weight:
    /// dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        Parallel.forRanges(N, costPerItem: C, minWork: 1 << 15) { r in
            for n in r {
                let x = inp + n * C, d = dout + n * C, dx = dinp + n * C
                let m = mean[n], s = rstd[n]
                var dnMean: Float = 0, dnNormMean: Float = 0
                for c in 0..<C {
                    let dn = d[c] * weight[c]
                    dnMean += dn
                    dnNormMean += dn * (x[c] - m) * s
                }
                dnMean /= Float(C)
                dnNormMean /= Float(C)
                for c in 0..<C {
                    let norm = (x[c] - m) * s
                    dx[c] += s * (d[c] * weight[c] - dnMean - norm * dnNormMean)
                }
            }
        }
        // Parameter gradients by channel ranges: each thread sums its columns over all rows in order.
        Parallel.forRanges(C, costPerItem: N, minWork: 1 << 15) { cr in
            for n in 0..<N {
                let x = inp + n * C, d = dout + n * C
                let m = mean[n], s = rstd[n]
                for c in cr {
                    dweight[c] += d[c] * (x[c] - m) * s
                    dbias[c] += d[c]
                }
            }
        }
    }
}
