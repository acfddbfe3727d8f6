// The memory-bound kernels of the BERT encoder forward, written so that LLVM vectorizes them (no libm
// calls, no traps inside the loops): exp and erf as polynomials, residual add fused into LayerNorm, the
// attention softmax. Single-threaded: the encoder runs one chunk of sequences per core.
// Each has a naive twin elsewhere that the tests hold it to: GELU.forward (erff/tanhf),
// Kernels.addInPlace + LayerNorm.forward, Kernels.softmaxRows. Legend: N rows, C channels, L row length.
// References: Cephes expf (polynomial and range reduction); Eigen generic_fast_erf_float (the rational
// erf approximation XLA and TensorFlow use); torch.nn.LayerNorm (biased variance).
import Foundation

public enum BERTKernels {
    // MARK: - exp, erf

    /// e^x to about 1.3 ulp for x in [-87.3, 88.4] (clamped outside): e^x = 2^n e^r with
    /// n = round(x / ln 2), r = x - n ln 2 split in two constants, e^r by Cephes' degree-6 polynomial.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let xc = min(max(x, -87.33654), 88.37626)
        // Round to nearest by adding 1.5 * 2^23: the low mantissa bits of t then hold n.
        let t = xc * 1.44269504088896341 + 12582912.0
        let n = t - 12582912.0
        var r = xc - n * 0.693359375
        r -= n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        // 2^n from the exponent field: t's bit pattern is 0x4B400000 + n.
        let scale = Float(bitPattern: (t.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        return p * scale
    }

    /// erf(x) as a rational function of x, clamped to [-4, 4] (erf is ±1 in Float beyond): absolute
    /// error below 5e-7 when evaluated in Float, 6.5e-8 in exact arithmetic.
    @inline(__always)
    static func erf(_ a: Float) -> Float {
        let x = min(max(a, -4), 4)
        let x2 = x * x
        var p: Float = -2.72614225801306e-10
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 + -2.10102402082508e-06
        p = p * x2 + -5.69250639462346e-05
        p = p * x2 + -7.34990630326855e-04
        p = p * x2 + -2.95459980854025e-03
        p = p * x2 + -1.60960333262415e-02
        var q: Float = -1.45660718464996e-05
        q = q * x2 + -2.13374055278905e-04
        q = q * x2 + -1.68282697438203e-03
        q = q * x2 + -7.37332916720468e-03
        q = q * x2 + -1.42647390514189e-02
        return x * p / q
    }

    // MARK: - Activations

    /// x = act(x + bias) for each of N rows of C values, in place (bias (C) may be nil): the bias of the
    /// preceding sgemm is added here rather than written into its output beforehand (the same single
    /// rounding of acc + b, one pass less over the (N, C) matrix).
    public static func activate(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, N: Int, C: Int,
                                _ act: BERTActivation) {
        for n in 0..<N {
            let row = x + n * C
            if let bias { for c in 0..<C { row[c] += bias[c] } }
            switch act {
            case .geluErf:
                for c in 0..<C {
                    let v = row[c]
                    row[c] = 0.5 * v * (1 + erf(v * 0.7071067811865476))
                }
            case .geluTanh:
                // tanh(u) = 1 - 2 / (e^{2u} + 1), exact at both saturations.
                for c in 0..<C {
                    let v = row[c]
                    let u = 0.7978845608028654 * (v + 0.044715 * v * v * v)
                    let th = 1 - 2 / (exp(2 * u) + 1)
                    row[c] = 0.5 * v * (1 + th)
                }
            case .relu:
                for c in 0..<C { row[c] = max(row[c], 0) }
            }
        }
    }

    // MARK: - LayerNorm

    /// x[n] = LayerNorm(x[n] + (add[n] + addBias)) * weight + bias for each of N rows of C, in place. `add`
    /// rows are `addStride` apart (0 adds the same row to every row, e.g. the token-type embedding); nil
    /// adds nothing. `addBias` (C) is the bias of the sgemm that produced `add` (HF: LayerNorm(dense(h) + x)
    /// with dense(h) = h Wᵀ + b rounded first, as here).
    public static func addLayerNorm(_ x: UnsafeMutablePointer<Float>, adding add: UnsafePointer<Float>?, addStride: Int,
                                    addBias: UnsafePointer<Float>? = nil,
                                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                    N: Int, C: Int, eps: Float) {
        let invC = 1 / Float(C)
        for n in 0..<N {
            let row = x + n * C
            if let add {
                let a = add + n * addStride
                if let b = addBias {
                    for c in 0..<C { row[c] += a[c] + b[c] }
                } else {
                    for c in 0..<C { row[c] += a[c] }
                }
            }
            let mean = sum(row, C) * invC
            var v8 = SIMD8<Float>(repeating: 0)
            var c = 0
            let m8 = SIMD8<Float>(repeating: mean)
            while c + 8 <= C {
                let d = load8(row + c) - m8
                v8 += d * d
                c += 8
            }
            var variance = v8.sum()
            while c < C { let d = row[c] - mean; variance += d * d; c += 1 }
            variance *= invC
            let s = 1 / (variance + eps).squareRoot()
            for c in 0..<C { row[c] = (row[c] - mean) * s * weight[c] + bias[c] }
        }
    }

    // MARK: - Softmax

    /// Softmax of each of `rows` rows of length L (row stride `ld`), in place, stabilised by the row max.
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, L: Int, ld: Int) {
        for i in 0..<rows {
            let row = p + i * ld
            let mx = maximum(row, L)
            for j in 0..<L { row[j] = exp(row[j] - mx) }
            let inv = 1 / sum(row, L)
            for j in 0..<L { row[j] *= inv }
        }
    }

    // MARK: - Reductions (eight partial sums, so that they vectorize)

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { load8(UnsafePointer(p)) }

    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n { acc += load8(p + i); i += 8 }
        var s = acc.sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    @inline(__always)
    static func sum(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float { sum(UnsafePointer(p), n) }

    @inline(__always)
    static func maximum(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        // `replace(with:where:)` compiles to compare-and-blend; pointwiseMax is a generic call per vector.
        while i + 8 <= n { let v = load8(p + i); acc.replace(with: v, where: v .> acc); i += 8 }
        var m = acc.max()
        while i < n { m = max(m, p[i]); i += 1 }
        return m
    }
}
