// Causal self-attention of decoding: each new row (a sequence's newest token) attends to the keys and values
// its sequence has in a KV cache (the row's own k, v included, already appended). Grouped-query heads share
// one cached k/v head. Per-row work only, so the result of a row does not depend on the rest of the batch.
// Reference: transformers 5.24.0 eager_attention_forward with a DynamicCache (softmax(q kᵀ * scaling) v in
// fp32 over all cached positions); llama2.c run.c forward (the attention loop over the cache).
// Legend: N rows, NH query heads, KVH key/value heads, hs head size, T cache capacity (positions per
// sequence). qkv rows are [q (NH hs) | k | v] (stride S); one layer's key cache is (slots, KVH, T, hs), its
// value cache likewise; out rows are (NH hs).
import Foundation

extension Attention {
    /// out[n] = softmax(scale q_n kᵀ) v over positions 0..<lengths[n] of slot slots[n] of the layer's caches
    /// `keys` and `values` (slots, KVH, T, hs). `scores` is scratch of at least N * NH * T floats.
    public static func cachedForward(_ out: UnsafeMutablePointer<Float>, _ qkv: UnsafePointer<Float>,
                                     keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                     slots: [Int], lengths: [Int], T: Int, scores: UnsafeMutablePointer<Float>,
                                     NH: Int, KVH: Int, hs: Int, scale: Float) {
        let N = slots.count
        let S = (NH + 2 * KVH) * hs, OC = NH * hs, rep = NH / KVH
        let work = lengths.reduce(0, +) * NH * hs * 2
        Parallel.forRanges(N * KVH, costPerItem: max(1, work / max(1, N * KVH)), minWork: 1 << 15) { r in
            for task in r {
                let n = task / KVH, g = task % KVH, L = lengths[n]
                let K = keys + (slots[n] * KVH + g) * T * hs, V = values + (slots[n] * KVH + g) * T * hs
                for h in (g * rep)..<((g + 1) * rep) {
                    let q = qkv + n * S + h * hs
                    let p = scores + (n * NH + h) * T
                    let o = out + n * OC + h * hs
                    // p[t] = scale * q · k_t, then the softmax of p (fp32, max-stabilised as the
                    // training path's Attention.forward does)
                    var mx = -Float.infinity
                    for t in 0..<L {
                        let s = scale * dot(q, K + t * hs, hs)
                        p[t] = s
                        mx = max(mx, s)
                    }
                    var sum: Float = 0
                    for t in 0..<L { let e = expf(p[t] - mx); p[t] = e; sum += e }
                    let inv = 1 / sum
                    for t in 0..<L { p[t] *= inv }
                    // o = Σ_t p[t] v_t
                    o.update(repeating: 0, count: hs)
                    for t in 0..<L {
                        let w = p[t], v = V + t * hs
                        var c = 0
                        while c + 4 <= hs {
                            let acc = load(o, c) + SIMD4<Float>(repeating: w) * load(v, c)
                            UnsafeMutableRawPointer(o + c).storeBytes(of: acc, as: SIMD4<Float>.self)
                            c += 4
                        }
                        while c < hs { o[c] += w * v[c]; c += 1 }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD4<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD4<Float>.self)
    }

    /// Σ a[i] b[i] over n elements: four lanes, then the tail, in a fixed order.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD4<Float>()
        var i = 0
        while i + 4 <= n { acc += load(a, i) * load(b, i); i += 4 }
        var t: Float = 0
        while i < n { t += a[i] * b[i]; i += 1 }
        return ((acc[0] + acc[2]) + (acc[1] + acc[3])) + t
    }

    /// The same contract as `cachedForward` as direct loops in Double: the test oracle.
    public static func naiveCachedForward(_ out: UnsafeMutablePointer<Float>, _ qkv: UnsafePointer<Float>,
                                          keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                          slots: [Int], lengths: [Int], T: Int,
                                          NH: Int, KVH: Int, hs: Int, scale: Float) {
        let S = (NH + 2 * KVH) * hs, OC = NH * hs, rep = NH / KVH
        for (n, slot) in slots.enumerated() {
            let L = lengths[n]
            for h in 0..<NH {
                let g = h / rep
                let K = keys + (slot * KVH + g) * T * hs, V = values + (slot * KVH + g) * T * hs
                let q = qkv + n * S + h * hs
                var s = [Double](repeating: 0, count: L)
                for t in 0..<L {
                    var d = 0.0
                    for c in 0..<hs { d += Double(q[c]) * Double(K[t * hs + c]) }
                    s[t] = d * Double(scale)
                }
                let mx = s.max() ?? 0
                let z = s.reduce(0) { $0 + exp($1 - mx) }
                for c in 0..<hs {
                    var acc = 0.0
                    for t in 0..<L { acc += exp(s[t] - mx) / z * Double(V[t * hs + c]) }
                    out[n * OC + h * hs + c] = Float(acc)
                }
            }
        }
    }
}
