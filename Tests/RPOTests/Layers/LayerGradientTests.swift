// Finite-difference checks of every layer's backward, and the fused/blocked kernels against their naive
// twins. Layers compute in fp32, so the differences are central, with step h = 1e-2 on inputs of size ~1:
// truncation error ~h² and rounding ~eps·|L|/h are both ~1e-4 of the gradient's scale, hence the stated
// tolerances (norm-relative: max |numeric - analytic| / max |analytic| over the probed coordinates).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// Probes up to `probes` coordinates of `x`: numeric dL/dx by central differences of `loss` vs `analytic`.
func checkGradient(_ label: String, _ x: inout [Float], analytic: [Float], probes: Int = 24, h: Float = 1e-2,
                   tol: Double = 5e-3, _ loss: ([Float]) -> Double, sourceLocation: SourceLocation = #_sourceLocation) {
    var rng = RNG(seed: UInt64(label.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) }))
    let idx = x.count <= probes ? Array(0..<x.count) : (0..<probes).map { _ in rng.below(x.count) }
    var maxDiff = 0.0, scale = 0.0
    for i in idx {
        let x0 = x[i]
        x[i] = x0 + h; let lp = loss(x)
        x[i] = x0 - h; let lm = loss(x)
        x[i] = x0
        let num = (lp - lm) / Double(2 * h)
        maxDiff = max(maxDiff, abs(num - Double(analytic[i])))
        scale = max(scale, abs(num))
    }
    #expect(scale > 0, "\(label): gradient vanishes at every probe", sourceLocation: sourceLocation)
    #expect(maxDiff <= tol * scale, "\(label): max |numeric - analytic| \(maxDiff), scale \(scale)", sourceLocation: sourceLocation)
}

