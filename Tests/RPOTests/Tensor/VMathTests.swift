// CKernels' vectorised exp and the kernels built on it (log-sum-exp, the head's softmax gradient, GELU-tanh,
// SwiGLU), on every instruction set this machine runs, against Double formulas; special values; and
// position independence (an element's result does not depend on where its range starts: masked tails).
import CKernels
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct VMathTests {
    /// -100 ... 100 on a fine grid plus random values, and the chosen size is not a multiple of 16.
    static let xs: [Float] = {
        var rng = RNG(seed: 11)
        return (0..<4001).map { -100 + 0.05 * Float($0) } + (0..<1003).map { _ in (rng.nextFloat() * 2 - 1) * 12 }
    }()

    @Test func expAndSumExp() {
        let x = Self.xs
        for isa in Kernels.isas {
            let name = Kernels.isaName(isa)
            var y = [Float](repeating: .nan, count: x.count)
            rpo_scaled_exp(isa, &y, x, 1.5, -2, x.count)
            for (i, v) in x.enumerated() {
                let want = -2 * Foundation.exp(Double(v - 1.5))  // of the fp32 argument the kernel forms
                // normal results: Cephes expf is within 2 ulp (2^-23 relative) of the exact value
                if abs(want) > 1e-37 && abs(want) < 1e38 {
                    #expect(abs(Double(y[i]) - want) <= 2.4e-7 * abs(want), "exp(\(v)) \(name)")
                }
            }
            let special: [Float] = [-.infinity, .infinity, .nan, -1000, 1000, 0]
            var sy = [Float](repeating: 7, count: special.count)
            rpo_scaled_exp(isa, &sy, special, 0, 1, special.count)
            #expect(sy[0] == 0 && sy[1] == .infinity && sy[2].isNaN && sy[3] == 0 && sy[4] == .infinity && sy[5] == 1, "\(sy) \(name)")

            let sum = rpo_sum_exp(isa, x, 100, x.count)
            let want = x.reduce(0.0) { $0 + Foundation.exp(Double($1 - 100)) }
            // each term within 2 ulp, summed in Double
            #expect(abs(sum - want) <= 2.4e-7 * want, "sum_exp \(name)")
        }
        #expect(Kernels.logSumExp([-Float.infinity, -.infinity], count: 2) == -.infinity)
    }

    @Test func geluTanhForwardAndBackward() {
        let x = Self.xs.filter { abs($0) < 30 }
        var rng = RNG(seed: 4)
        let d = x.map { _ in rng.nextFloat() * 2 - 1 }
        for isa in Kernels.isas {
            let name = Kernels.isaName(isa)
            var y = [Float](repeating: .nan, count: x.count), g = y
            rpo_gelu_tanh_forward(isa, &y, x, x.count)
            rpo_gelu_tanh_backward(isa, &g, d, x, x.count)
            for (i, v) in x.enumerated() {
                let xd = Double(v), u = 0.7978845608028654 * (xd + 0.044715 * xd * xd * xd)
                let want = 0.5 * xd * (1 + tanh(u))  // the HF formula, in Double
                let t = tanh(u), du = 0.7978845608028654 * (1 + 3 * 0.044715 * xd * xd)
                let wantD = Double(d[i]) * (0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * du)
                // fp32 rounding of u (relative 6e-8) moves sigmoid(2u) by up to 2|u| 6e-8 relative, and |x| scales
                // it: 1e-6 max(1, |x|) absolute covers both (torch's own fp32 formula is no closer)
                #expect(abs(Double(y[i]) - want) <= 1e-6 * max(1, abs(xd)), "gelu(\(v)) \(name)")
                #expect(abs(Double(g[i]) - wantD) <= 2e-6 * max(1, xd * xd), "gelu'(\(v)) \(name)")
            }
        }
    }

    @Test func swigluForwardAndBackward() {
        let gate = Self.xs.filter { abs($0) < 40 }
        var rng = RNG(seed: 5)
        let up = gate.map { _ in rng.nextFloat() * 4 - 2 }, d = gate.map { _ in rng.nextFloat() * 2 - 1 }
        for isa in Kernels.isas {
            let name = Kernels.isaName(isa)
            var y = [Float](repeating: .nan, count: gate.count), dg = y, du = y
            rpo_swiglu_forward(isa, &y, gate, up, gate.count)
            rpo_swiglu_backward(isa, &dg, &du, d, gate, up, gate.count)
            for i in gate.indices {
                let x = Double(gate[i]), s = 1 / (1 + Foundation.exp(-x))
                let want = x * s * Double(up[i])
                let wantDu = Double(d[i]) * x * s, wantDg = Double(d[i]) * Double(up[i]) * s * (1 + x * (1 - s))
                // a few fp32 roundings of values of size |x|: 1e-6 relative to max(1, |x|) and the factors
                let tol = 1e-6 * max(1, abs(x)) * max(1, abs(Double(up[i])))
                #expect(abs(Double(y[i]) - want) <= tol, "silu(\(x)) * up \(name)")
                #expect(abs(Double(du[i]) - wantDu) <= tol, "dup \(name)")
                #expect(abs(Double(dg[i]) - wantDg) <= tol * max(1, abs(x)), "dgate \(name)")
            }
        }
    }

    /// A kernel applied to a sub-range gives bit-identical results to the same elements of a whole-array
    /// call: tails are masked vectors, never a different scalar formula (decoding's batch invariance).
    @Test func resultsDoNotDependOnTheRangeStart() {
        let x = Array(Self.xs[3900..<3941])  // 41 grid values (95 ... 97), the up inputs
        let y = Array(Self.xs[4001..<4042])  // 41 random values in [-12, 12], the activations' inputs
        for isa in Kernels.isas {
            var whole = [Float](repeating: 0, count: x.count), part = whole
            rpo_gelu_tanh_forward(isa, &whole, y, y.count)
            rpo_swiglu_forward(isa, &part, y, x, y.count)
            for start in [1, 5, 17, 33] {
                var w2 = [Float](repeating: 0, count: y.count - start), p2 = w2
                Array(y[start...]).withUnsafeBufferPointer { yp in
                    rpo_gelu_tanh_forward(isa, &w2, yp.baseAddress!, w2.count)
                    Array(x[start...]).withUnsafeBufferPointer { xp in
                        rpo_swiglu_forward(isa, &p2, yp.baseAddress!, xp.baseAddress!, p2.count)
                    }
                }
                #expect(w2 == Array(whole[start...]), "gelu from \(start) \(Kernels.isaName(isa))")
                #expect(p2 == Array(part[start...]), "swiglu from \(start) \(Kernels.isaName(isa))")
            }
        }
    }
}
