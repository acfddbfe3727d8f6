// Causal self-attention over packed sequences with grouped-query heads, forward and backward.
// Sequences lie back to back in the token axis (no padding): sequence b owns rows starts[b] ..< starts[b] +
// lengths[b] and attends only inside itself, so there is no cross-contamination and no work on pads.
// Memory like flash attention: only the row log-sum-exp is cached; the backward recomputes the scores.
// Reference: transformers 5.24.0 eager_attention_forward (softmax(q kᵀ * scaling + causal mask) v, fp32),
// repeat_kv for GQA; llm.c attention_forward / attention_backward.
// Legend: N packed tokens, NH query heads, KVH key/value heads (NH % KVH == 0), hs head size, L one
// sequence's length. qkv rows are [q (NH*hs) | k (KVH*hs) | v (KVH*hs)], stride S = (NH + 2 KVH) hs;
// the output rows are (NH*hs), head-major like HF's attn_output.reshape(..., -1).
import Foundation

public enum Attention {
    /// Rows per causal block: scores are computed only for columns at or left of the block's last row.
    static let block = 64

    /// out (N, NH*hs) = softmax(scale * q kᵀ, causal within each sequence) v; lse (N, NH) caches the log-sum-exp
    /// of each softmax row.
    public static func forward(_ out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                               _ qkv: UnsafePointer<Float>, starts: [Int], lengths: [Int],
                               NH: Int, KVH: Int, hs: Int, scale: Float) {
        let S = (NH + 2 * KVH) * hs, OC = NH * hs, rep = NH / KVH
        forEachTask(starts: starts, lengths: lengths, KVH: KVH, scratchPerTask: 1) { b, g, scratch in
            let s0 = starts[b], L = lengths[b]
            let P = scratch[0]
            for h in (g * rep)..<((g + 1) * rep) {
                let Q = qkv + s0 * S + h * hs
                let K = qkv + s0 * S + (NH + g) * hs
                let V = qkv + s0 * S + (NH + KVH + g) * hs
                let O = out + s0 * OC + h * hs
                var i0 = 0
                while i0 < L {
                    let i1 = min(L, i0 + block)
                    // P[i0..<i1, 0..<i1] = scale * Q[i0..<i1] K[0..<i1]ᵀ
                    BLAS.sgemm(.none, .transposed, m: i1 - i0, n: i1, k: hs, alpha: scale, a: Q + i0 * S, lda: S,
                               b: K, ldb: S, beta: 0, c: P + i0 * L, ldc: L)
                    for i in i0..<i1 {
                        let row = P + i * L
                        var mx = -Float.infinity
                        for j in 0...i { mx = max(mx, row[j]) }
                        var sum: Float = 0
                        for j in 0...i { let e = expf(row[j] - mx); row[j] = e; sum += e }
                        let inv = 1 / sum
                        for j in 0...i { row[j] *= inv }
                        for j in (i + 1)..<i1 { row[j] = 0 }
                        lse[(s0 + i) * NH + h] = mx + logf(sum)
                    }
                    // O[i0..<i1] = P[i0..<i1, 0..<i1] V[0..<i1]
                    BLAS.sgemm(.none, .none, m: i1 - i0, n: hs, k: i1, a: P + i0 * L, lda: L, b: V, ldb: S,
                               beta: 0, c: O + i0 * OC, ldc: OC)
                    i0 = i1
                }
            }
        }
    }

