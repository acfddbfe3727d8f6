// The fused sequence log-probability head: logits = x Wᵀ (lm_head), log-softmax, gather of the scored
// tokens, and its backward seeded by d(loss)/d(logprob) per row, chunked over rows so the (rows x V) logits
// never exist at once (only `chunk` x V). docs/method.md §3: S[b] = Σ_t log_softmax(logits[b,t])[y(t+1)]
// over the scored positions; its gradient wrt logits[t, v] is seed * (1[v = y] - p_v).
// Reference: docs/method.md §3 (utils.get_batch_logps); llm.c crossentropy_softmax_backward.
// Legend: R scored rows (the final-normed hidden states of the positions that predict a scored token),
// C channels, V vocabulary.
import CKernels
import Foundation

public enum SequenceLogProb {
    /// Rows of logits held at once: about 8M floats (32 MB), at least one row.
    public static func chunkRows(V: Int) -> Int { max(1, min(1024, (8 << 20) / max(V, 1))) }

    /// logprob[r] = log_softmax(x[r] · Wᵀ)[targets[r]] in Double; lse (R) caches each row's log-sum-exp.
    /// `scratch` holds chunk x V floats (chunk defaults to chunkRows(V:)).
    public static func forward(logprob: UnsafeMutablePointer<Double>, lse: UnsafeMutablePointer<Float>,
                               _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               targets: UnsafePointer<Int32>, scratch: UnsafeMutablePointer<Float>,
                               R: Int, C: Int, V: Int, chunk: Int? = nil) {
        let chunk = chunk ?? chunkRows(V: V)
        var r0 = 0
        while r0 < R {
            let rc = min(chunk, R - r0)
            BLAS.sgemm(.none, .transposed, m: rc, n: V, k: C, a: x + r0 * C, lda: C, b: weight, ldb: C,
                       beta: 0, c: scratch, ldc: V)
            let base = r0
            Parallel.forRanges(rc, costPerItem: V, minWork: 1 << 15) { rr in
                for i in rr {
                    let row = scratch + i * V
                    let l = Kernels.logSumExp(row, count: V)
                    lse[base + i] = l
                    logprob[base + i] = Double(row[Int(targets[base + i])]) - Double(l)
                }
            }
            r0 += rc
        }
    }

    /// dx (R, C) = dlogits · W (overwritten), dweight (V, C) += dlogitsᵀ · x, with
    /// dlogits[r, v] = seed[r] * (1[v = targets[r]] - exp(logit[r, v] - lse[r])); logits are recomputed chunk
    /// by chunk from x and W. Rows with seed 0 still cost their share (the caller drops unscored rows).
    public static func backward(dx: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                seed: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                lse: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                R: Int, C: Int, V: Int, chunk: Int? = nil) {
        let chunk = chunk ?? chunkRows(V: V)
        var r0 = 0
        while r0 < R {
            let rc = min(chunk, R - r0)
            BLAS.sgemm(.none, .transposed, m: rc, n: V, k: C, a: x + r0 * C, lda: C, b: weight, ldb: C,
                       beta: 0, c: scratch, ldc: V)
            let base = r0
            Parallel.forRanges(rc, costPerItem: V, minWork: 1 << 15) { rr in
                for i in rr {
                    let row = scratch + i * V
                    let l = lse[base + i], g = seed[base + i]
                    rpo_scaled_exp(Kernels.isa, row, row, l, -g, V)  // -g * exp(logit - lse)
                    row[Int(targets[base + i])] += g
                }
            }
            BLAS.sgemm(.none, .none, m: rc, n: C, k: V, a: scratch, lda: V, b: weight, ldb: C,
                       beta: 0, c: dx + r0 * C, ldc: C)
            BLAS.sgemm(.transposed, .none, m: V, n: C, k: rc, a: scratch, lda: V, b: x + r0 * C, ldb: C,
                       beta: 1, c: dweight, ldc: C)
            r0 += rc
        }
    }

    // MARK: - Naive twin (test oracle)

    /// The same contract as `forward` with the full logits materialised and Double arithmetic.
    public static func naiveForward(_ x: [Float], weight: [Float], targets: [Int], R: Int, C: Int, V: Int) -> [Double] {
        (0..<R).map { r in
            var logits = [Double](repeating: 0, count: V)
            for v in 0..<V {
                var d = 0.0
                for c in 0..<C { d += Double(x[r * C + c]) * Double(weight[v * C + c]) }
                logits[v] = d
            }
            let mx = logits.max()!
            let lse = mx + log(logits.reduce(0) { $0 + exp($1 - mx) })
            return logits[targets[r]] - lse
        }
    }
}
