// The decoding kernels against their naive twins (Double loops) on odd shapes, and their batch invariance:
// a row computed alone, or at another place in a batch, gives bit-identical results.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct DecodeKernelTests {
    static func random(_ n: Int, _ rng: inout RNG, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
    }

    // Every instruction set of the kernel this machine runs (AVX-512, AVX2+FMA, portable C): each is a
    // separate code path with its own tail handling (C not a multiple of the vector width, OC not of 4).
    @Test(arguments: [(1, 1, 1), (1, 7, 5), (2, 4, 4), (3, 64, 37), (5, 33, 9), (8, 576, 12), (4, 3, 130), (9, 17, 21)])
    func forwardRowsMatchesNaive(_ shape: (Int, Int, Int)) {
        let (N, C, OC) = shape
        var rng = RNG(seed: UInt64(N * 1000 + C * 10 + OC))
        let x = Self.random(N * C, &rng), w = Self.random(OC * C, &rng), b = Self.random(OC, &rng)
        for isa in Kernels.isas {
            for bias in [false, true] {
                var got = [Float](repeating: .nan, count: N * OC), want = got
                x.withUnsafeBufferPointer { xp in
                    w.withUnsafeBufferPointer { wp in
                        b.withUnsafeBufferPointer { bp in
                            Linear.forwardRows(&got, xp.baseAddress!, weight: wp.baseAddress!, bias: bias ? bp.baseAddress! : nil,
                                               N: N, C: C, OC: OC, isa: isa)
                            Linear.naiveForwardRows(&want, xp.baseAddress!, weight: wp.baseAddress!,
                                                    bias: bias ? bp.baseAddress! : nil, N: N, C: C, OC: OC)
                        }
                    }
                }
                // fp32 sums of C products of values in [-1, 1]: rounding error grows like sqrt(C) * 6e-8 * |terms|
                expectClose(got, want, atol: 2e-6 * Float(C).squareRoot(), rtol: 1e-5,
                            "forwardRows \(shape) bias \(bias) \(Kernels.isaName(isa))")
            }
        }
    }

    @Test func forwardRowsIsBatchInvariant() {
        let N = 7, C = 103, OC = 45
        var rng = RNG(seed: 3)
        let x = Self.random(N * C, &rng), w = Self.random(OC * C, &rng), b = Self.random(OC, &rng)
        for isa in Kernels.isas {
            let name = Kernels.isaName(isa)
            var all = [Float](repeating: 0, count: N * OC)
            Linear.forwardRows(&all, x, weight: w, bias: b, N: N, C: C, OC: OC, isa: isa)
            // each row alone, and the rows in reverse order: exactly the same values (no tolerance)
            for n in 0..<N {
                var one = [Float](repeating: 0, count: OC)
                Array(x[(n * C)..<((n + 1) * C)]).withUnsafeBufferPointer { xp in
                    Linear.forwardRows(&one, xp.baseAddress!, weight: w, bias: b, N: 1, C: C, OC: OC, isa: isa)
                }
                #expect(one == Array(all[(n * OC)..<((n + 1) * OC)]), "row \(n) alone \(name)")
            }
            let reversed = (0..<N).reversed().flatMap { x[($0 * C)..<(($0 + 1) * C)] }
            var rev = [Float](repeating: 0, count: N * OC)
            Linear.forwardRows(&rev, reversed, weight: w, bias: b, N: N, C: C, OC: OC, isa: isa)
            for n in 0..<N {
                #expect(Array(rev[((N - 1 - n) * OC)..<((N - n) * OC)]) == Array(all[(n * OC)..<((n + 1) * OC)]),
                        "row \(n) reversed \(name)")
            }
            // one thread: the same values (threads only split the weight rows)
            var single = [Float](repeating: 0, count: N * OC)
            for o in stride(from: 0, to: OC, by: 8) {  // any split at multiples of 4 rows, as the threads cut it
                let rows = min(8, OC - o)
                var part = [Float](repeating: 0, count: N * rows)
                let wpart = Array(w[(o * C)..<((o + rows) * C)]), bpart = Array(b[o..<(o + rows)])
                Linear.forwardRows(&part, x, weight: wpart, bias: bpart, N: N, C: C, OC: rows, isa: isa)
                for n in 0..<N { for r in 0..<rows { single[n * OC + o + r] = part[n * rows + r] } }
            }
            #expect(single == all, "split weight rows \(name)")
        }
    }

    /// A random cache for 3 slots (T = 11), GQA with 6 query heads on 2 kv heads, hs = 12.
    static func attentionCase() -> (qkv: [Float], keys: [Float], values: [Float], slots: [Int], lengths: [Int]) {
        var rng = RNG(seed: 9)
        let NH = 6, KVH = 2, hs = 12, T = 11
        let slots = [2, 0, 1, 0]  // slot 0 read by two rows (the kernel only reads the cache)
        let lengths = [11, 1, 6, 4]
        let qkv = random(slots.count * (NH + 2 * KVH) * hs, &rng)
        let keys = random(3 * KVH * T * hs, &rng), values = random(3 * KVH * T * hs, &rng)
        return (qkv, keys, values, slots, lengths)
    }

    @Test func cachedAttentionMatchesNaive() {
        let (qkv, keys, values, slots, lengths) = Self.attentionCase()
        let NH = 6, KVH = 2, hs = 12, T = 11, N = slots.count
        let scale = 1 / Float(hs).squareRoot()
        var got = [Float](repeating: .nan, count: N * NH * hs), want = got
        var scores = [Float](repeating: 0, count: N * NH * T)
        Attention.cachedForward(&got, qkv, keys: keys, values: values, slots: slots, lengths: lengths, T: T,
                                scores: &scores, NH: NH, KVH: KVH, hs: hs, scale: scale)
        Attention.naiveCachedForward(&want, qkv, keys: keys, values: values, slots: slots, lengths: lengths, T: T,
                                     NH: NH, KVH: KVH, hs: hs, scale: scale)
        // softmax-weighted averages of values in [-1, 1]: fp32 rounding only
        expectClose(got, want, atol: 2e-6, rtol: 1e-5, "cachedForward")
        // a one-position cache returns that position's value exactly (softmax of one score is 1)
        let v0 = Array(values[((0 * KVH + 0) * T) * hs..<((0 * KVH + 0) * T + 1) * hs])
        #expect(Array(got[(1 * NH + 0) * hs..<(1 * NH + 1) * hs]) == v0)
    }

    @Test func cachedAttentionIsBatchInvariant() {
        let (qkv, keys, values, slots, lengths) = Self.attentionCase()
        let NH = 6, KVH = 2, hs = 12, T = 11, N = slots.count, S = (NH + 2 * KVH) * hs
        var all = [Float](repeating: 0, count: N * NH * hs)
        var scores = [Float](repeating: 0, count: N * NH * T)
        Attention.cachedForward(&all, qkv, keys: keys, values: values, slots: slots, lengths: lengths, T: T,
                                scores: &scores, NH: NH, KVH: KVH, hs: hs, scale: 0.3)
        for n in 0..<N {
            var one = [Float](repeating: 0, count: NH * hs)
            Attention.cachedForward(&one, Array(qkv[(n * S)..<((n + 1) * S)]), keys: keys, values: values,
                                    slots: [slots[n]], lengths: [lengths[n]], T: T, scores: &scores,
                                    NH: NH, KVH: KVH, hs: hs, scale: 0.3)
            #expect(one == Array(all[(n * NH * hs)..<((n + 1) * NH * hs)]), "row \(n) alone")
        }
    }
}
