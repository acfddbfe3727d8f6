// y = x Wᵀ + b for the few rows of a decoding step (one new token per sequence), on CKernels'
// rpo_rows_matvec: tiles of 4 weight rows x up to 4 tokens, so a step streams the weights from memory once
// (what bounds decoding speed) whatever the batch, and every (row, channel) value is one dot product
// computed by the same instruction sequence whatever N is and wherever the row sits in the batch. The kernel
// is therefore batch-invariant: a sample does not depend on the other samples decoded with it (rpo-sample's
// determinism across --batch-size), nor on the thread count (threads split the weight rows).
// (sgemm is not: OpenBLAS picks kernels by M, and rows of an M = 3 product differ from the same rows of an
// M = 8 one in the last bits; it also repacks the weights on every call.)
// Reference: llama.cpp ggml_vec_dot_f32 (one dot product per output row). Legend: N rows, C in, OC out.
import CKernels

extension Linear {
    /// out (N, OC) = inp (N, C) · weightᵀ (+ bias (OC)), weight (OC, C) row-major. Batch-invariant (see the
    /// file header); the worker team's threads (Parallel) split the weight rows in groups of 4.
    public static func forwardRows(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                   N: Int, C: Int, OC: Int) {
        forwardRows(out, inp, weight: weight, bias: bias, N: N, C: C, OC: OC, isa: Kernels.isa)
    }

    /// `forwardRows` with a given instruction set (tests run every one the machine supports).
    static func forwardRows(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                            N: Int, C: Int, OC: Int, isa: Int32) {
        if N == 0 || OC == 0 { return }
        let quads = (OC + 3) / 4
        Parallel.forRanges(quads, costPerItem: 4 * C * max(N, 2), minWork: 1 << 16) { r in
            rpo_rows_matvec(isa, out, OC, inp, N, C, weight, bias, 4 * r.lowerBound, min(4 * r.upperBound, OC))
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
