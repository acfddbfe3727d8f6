// y = x Wᵀ + b for the few rows of a decoding step (one new token per sequence): the weights are streamed
// from memory once for all rows, which is what bounds decoding speed (sgemm repacks the weights on every
// call and is several times slower at N <= 16). The kernel is batch-invariant: out[n, o] is computed by the
// same instructions in the same order whatever N is and wherever row n sits in the batch, so a sample does
// not depend on the other samples decoded with it (rpo-sample's determinism across --batch-size).
// Reference: llama.cpp ggml_vec_dot_f32 (one dot product per output row). Legend: N rows, C in, OC out.

extension Linear {
    /// Output rows computed together per weight pass (each weight row is loaded once per tile of rows).
    static let rowTile = 4

    /// out (N, OC) = inp (N, C) · weightᵀ (+ bias (OC)), weight (OC, C) row-major. Batch-invariant (see the
    /// file header); both cores split the output channels when the work is large enough.
    public static func forwardRows(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                   N: Int, C: Int, OC: Int) {
        if N == 0 || OC == 0 { return }
        // Ranges are multiples of 4 output channels so the 4-channel kernel covers all but the last few.
        let quads = (OC + 3) / 4
        Parallel.forRanges(quads, costPerItem: 4 * C * max(N, 2), minWork: 1 << 16) { r in
            let o0 = r.lowerBound * 4, o1 = min(OC, r.upperBound * 4)
            dotTile(out, inp, weight: weight, bias: bias, N: N, C: C, OC: OC, outputs: o0..<o1)
        }
    }

    /// One thread's share: output channels `outputs` for all N rows.
    @inline(__always)
    static func dotTile(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        N: Int, C: Int, OC: Int, outputs: Range<Int>) {
        var o = outputs.lowerBound
        while o + 4 <= outputs.upperBound {
            var n = 0
            while n + 2 <= N {
                dot4x2(out, inp, weight, bias, n: n, o: o, C: C, OC: OC)
                n += 2
            }
            if n < N { dot4x1(out, inp, weight, bias, n: n, o: o, C: C, OC: OC) }
            o += 4
        }
        while o < outputs.upperBound {
            for n in 0..<N { out[n * OC + o] = dot1(inp + n * C, weight + o * C, C: C) + (bias?[o] ?? 0) }
            o += 1
        }
    }

    // Every (row, channel) value below is produced the same way: one SIMD4 accumulator over the
    // channels in chunks of 4 (acc += w * x, lane j holding the terms c ≡ j mod 4, in increasing c), the
    // C % 4 tail added in order to a scalar, then ((a0 + a2) + (a1 + a3)) + tail, then + bias.
    // dot4x2, dot4x1 and dot1 are three tilings of that one computation.

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD4<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD4<Float>.self)
    }

    @inline(__always)
    static func finish(_ a: SIMD4<Float>, _ tail: Float) -> Float { ((a[0] + a[2]) + (a[1] + a[3])) + tail }

    @inline(__always)
    static func dot4x2(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                       _ bias: UnsafePointer<Float>?, n: Int, o: Int, C: Int, OC: Int) {
        let w0 = w + o * C, w1 = w0 + C, w2 = w1 + C, w3 = w2 + C
        let x0 = inp + n * C, x1 = x0 + C
        var a00 = SIMD4<Float>(), a01 = SIMD4<Float>(), a02 = SIMD4<Float>(), a03 = SIMD4<Float>()
        var a10 = SIMD4<Float>(), a11 = SIMD4<Float>(), a12 = SIMD4<Float>(), a13 = SIMD4<Float>()
        let C4 = C & ~3
        var c = 0
        while c < C4 {
            let v0 = load(x0, c), v1 = load(x1, c)
            let q0 = load(w0, c), q1 = load(w1, c), q2 = load(w2, c), q3 = load(w3, c)
            a00 += q0 * v0; a01 += q1 * v0; a02 += q2 * v0; a03 += q3 * v0
            a10 += q0 * v1; a11 += q1 * v1; a12 += q2 * v1; a13 += q3 * v1
            c += 4
        }
        var t00: Float = 0, t01: Float = 0, t02: Float = 0, t03: Float = 0
        var t10: Float = 0, t11: Float = 0, t12: Float = 0, t13: Float = 0
        while c < C {
            t00 += w0[c] * x0[c]; t01 += w1[c] * x0[c]; t02 += w2[c] * x0[c]; t03 += w3[c] * x0[c]
            t10 += w0[c] * x1[c]; t11 += w1[c] * x1[c]; t12 += w2[c] * x1[c]; t13 += w3[c] * x1[c]
            c += 1
        }
        let y0 = out + n * OC + o, y1 = y0 + OC
        y0[0] = finish(a00, t00) + (bias?[o] ?? 0); y0[1] = finish(a01, t01) + (bias?[o + 1] ?? 0)
        y0[2] = finish(a02, t02) + (bias?[o + 2] ?? 0); y0[3] = finish(a03, t03) + (bias?[o + 3] ?? 0)
        y1[0] = finish(a10, t10) + (bias?[o] ?? 0); y1[1] = finish(a11, t11) + (bias?[o + 1] ?? 0)
        y1[2] = finish(a12, t12) + (bias?[o + 2] ?? 0); y1[3] = finish(a13, t13) + (bias?[o + 3] ?? 0)
    }

    @inline(__always)
    static func dot4x1(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                       _ bias: UnsafePointer<Float>?, n: Int, o: Int, C: Int, OC: Int) {
        let w0 = w + o * C, w1 = w0 + C, w2 = w1 + C, w3 = w2 + C
        let x0 = inp + n * C
        var a00 = SIMD4<Float>(), a01 = SIMD4<Float>(), a02 = SIMD4<Float>(), a03 = SIMD4<Float>()
        let C4 = C & ~3
        var c = 0
        while c < C4 {
            let v0 = load(x0, c)
            a00 += load(w0, c) * v0; a01 += load(w1, c) * v0; a02 += load(w2, c) * v0; a03 += load(w3, c) * v0
            c += 4
        }
        var t00: Float = 0, t01: Float = 0, t02: Float = 0, t03: Float = 0
        while c < C {
            t00 += w0[c] * x0[c]; t01 += w1[c] * x0[c]; t02 += w2[c] * x0[c]; t03 += w3[c] * x0[c]
            c += 1
        }
        let y0 = out + n * OC + o
        y0[0] = finish(a00, t00) + (bias?[o] ?? 0); y0[1] = finish(a01, t01) + (bias?[o + 1] ?? 0)
        y0[2] = finish(a02, t02) + (bias?[o + 2] ?? 0); y0[3] = finish(a03, t03) + (bias?[o + 3] ?? 0)
    }

    @inline(__always)
    static func dot1(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, C: Int) -> Float {
        var a = SIMD4<Float>()
        let C4 = C & ~3
        var c = 0
        while c < C4 { a += load(w, c) * load(x, c); c += 4 }
        var t: Float = 0
        while c < C { t += w[c] * x[c]; c += 1 }
        return finish(a, t)
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