/// Σ_i w_i out_i in Double: the scalar loss whose gradient the backward functions receive as dout = w.
func dot(_ a: [Float], _ w: [Float]) -> Double { zip(a, w).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

@Suite struct LayerGradientTests {
    @Test func layerNorm() {
        var rng = RNG(seed: 1)
        let N = 5, C = 12
        var x = randomArray(N * C, &rng, scale: 2), w = randomArray(C, &rng), b = randomArray(C, &rng)
        let dout = randomArray(N * C, &rng)
        func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> ([Float], [Float], [Float]) {
            var out = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
            LayerNorm.forward(&out, mean: &mean, rstd: &rstd, x, weight: w, bias: b, N: N, C: C, eps: 1e-5)
            return (out, mean, rstd)
        }
        let (_, mean, rstd) = run(x, w, b)
        var dx = [Float](repeating: 0.5, count: N * C), dw = [Float](repeating: 0, count: C), db = dw
        LayerNorm.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: dout, x, weight: w, mean: mean, rstd: rstd, N: N, C: C)
        dx = dx.map { $0 - 0.5 }  // backward accumulates into what dinp held
        checkGradient("layernorm dx", &x, analytic: dx) { dot(run($0, w, b).0, dout) }
        checkGradient("layernorm dw", &w, analytic: dw) { dot(run(x, $0, b).0, dout) }
        checkGradient("layernorm db", &b, analytic: db) { dot(run(x, w, $0).0, dout) }
    }

    @Test func rmsNorm() {
        var rng = RNG(seed: 2)
        let N = 5, C = 12
        var x = randomArray(N * C, &rng, scale: 2), w = randomArray(C, &rng)
        let dout = randomArray(N * C, &rng)
        func run(_ x: [Float], _ w: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: 0, count: N * C), rstd = [Float](repeating: 0, count: N)
            RMSNorm.forward(&out, rstd: &rstd, x, weight: w, N: N, C: C, eps: 1e-6)
            return (out, rstd)
        }
        let rstd = run(x, w).1
        var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C)
        RMSNorm.backward(dinp: &dx, dweight: &dw, dout: dout, x, weight: w, rstd: rstd, N: N, C: C)
        checkGradient("rmsnorm dx", &x, analytic: dx) { dot(run($0, w).0, dout) }
        checkGradient("rmsnorm dw", &w, analytic: dw) { dot(run(x, $0).0, dout) }
    }

    @Test func linearWithAndWithoutBias() {
        var rng = RNG(seed: 3)
        let N = 6, C = 9, OC = 7
        var x = randomArray(N * C, &rng), w = randomArray(OC * C, &rng), b = randomArray(OC, &rng)
        let dout = randomArray(N * OC, &rng)
        for withBias in [true, false] {
            func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
                var out = [Float](repeating: 0, count: N * OC)
                b.withUnsafeBufferPointer { bp in
                    Linear.forward(&out, x, weight: w, bias: withBias ? bp.baseAddress : nil, N: N, C: C, OC: OC)
                }
                return out
            }
            var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: OC * C)
            var db = [Float](repeating: 0, count: OC)
            db.withUnsafeMutableBufferPointer { dbp in
                Linear.backward(dinp: &dx, dweight: &dw, dbias: withBias ? dbp.baseAddress : nil, dout: dout, x,
                                weight: w, N: N, C: C, OC: OC)
            }
            checkGradient("linear dx bias=\(withBias)", &x, analytic: dx) { dot(run($0, w, b), dout) }
            checkGradient("linear dw bias=\(withBias)", &w, analytic: dw) { dot(run(x, $0, b), dout) }
            if withBias { checkGradient("linear db", &b, analytic: db) { dot(run(x, w, $0), dout) } }
            else { #expect(db.allSatisfy { $0 == 0 }) }
        }
    }

    @Test(arguments: [GELUKind.tanh, .erf])
    func gelu(_ kind: GELUKind) {
        var rng = RNG(seed: 4)
        var x = randomArray(40, &rng, scale: 3)
        let dout = randomArray(40, &rng)
        func run(_ x: [Float]) -> [Float] { var o = x; GELU.forward(&o, x, count: x.count, kind: kind); return o }
        var dx = [Float](repeating: 0, count: 40)
        GELU.backward(dinp: &dx, dout: dout, x, count: 40, kind: kind)
        checkGradient("gelu \(kind)", &x, analytic: dx, probes: 40) { dot(run($0), dout) }
        // Values against the formulas evaluated in Double (HF activations.py NewGELUActivation / GELUActivation).
        let y = run(x)
        for (xi, yi) in zip(x, y) {
            let d = Double(xi)
            let e = kind == .tanh ? 0.5 * d * (1 + tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)))
                                  : 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
            #expect(abs(Double(yi) - e) <= 1e-6 * max(1, abs(e)), "gelu \(kind)(\(xi)) = \(yi), expected \(e)")
        }
    }

    @Test func swiglu() {
        var rng = RNG(seed: 5)
        let N = 4, H = 6
        var x = randomArray(N * 2 * H, &rng, scale: 3)
        let dout = randomArray(N * H, &rng)
        func run(_ x: [Float]) -> [Float] { var o = [Float](repeating: 0, count: N * H); SwiGLU.forward(&o, x, N: N, H: H); return o }
        var dx = [Float](repeating: 0, count: N * 2 * H)
        SwiGLU.backward(dinp: &dx, dout: dout, x, N: N, H: H)
        checkGradient("swiglu", &x, analytic: dx, probes: 48) { dot(run($0), dout) }
    }

    @Test func ropeRotatesAndInvertsPartially() {
        var rng = RNG(seed: 6)
        let N = 7, NH = 3, hs = 8, stride = 30  // rows wider than the heads: the tail must stay untouched
        var table = RoPETable(rotaryDim: 4, theta: 10000)
        table.reserve(N)
        let pos = (0..<N).map { Int32($0 * 3 % 7) }
        var x = randomArray(N * stride, &rng)
        let dout = randomArray(N * stride, &rng)
        func run(_ x: [Float]) -> [Float] {
            var o = x
            RoPE.forward(&o, rowStride: stride, positions: pos, table: table, N: N, NH: NH, hs: hs)
            return o
        }
        let y = run(x)
        for n in 0..<N {
            for c in 0..<stride where c >= NH * hs || c % hs >= 4 { #expect(y[n * stride + c] == x[n * stride + c]) }
            // HF rotate_half on channel pair (0, 2) of head 0: angle = pos * theta^0
            let a = Double(pos[n]), x1 = Double(x[n * stride]), x2 = Double(x[n * stride + 2])
            #expect(abs(Double(y[n * stride]) - (x1 * cos(a) - x2 * sin(a))) < 1e-5)
        }
        var dx = dout
        RoPE.backward(&dx, rowStride: stride, positions: pos, table: table, N: N, NH: NH, hs: hs)
        checkGradient("rope", &x, analytic: dx, probes: 60) { dot(run($0), dout) }
    }

    @Test func embedding() {
        var rng = RNG(seed: 7)
        let N = 9, C = 5, V = 6, P = 8
        var wte = randomArray(V * C, &rng), wpe = randomArray(P * C, &rng)
        let tokens: [Int32] = [1, 3, 1, 5, 0, 3, 3, 2, 4], positions: [Int32] = [0, 1, 2, 3, 0, 1, 2, 3, 4]
        let dout = randomArray(N * C, &rng)
        func run(_ wte: [Float], _ wpe: [Float]) -> [Float] {
            var o = [Float](repeating: 0, count: N * C)
            Embedding.forward(&o, tokens: tokens, positions: positions, wte: wte, wpe: wpe, N: N, C: C)
            return o
        }
        var dwte = [Float](repeating: 0, count: V * C), dwpe = [Float](repeating: 0, count: P * C)
        Embedding.backward(dwte: &dwte, dwpe: &dwpe, dout: dout, tokens: tokens, positions: positions, N: N, C: C)
        checkGradient("wte", &wte, analytic: dwte, probes: 30) { dot(run($0, wpe), dout) }
        checkGradient("wpe", &wpe, analytic: dwpe, probes: 40) { dot(run(wte, $0), dout) }
    }

    /// Packed causal GQA attention: the blocked sgemm kernel equals its naive twin (forward and backward),
    /// and the backward matches finite differences. Lengths straddle the 64-row causal block.
    @Test func attentionAgainstNaiveAndFiniteDifferences() {
        var rng = RNG(seed: 8)
        let NH = 4, KVH = 2, hs = 8, S = (NH + 2 * KVH) * hs, OC = NH * hs
        let lengths = [70, 3, 1, 65], starts = [0, 70, 73, 74], N = 139
        let scale = 1 / Float(hs).squareRoot()
        var qkv = randomArray(N * S, &rng, scale: 1.5)
        let dout = randomArray(N * OC, &rng)
        func run(_ qkv: [Float]) -> ([Float], [Float]) {
            var o = [Float](repeating: 0, count: N * OC), lse = [Float](repeating: 0, count: N * NH)
            Attention.forward(&o, lse: &lse, qkv, starts: starts, lengths: lengths, NH: NH, KVH: KVH, hs: hs, scale: scale)
            return (o, lse)
        }
        let (out, lse) = run(qkv)
        var nOut = [Float](repeating: 0, count: N * OC), nLse = [Float](repeating: 0, count: N * NH)
        Attention.naiveForward(&nOut, lse: &nLse, qkv, starts: starts, lengths: lengths, NH: NH, KVH: KVH, hs: hs, scale: scale)
        // fp32 sgemm and softmax against Double loops over <= 70 terms of size ~1: rounding only.
        expectClose(out, nOut, atol: 2e-5, rtol: 1e-4, "attention forward vs naive")
        expectClose(lse, nLse, atol: 2e-5, rtol: 1e-5, "attention lse vs naive")
        var dqkv = [Float](repeating: 0, count: N * S), nd = dqkv
        Attention.backward(dqkv: &dqkv, dout: dout, qkv, lse: lse, starts: starts, lengths: lengths, NH: NH, KVH: KVH, hs: hs, scale: scale)
        Attention.naiveBackward(dqkv: &nd, dout: dout, qkv, starts: starts, lengths: lengths, NH: NH, KVH: KVH, hs: hs, scale: scale)
        expectClose(dqkv, nd, atol: 5e-5, rtol: 1e-4, "attention backward vs naive")
        checkGradient("attention dqkv", &qkv, analytic: dqkv, probes: 60) { dot(run($0).0, dout) }
        // The one-token sequence attends only to itself: its output is its own v.
        let v = qkv[(73 * S + (NH) * hs + KVH * hs)...].prefix(hs)
        expectClose(Array(out[(73 * OC)..<(73 * OC + hs)]), Array(v), atol: 1e-6, "single token = v")
    }

    /// The chunked head equals the naive full-logits computation, and its backward matches finite
    /// differences of Σ seed_r logprob_r (more rows than one chunk, so chunking is exercised).
    @Test func sequenceLogProbHead() {
        var rng = RNG(seed: 9)
        let C = 8, V = 300, R = 13, chunk = 5
        var x = randomArray(R * C, &rng, scale: 2), w = randomArray(V * C, &rng)
        let targets = (0..<R).map { _ in Int32(rng.below(V)) }
        let seed = randomArray(R, &rng)
        var scratch = [Float](repeating: 0, count: chunk * V)
        func run(_ x: [Float], _ w: [Float]) -> ([Double], [Float]) {
            var lp = [Double](repeating: 0, count: R), lse = [Float](repeating: 0, count: R)
            SequenceLogProb.forward(logprob: &lp, lse: &lse, x, weight: w, targets: targets, scratch: &scratch, R: R, C: C, V: V, chunk: chunk)
            return (lp, lse)
        }
        let (lp, lse) = run(x, w)
        let naive = SequenceLogProb.naiveForward(x, weight: w, targets: targets.map(Int.init), R: R, C: C, V: V)
        for r in 0..<R {
            // fp32 logits (|logit| < ~20) and a Double log-sum-exp: ~1e-5 absolute.
            #expect(abs(lp[r] - naive[r]) < 5e-5, "row \(r): \(lp[r]) vs \(naive[r])")
        }
        var dx = [Float](repeating: 0, count: R * C), dw = [Float](repeating: 0, count: V * C)
        SequenceLogProb.backward(dx: &dx, dweight: &dw, seed: seed, x, weight: w, targets: targets, lse: lse,
                                 scratch: &scratch, R: R, C: C, V: V, chunk: chunk)
        let loss: ([Double]) -> Double = { lp in zip(lp, seed).reduce(0) { $0 + $1.0 * Double($1.1) } }
        checkGradient("head dx", &x, analytic: dx, probes: 20) { loss(run($0, w).0) }
        // dW is concentrated on the target rows: probe those coordinates.
        var wv = w
        var maxDiff = 0.0, scale = 0.0
        for r in stride(from: 0, to: R, by: max(1, R / 8)) {
            let i = Int(targets[r]) * C + r % C
            let h: Float = 1e-2
            let w0 = wv[i]
            wv[i] = w0 + h; let lp1 = loss(run(x, wv).0)
            wv[i] = w0 - h; let lm1 = loss(run(x, wv).0)
            wv[i] = w0
            let num = (lp1 - lm1) / Double(2 * h)
            maxDiff = max(maxDiff, abs(num - Double(dw[i]))); scale = max(scale, abs(num))
        }
        #expect(maxDiff <= 5e-3 * scale, "head dW: max diff \(maxDiff), scale \(scale)")
    }
}
