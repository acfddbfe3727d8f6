// Fully connected layer y = x Wᵀ + b on OpenBLAS sgemm, forward and backward.
// Weights use the torch.nn.Linear layout (OC, C); GPT-2's Conv1D (C, OC) weights are transposed at load.
// Reference: llm.c train_gpt2.c matmul_forward / matmul_backward. Legend: N rows, C in, OC out channels.

public enum Linear {
    /// out (N, OC) = inp (N, C) · weightᵀ (+ bias (OC)).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               N: Int, C: Int, OC: Int) {
        if let bias {
            Parallel.forRanges(N, costPerItem: OC, minWork: 1 << 16) { r in
                for n in r { (out + n * OC).update(from: bias, count: OC) }
            }
        }
        BLAS.sgemm(.none, .transposed, m: N, n: OC, k: C, a: inp, lda: C, b: weight, ldb: C,
                   beta: bias == nil ? 0 : 1, c: out, ldc: OC)
    }

    /// dinp (N, C) = dout · weight (added to dinp when `accumulate`, else overwritten; nil skips it);
    /// dweight (OC, C) += doutᵀ · inp; dbias (OC) += Σ_n dout.
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                N: Int, C: Int, OC: Int, accumulate: Bool = false) {
        if let dinp {
            BLAS.sgemm(.none, .none, m: N, n: C, k: OC, a: dout, lda: OC, b: weight, ldb: C,
                       beta: accumulate ? 1 : 0, c: dinp, ldc: C)
        }
        BLAS.sgemm(.transposed, .none, m: OC, n: C, k: N, a: dout, lda: OC, b: inp, ldb: C,
                   beta: 1, c: dweight, ldc: C)
        if let dbias {
            Parallel.forRanges(OC, costPerItem: N, minWork: 1 << 16) { cr in
                for n in 0..<N {
                    let d = dout + n * OC
                    for o in cr { dbias[o] += d[o] }
                }
            }
        }
    }
}
