// y = x Wᵀ + b for the few rows of a decoding step (one new token per sequence). The weights are cut into
// fixed blocks of rows (~128 KB, a function of C only); for each block, one OpenBLAS sgemv per row: the
// block comes from memory once and from cache for the other rows, so a step streams the weights once
// (what bounds decoding speed), and every (row, channel) value is computed by the same call on the same
// block whatever N is. The kernel is therefore batch-invariant: a sample does not depend on the other
// samples decoded with it (rpo-sample's determinism across --batch-size), nor on the thread count.
// (sgemm is not: OpenBLAS picks kernels by M, and rows of an M = 3 product differ from the same rows of an
// M = 8 one in the last bits; it also repacks the weights on every call.)
// Reference: llama.cpp ggml_vec_dot_f32 (one dot product per output row). Legend: N rows, C in, OC out.

extension Linear {
    /// Weight rows per block: about 128 KB of weights, a multiple of 16 rows.
    static func rowBlock(C: Int) -> Int { max(16, (128 << 10) / (max(C, 1) * 4) / 16 * 16) }

    /// out (N, OC) = inp (N, C) · weightᵀ (+ bias (OC)), weight (OC, C) row-major. Batch-invariant (see the
    /// file header); both cores split the blocks, OpenBLAS runs single-threaded inside.
    public static func forwardRows(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                   N: Int, C: Int, OC: Int) {
        if N == 0 || OC == 0 { return }
        let R = rowBlock(C: C), blocks = (OC + R - 1) / R
        let blasThreads = BLAS.threads
        if blasThreads != 1 { BLAS.setThreads(1) }
        defer { if blasThreads != 1 { BLAS.setThreads(blasThreads) } }
        Parallel.forRanges(blocks, costPerItem: R * C * max(N, 2), minWork: 1 << 16) { r in
            for b in r {
                let o0 = b * R, rows = min(R, OC - o0)
                for n in 0..<N {
                    let y = out + n * OC + o0
                    BLAS.sgemv(m: rows, k: C, a: weight + o0 * C, lda: C, x: inp + n * C, y: y)
                    if let bias { for i in 0..<rows { y[i] += bias[o0 + i] } }  // HF: x Wᵀ + b
                }
            }
        }
    }

    // MARK: - Naive twin (test oracle)

    /// The same contract as `forwardRows` as a direct loop accumulating in Double.
    public static func naiveForwardRows(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                        N: Int, C: Int, OC: Int) {
        for n in 0..<N {
            for o in 0..<OC {
                var acc = Double(bias?[o] ?? 0)
                for c in 0..<C { acc += Double(inp[n * C + c]) * Double(weight[o * C + c]) }
                out[n * OC + o] = Float(acc)
            }
        }
    }
}
