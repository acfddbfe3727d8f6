// Matrix multiplication: OpenBLAS sgemm (the hot path of every model) and its naive twin, the test oracle.
// Row-major throughout: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
// OpenBLAS runs single-threaded; a product is cut into column (or row) panels, one per thread of
// Parallel's worker team, so the process has one pool of threads. Alone, both ways scale ~1.9x on 2 cores
// at the models' shapes (rpo-bench sgemm); inside a model step OpenBLAS's idle threads spin against the
// team's elementwise kernels, and the panels measured 5-10% faster steps (SmolLM2 4x256, runs alternated).
// Each element of C is one OpenBLAS dot product over all of K whichever panel holds it.
import COpenBLAS

public enum Transpose: Sendable {
    case none, transposed
    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

public enum BLAS {
    /// Threads one sgemm call may use (panels on Parallel's team; at most its size). Defaults to
    /// Parallel.threads.
    public static func setThreads(_ n: Int) { _ = openBLASSingleThreaded; threadSetting = max(1, n) }
    public static var threads: Int { threadSetting }
    nonisolated(unsafe) static var threadSetting = Parallel.threads
    /// OpenBLAS's own threads are switched off once, before the first product.
    static let openBLASSingleThreaded: Void = openblas_set_num_threads(1)
    /// Products of fewer multiply-adds run in one piece (a panel must amortise the team's hand-off).
    static let minPanelWork = 1 << 18

    /// C = alpha * op(A) * op(B) + beta * C, row-major. `lda`, `ldb`, `ldc` are row strides in elements:
    /// op(A) is M x K (A is M x K, or K x M when transposed), op(B) is K x N.
    @inline(__always)
    public static func sgemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {  // BLAS leaves C scaled by beta; make that explicit for beta = 0 (C may hold NaN garbage).
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        _ = openBLASSingleThreaded
        let parts = min(threadSetting, Parallel.teamSize)
        if parts <= 1 || m &* n &* k < minPanelWork || max(m, n) < 2 * panelAlign {
            openBLAS(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        // Panels of C along its longer side, cut at multiples of panelAlign (whole register tiles).
        let (A, B, C) = (UncheckedSendable(a), UncheckedSendable(b), UncheckedSendable(c))
        let splitColumns = n >= m
        let units = ((splitColumns ? n : m) + panelAlign - 1) / panelAlign
        Parallel.forRanges(units, parts: parts) { r in
            let lo = r.lowerBound * panelAlign, hi = min(r.upperBound * panelAlign, splitColumns ? n : m)
            if splitColumns {  // C[:, lo..<hi] = op(A) op(B)[:, lo..<hi]
                let bp = transB == .none ? B.value + lo : B.value + lo * ldb
                openBLAS(transA, transB, m: m, n: hi - lo, k: k, alpha: alpha, a: A.value, lda: lda, b: bp, ldb: ldb,
                         beta: beta, c: C.value + lo, ldc: ldc)
            } else {           // C[lo..<hi, :] = op(A)[lo..<hi, :] op(B)
                let ap = transA == .none ? A.value + lo * lda : A.value + lo
                openBLAS(transA, transB, m: hi - lo, n: n, k: k, alpha: alpha, a: ap, lda: lda, b: B.value, ldb: ldb,
                         beta: beta, c: C.value + lo * ldc, ldc: ldc)
            }
        }
    }

    /// Panel widths are multiples of this (OpenBLAS's register tiles are 16 or 32 wide here).
    static let panelAlign = 64

    @inline(__always)
    static func openBLAS(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// sgemm with OpenBLAS's own threading (`threads` of its threads, one call): the comparison point
    /// for benchmarks. Restores single-threaded OpenBLAS afterwards.
    public static func openBLASThreadedSgemm(threads: Int, _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = openBLASSingleThreaded
        openblas_set_num_threads(Int32(threads))
        openBLAS(transA, transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
        openblas_set_num_threads(1)
    }

    /// The naive triple loop with the same contract as `sgemm`, accumulating in Double: the oracle.
    public static func naiveSgemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                  b: UnsafePointer<Float>, ldb: Int,
                                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for p in 0..<k {
                    let av = transA == .none ? a[i * lda + p] : a[p * lda + i]
                    let bv = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                    acc += Double(av) * Double(bv)
                }
                let prior = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * acc + prior)
            }
        }
    }
}