    /// dqkv += gradient of the forward above given dout (N, NH*hs). dqkv must hold zeros or earlier
    /// contributions; the q part of head h and the k/v parts of group g are written by one task only.
    /// With P = exp(scale q kᵀ - lse) (masked): dP = dO vᵀ, dS = P ⊙ (dP - rowsum(P ⊙ dP)),
    /// dq += scale dS k, dk += scale dSᵀ q, dv += Pᵀ dO.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                _ qkv: UnsafePointer<Float>, lse: UnsafePointer<Float>,
                                starts: [Int], lengths: [Int], NH: Int, KVH: Int, hs: Int, scale: Float) {
        let S = (NH + 2 * KVH) * hs, OC = NH * hs, rep = NH / KVH
        forEachTask(starts: starts, lengths: lengths, KVH: KVH, scratchPerTask: 2) { b, g, scratch in
            let s0 = starts[b], L = lengths[b]
            let P = scratch[0], dP = scratch[1]
            for h in (g * rep)..<((g + 1) * rep) {
                let Q = qkv + s0 * S + h * hs
                let K = qkv + s0 * S + (NH + g) * hs
                let V = qkv + s0 * S + (NH + KVH + g) * hs
                let dO = dout + s0 * OC + h * hs
                let dQ = dqkv + s0 * S + h * hs
                let dK = dqkv + s0 * S + (NH + g) * hs
                let dV = dqkv + s0 * S + (NH + KVH + g) * hs
                var i0 = 0
                while i0 < L {
                    let i1 = min(L, i0 + block), m = i1 - i0
                    BLAS.sgemm(.none, .transposed, m: m, n: i1, k: hs, alpha: scale, a: Q + i0 * S, lda: S,
                               b: K, ldb: S, beta: 0, c: P + i0 * L, ldc: L)
                    BLAS.sgemm(.none, .transposed, m: m, n: i1, k: hs, a: dO + i0 * OC, lda: OC,
                               b: V, ldb: S, beta: 0, c: dP + i0 * L, ldc: L)
                    for i in i0..<i1 {
                        let p = P + i * L, dp = dP + i * L
                        let l = lse[(s0 + i) * NH + h]
                        var D: Float = 0
                        for j in 0...i { let e = expf(p[j] - l); p[j] = e; D += e * dp[j] }
                        for j in 0...i { dp[j] = p[j] * (dp[j] - D) * scale }
                        for j in (i + 1)..<i1 { p[j] = 0; dp[j] = 0 }
                    }
                    // dQ[i0..<i1] += dS[i0..<i1, 0..<i1] K[0..<i1]
                    BLAS.sgemm(.none, .none, m: m, n: hs, k: i1, a: dP + i0 * L, lda: L, b: K, ldb: S,
                               beta: 1, c: dQ + i0 * S, ldc: S)
                    i0 = i1
                }
                // By column blocks: dK[j0..<j1] += dS[j0..<L, j0..<j1]ᵀ Q[j0..<L], dV likewise with P and dO.
                var j0 = 0
                while j0 < L {
                    let j1 = min(L, j0 + block)
                    BLAS.sgemm(.transposed, .none, m: j1 - j0, n: hs, k: L - j0, a: dP + j0 * L + j0, lda: L,
                               b: Q + j0 * S, ldb: S, beta: 1, c: dK + j0 * S, ldc: S)
                    BLAS.sgemm(.transposed, .none, m: j1 - j0, n: hs, k: L - j0, a: P + j0 * L + j0, lda: L,
                               b: dO + j0 * OC, ldb: OC, beta: 1, c: dV + j0 * S, ldc: S)
                    j0 = j1
                }
            }
        }
    }

    /// Runs body(b, g, scratch) for every (sequence, kv group) pair, spread over the cores with OpenBLAS
    /// limited to one thread meanwhile; each worker owns `scratchPerTask` (Lmax x Lmax) buffers.
    static func forEachTask(starts: [Int], lengths: [Int], KVH: Int, scratchPerTask: Int,
                            _ body: @escaping (Int, Int, [UnsafeMutablePointer<Float>]) -> Void) {
        let tasks = lengths.count * KVH
        let lmax = lengths.max() ?? 0
        if tasks == 0 || lmax == 0 { return }
        let work = lengths.reduce(0) { $0 + $1 * $1 } * KVH
        let parallel = Parallel.threads > 1 && tasks > 1 && work >= 1 << 14
        let blasThreads = BLAS.threads
        if parallel { BLAS.setThreads(1) }
        defer { if parallel { BLAS.setThreads(blasThreads) } }
        let run: (Range<Int>) -> Void = { r in
            let bufs = (0..<scratchPerTask).map { _ in
                UnsafeMutablePointer<Float>.allocate(capacity: lmax * lmax)
            }
            defer { bufs.forEach { $0.deallocate() } }
            for t in r { body(t / KVH, t % KVH, bufs) }
        }
        if parallel {
            Parallel.forRanges(tasks, minWork: 0, run)
        } else {
            run(0..<tasks)
        }
    }

    // MARK: - Naive twin (test oracle)

    /// The same contract as `forward`, as direct loops in Double.
    public static func naiveForward(_ out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                                    _ qkv: UnsafePointer<Float>, starts: [Int], lengths: [Int],
                                    NH: Int, KVH: Int, hs: Int, scale: Float) {
        let S = (NH + 2 * KVH) * hs, OC = NH * hs, rep = NH / KVH
        for (s0, L) in zip(starts, lengths) {
            for h in 0..<NH {
                let g = h / rep
                for i in 0..<L {
                    let q = qkv + (s0 + i) * S + h * hs
                    var sc = [Double](repeating: 0, count: i + 1)
                    for j in 0...i {
                        let k = qkv + (s0 + j) * S + (NH + g) * hs
                        var d = 0.0
                        for c in 0..<hs { d += Double(q[c]) * Double(k[c]) }
                        sc[j] = d * Double(scale)
                    }
                    let mx = sc.max()!
                    let sum = sc.reduce(0) { $0 + exp($1 - mx) }
                    lse[(s0 + i) * NH + h] = Float(mx + log(sum))
                    for c in 0..<hs {
                        var acc = 0.0
                        for j in 0...i { acc += exp(sc[j] - mx) / sum * Double(qkv[(s0 + j) * S + (NH + KVH + g) * hs + c]) }
                        out[(s0 + i) * OC + h * hs + c] = Float(acc)
                    }
                }
            }
        }
    }

    /// The same contract as `backward`, as direct loops in Double (recomputing the softmax from q and k).
    public static func naiveBackward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                     _ qkv: UnsafePointer<Float>, starts: [Int], lengths: [Int],
                                     NH: Int, KVH: Int, hs: Int, scale: Float) {
        let S = (NH + 2 * KVH) * hs, OC = NH * hs, rep = NH / KVH
        for (s0, L) in zip(starts, lengths) {
            for h in 0..<NH {
                let g = h / rep
                for i in 0..<L {
                    let row = s0 + i
                    let q = qkv + row * S + h * hs
                    var p = [Double](repeating: 0, count: i + 1)
                    for j in 0...i {
                        var d = 0.0
                        for c in 0..<hs { d += Double(q[c]) * Double(qkv[(s0 + j) * S + (NH + g) * hs + c]) }
                        p[j] = d * Double(scale)
                    }
                    let mx = p.max()!
                    let sum = p.reduce(0) { $0 + exp($1 - mx) }
                    for j in 0...i { p[j] = exp(p[j] - mx) / sum }
                    var dp = [Double](repeating: 0, count: i + 1)
                    for j in 0...i {
                        var d = 0.0
                        for c in 0..<hs { d += Double(dout[row * OC + h * hs + c]) * Double(qkv[(s0 + j) * S + (NH + KVH + g) * hs + c]) }
                        dp[j] = d
                    }
                    let D = zip(p, dp).reduce(0) { $0 + $1.0 * $1.1 }
                    for j in 0...i {
                        let ds = p[j] * (dp[j] - D) * Double(scale)
                        for c in 0..<hs {
                            dqkv[row * S + h * hs + c] += Float(ds * Double(qkv[(s0 + j) * S + (NH + g) * hs + c]))
                            dqkv[(s0 + j) * S + (NH + g) * hs + c] += Float(ds * Double(q[c]))
                            dqkv[(s0 + j) * S + (NH + KVH + g) * hs + c] += Float(p[j] * Double(dout[row * OC + h * hs + c]))
                        }
                    }
                }
            }
        }
    }
}
