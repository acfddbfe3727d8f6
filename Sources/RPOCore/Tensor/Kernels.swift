// Elementwise and row kernels on raw fp32 buffers. Memory-bound: split over the worker team (Parallel) when large.
// Legend: N rows, C columns (channels). Every kernel has an obvious naive form; the row kernels use
// Double accumulation only where the sum's precision matters (log-sum-exp), otherwise Float.
import CKernels
import Foundation

public enum Kernels {
    /// out[i] = a[i] + b[i]
    public static func add(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                           _ b: UnsafePointer<Float>, count: Int) {
        Parallel.forRanges(count, minWork: 1 << 17) { r in
            for i in r { out[i] = a[i] + b[i] }
        }
    }

    /// out[i] += a[i]
    public static func addInPlace(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, count: Int) {
        Parallel.forRanges(count, minWork: 1 << 17) { r in
            for i in r { out[i] += a[i] }
        }
    }

    /// out[i] = alpha * a[i]  (out may alias a)
    public static func scale(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                             _ alpha: Float, count: Int) {
        Parallel.forRanges(count, minWork: 1 << 17) { r in
            for i in r { out[i] = alpha * a[i] }
        }
    }

    /// Row-wise softmax of an N x C matrix (out may alias x), numerically stabilised by the row max.
    public static func softmaxRows(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                   rows n: Int, cols c: Int) {
        Parallel.forRanges(n, costPerItem: c, minWork: 1 << 15) { r in
            for i in r {
                let xi = x + i * c, oi = out + i * c
                var mx = -Float.infinity
                for j in 0..<c { mx = max(mx, xi[j]) }
                var sum: Float = 0
                for j in 0..<c { let e = expf(xi[j] - mx); oi[j] = e; sum += e }
                let inv = 1 / sum
                for j in 0..<c { oi[j] *= inv }
            }
        }
    }

    /// Row-wise log-softmax of an N x C matrix (out may alias x).
    public static func logSoftmaxRows(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                      rows n: Int, cols c: Int) {
        Parallel.forRanges(n, costPerItem: c, minWork: 1 << 15) { r in
            for i in r {
                let xi = x + i * c, oi = out + i * c
                let lse = logSumExp(xi, count: c)
                for j in 0..<c { oi[j] = xi[j] - lse }
            }
        }
    }

    /// log(sum(exp(x))) of one row, stabilised by its max; the exps (CKernels' vectorised exp) are summed
    /// in Double.
    @inline(__always)
    public static func logSumExp(_ x: UnsafePointer<Float>, count c: Int) -> Float {
        var mx = -Float.infinity
        for j in 0..<c { mx = max(mx, x[j]) }
        if mx == -.infinity { return -.infinity }
        return mx + Float(log(rpo_sum_exp(isa, x, mx, c)))
    }

    /// The instruction set CKernels' kernels run with: the best this CPU has.
    package static let isa: Int32 = rpo_cpu_isa()
    /// Every instruction set this CPU can run, best first (tests check each code path).
    static let isas: [Int32] = (1...rpo_cpu_isa()).reversed().map { Int32($0) }
    /// Names of CKernels' instruction-set codes.
    static func isaName(_ isa: Int32) -> String {
        [RPO_ISA_AVX512: "avx512f", RPO_ISA_AVX2: "avx2+fma"][Int(isa)] ?? "portable"
    }
}
