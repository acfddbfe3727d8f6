// Bidirectional (encoder) self-attention over packed sequences, forward only. Sequences lie back to back
// in the token axis with no padding: sequence b owns rows starts[b] ..< starts[b] + lengths[b] and attends
// to exactly those rows, so no padding mask is needed and no work is spent on pads. (Layers/Attention.swift
// is the causal kernel of the LMs; this is its encoder counterpart.)
// Reference: transformers 5.24.0 models/bert/modeling_bert.py BertSelfAttention with eager_attention_forward
// (softmax(q kᵀ * scaling + padding mask) v). The naive twin takes the padded layout with that mask.
// Legend: N packed tokens, NH heads, hs head size, C = NH hs; qkv rows are [q (C) | k (C) | v (C)].
import Foundation

public enum BERTAttention {
    /// out (N, C) = softmax(scale q kᵀ) v per sequence and head, heads side by side as HF's context layer.
    /// `scores` holds at least max(lengths)² floats. Single-threaded (sgemm as OpenBLAS is configured).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ qkv: UnsafePointer<Float>,
                               starts: UnsafePointer<Int>, lengths: UnsafePointer<Int>, count B: Int,
                               NH: Int, hs: Int, scale: Float, scores: UnsafeMutablePointer<Float>) {
        let C = NH * hs, S = 3 * C
        for b in 0..<B {
            let s0 = starts[b], L = lengths[b]
            if L == 0 { continue }
            for h in 0..<NH {
                let Q = qkv + s0 * S + h * hs
                let K = Q + C, V = Q + 2 * C
                // P (L, L) = scale Q Kᵀ, then row softmax; O = P V into this head's columns.
                BLAS.sgemm(.none, .transposed, m: L, n: L, k: hs, alpha: scale, a: Q, lda: S, b: K, ldb: S,
                           beta: 0, c: scores, ldc: L)
                BERTKernels.softmaxRows(scores, rows: L, L: L, ld: L)
                BLAS.sgemm(.none, .none, m: L, n: hs, k: L, a: scores, lda: L, b: V, ldb: S,
                           beta: 0, c: out + s0 * C + h * hs, ldc: C)
            }
        }
    }

    // MARK: - Naive twin (test oracle)

    /// HF's padded form as direct loops in Double: qkv is (B, T, 3C) with T the padded length; key position
    /// j of sequence b takes part only where mask[b * T + j] is 1 (HF adds the dtype's minimum to the other
    /// scores). Every query row is computed, pads included, as HF does; out is (B, T, C).
    public static func naiveForwardPadded(_ out: UnsafeMutablePointer<Float>, _ qkv: UnsafePointer<Float>,
                                          mask: [Int], B: Int, T: Int, NH: Int, hs: Int, scale: Float) {
        let C = NH * hs, S = 3 * C
        for b in 0..<B {
            for h in 0..<NH {
                for i in 0..<T {
                    let q = qkv + (b * T + i) * S + h * hs
                    var sc = [Double](repeating: 0, count: T)
                    for j in 0..<T {
                        let k = qkv + (b * T + j) * S + C + h * hs
                        var d = 0.0
                        for c in 0..<hs { d += Double(q[c]) * Double(k[c]) }
                        sc[j] = d * Double(scale) + (mask[b * T + j] != 0 ? 0 : -Double(Float.greatestFiniteMagnitude))
                    }
                    let mx = sc.max()!
                    let e = sc.map { Foundation.exp($0 - mx) }
                    let sum = e.reduce(0, +)
                    for c in 0..<hs {
                        var acc = 0.0
                        for j in 0..<T { acc += e[j] / sum * Double(qkv[(b * T + j) * S + 2 * C + h * hs + c]) }
                        out[(b * T + i) * C + h * hs + c] = Float(acc)
                    }
                }
            }
        }
    }
}
