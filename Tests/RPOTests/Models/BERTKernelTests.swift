// The BERT encoder's optimised kernels against their naive twins: polynomial exp/erf against libm in Double,
// the activations against Layers/GELU, fused residual + LayerNorm against Kernels.addInPlace +
// Layers/LayerNorm, the softmax against Kernels.softmaxRows, and packed attention against HF's padded
// attention with a padding mask (BERTAttention.naiveForwardPadded).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct BERTKernelTests {
    @Test func expAndErfPolynomials() {
        var maxRel = 0.0, maxErf = 0.0
        var x: Float = -87
        while x < 88 {
            let e = Foundation.exp(Double(x))
            maxRel = max(maxRel, abs(Double(BERTKernels.exp(x)) - e) / e)
            x += 0.000731
        }
        x = -7
        while x < 7 { maxErf = max(maxErf, abs(Double(BERTKernels.erf(x)) - Foundation.erf(Double(x)))); x += 0.0001 }
        // Cephes' polynomial is good to ~1 ulp (6e-8); 2 ulp allows for the rounding of the range reduction.
        #expect(maxRel <= 1.2e-7, "exp: max relative error \(maxRel)")
        // The rational approximation is within 6.5e-8 of erf; evaluated in Float it is within 4.2e-7
        // (measured on this grid); 5e-7 is 4 ulp of 1, below torch's own GELU error (1.2e-6 on [-6, 6]).
        #expect(maxErf <= 5e-7, "erf: max absolute error \(maxErf)")
        #expect(BERTKernels.exp(-100) < 1e-37 && BERTKernels.exp(0) == 1 && BERTKernels.erf(0) == 0)
        #expect(BERTKernels.erf(10) == 1 && BERTKernels.erf(-10) == -1)
    }

    @Test(arguments: [(BERTActivation.geluErf, GELUKind.erf), (.geluTanh, .tanh)])
    func activationsMatchLayersGELU(_ act: BERTActivation, _ kind: GELUKind) {
        var rng = RNG(seed: 5)
        let N = 7, C = 1_537, n = N * C
        let x = randomArray(n, &rng, scale: 8), bias = randomArray(C, &rng)
        var fast = x, naive = [Float](repeating: 0, count: n)
        BERTKernels.activate(&fast, bias: bias, N: N, C: C, act)
        var biased = x
        for i in 0..<n { biased[i] += bias[i % C] }
        GELU.forward(&naive, biased, count: n, kind: kind)
        // erf: the polynomial's 4.2e-7 times x/2 (|x| <= 8) plus rounding; tanh: 1 - 2/(e^2u + 1) loses
        // ~1e-7 absolute near u = 0 by cancellation, times x/2. 2e-6 absolute bounds both.
        expectClose(fast, naive, atol: 2e-6, rtol: 1e-6, "\(act)")
        var r = x
        BERTKernels.activate(&r, bias: nil, N: N, C: C, .relu)
        #expect(r == x.map { max($0, 0) })
    }

    @Test func addLayerNormMatchesLayersLayerNorm() {
        var rng = RNG(seed: 7)
        for C in [384, 37, 8] {
            let N = 19
            let x = randomArray(N * C, &rng, scale: 3).enumerated().map { $0.element + Float($0.offset % 5) }
            let r = randomArray(N * C, &rng), w = randomArray(C, &rng), b = randomArray(C, &rng)
            let row0 = randomArray(C, &rng)
            // Residual rows with the bias of the sgemm that made them.
            var fast = x
            BERTKernels.addLayerNorm(&fast, adding: r, addStride: C, addBias: row0, weight: w, bias: b, N: N, C: C, eps: 1e-12)
            var sum = x, naive = x, mean = [Float](repeating: 0, count: N), rstd = mean
            var rb = r
            for i in 0..<(N * C) { rb[i] += row0[i % C] }
            Kernels.addInPlace(&sum, rb, count: N * C)
            LayerNorm.forward(&naive, mean: &mean, rstd: &rstd, sum, weight: w, bias: b, N: N, C: C, eps: 1e-12)
            // Both normalise in Float; summation orders differ (8 partial sums vs sequential): ~1e-7 relative
            // on outputs of size |w| * O(1).
            expectClose(fast, naive, atol: 2e-6, rtol: 1e-6, "residual rows, C = \(C)")
            // One broadcast row (the token-type embedding), and nothing added.
            var fast2 = x, sum2 = x, naive2 = x
            BERTKernels.addLayerNorm(&fast2, adding: row0, addStride: 0, weight: w, bias: b, N: N, C: C, eps: 1e-5)
            for n in 0..<N { for c in 0..<C { sum2[n * C + c] += row0[c] } }
            LayerNorm.forward(&naive2, mean: &mean, rstd: &rstd, sum2, weight: w, bias: b, N: N, C: C, eps: 1e-5)
            expectClose(fast2, naive2, atol: 2e-6, rtol: 1e-6, "broadcast row, C = \(C)")
            var fast3 = x, naive3 = x
            BERTKernels.addLayerNorm(&fast3, adding: nil, addStride: 0, weight: w, bias: b, N: N, C: C, eps: 1e-5)
            LayerNorm.forward(&naive3, mean: &mean, rstd: &rstd, x, weight: w, bias: b, N: N, C: C, eps: 1e-5)
            expectClose(fast3, naive3, atol: 2e-6, rtol: 1e-6, "nothing added, C = \(C)")
        }
    }

    @Test func softmaxRowsMatchesKernels() {
        var rng = RNG(seed: 9)
        for L in [1, 7, 64, 255] {
            let rows = 5, ld = L + 3
            let x = randomArray(rows * ld, &rng, scale: 20)
            var fast = x
            BERTKernels.softmaxRows(&fast, rows: rows, L: L, ld: ld)
            for i in 0..<rows {
                var naive = [Float](repeating: 0, count: L)
                Kernels.softmaxRows(&naive, Array(x[(i * ld)..<(i * ld + L)]), rows: 1, cols: L)
                // Probabilities: exp within 2 ulp and a different summation order.
                expectClose(Array(fast[(i * ld)..<(i * ld + L)]), naive, atol: 1e-7, rtol: 1e-6, "softmax L = \(L) row \(i)")
                #expect(Array(fast[(i * ld + L)..<((i + 1) * ld)]) == Array(x[(i * ld + L)..<((i + 1) * ld)]),
                        "columns past L are untouched")
            }
        }
    }

    /// Packed sequences, no mask, against HF's padded batch with a padding mask, pads included as keys of
    /// nothing: the valid rows must agree; the padded rows are not compared (HF computes and discards them).
    @Test func packedAttentionMatchesPaddedWithMask() {
        var rng = RNG(seed: 11)
        let NH = 3, hs = 8, C = NH * hs
        let lengths = [5, 1, 12, 7]
        let T = lengths.max()!, B = lengths.count
        let padded = randomArray(B * T * 3 * C, &rng, scale: 2)
        var mask = [Int](repeating: 0, count: B * T)
        var packed: [Float] = [], starts: [Int] = []
        for (b, L) in lengths.enumerated() {
            starts.append(packed.count / (3 * C))
            for t in 0..<L { mask[b * T + t] = 1 }
            packed += padded[(b * T * 3 * C)..<((b * T + L) * 3 * C)]
        }
        let N = lengths.reduce(0, +)
        var out = [Float](repeating: .nan, count: N * C), ref = [Float](repeating: 0, count: B * T * C)
        var scores = [Float](repeating: 0, count: T * T)
        let scale = 1 / Float(hs).squareRoot()
        BERTAttention.forward(&out, packed, starts: starts, lengths: lengths, count: B, NH: NH, hs: hs, scale: scale,
                              scores: &scores)
        BERTAttention.naiveForwardPadded(&ref, padded, mask: mask, B: B, T: T, NH: NH, hs: hs, scale: scale)
        var want: [Float] = []
        for (b, L) in lengths.enumerated() { want += ref[(b * T * C)..<((b * T + L) * C)] }
        // Outputs are convex combinations of values in [-2, 2]: fp32 sgemm and softmax vs Double.
        expectClose(out, want, atol: 2e-6, "packed vs padded attention")
    }
}
