// Optimizers over ONE flat fp32 parameter buffer and a gradient buffer of the same layout (as llm.c's AdamW loop),
// with PyTorch's semantics and order of fp32 operations: RMSprop (the official optimiser, docs/method.md §9.1) and
// AdamW (decoupled weight decay); the official warmup schedule; global-norm clipping as clip_grad_norm_.
// References: torch/optim/rmsprop.py `_single_tensor_rmsprop`, torch/optim/adam.py `_single_tensor_adam`
// (torch 2.13), torch/nn/utils/clip_grad.py. N = number of parameters.
import Foundation
import RPOCore

public enum OptimizerError: Error, CustomStringConvertible, Equatable, Sendable {
    case stateMismatch(String)
    public var description: String {
        switch self { case .stateMismatch(let m): return "optimizer state does not fit: \(m)" }
    }
}

/// A flat optimizer: one step updates `count` parameters from their gradients with learning rate `lr`.
public protocol FlatOptimizer: Sendable {
    var parameterCount: Int { get }
    /// Steps taken so far (torch's `state['step']`).
    var stepCount: Int { get }
    mutating func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, lr: Double)
}

extension FlatOptimizer {
    /// Convenience over arrays (tests, small models).
    public mutating func step(parameters: inout [Float], gradients: [Float], lr: Double) {
        precondition(parameters.count == parameterCount && gradients.count == parameterCount,
                     "parameters and gradients have the optimizer's layout")
        parameters.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeBufferPointer { g in step(parameters: p.baseAddress!, gradients: g.baseAddress!, lr: lr) }
        }
    }
}

/// Elementwise optimizer loops are memory-bound: the worker team (Parallel) for large buffers. Every element's
/// arithmetic is the same whatever the split, so results do not depend on the thread count.
@inline(__always) func optimizerLoop(_ n: Int, _ body: (Range<Int>) -> Void) {
    Parallel.forRanges(n, costPerItem: 8, minWork: 1 << 16, body)
}

/// 8 fp32 lanes: the optimizers' arithmetic written once, lane-wise (each lane's operations are the scalar
/// ones, so results do not depend on where a range starts); a range's tail runs in zero-padded lanes.
typealias Lanes = SIMD8<Float>

extension SIMD8 where Scalar == Float {
    /// `count` (1...8) values from p, the other lanes 0.
    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ count: Int) -> Lanes {
        if count == 8 { return UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
        var x = Lanes()
        for k in 0..<count { x[k] = p[k] }
        return x
    }

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> Lanes {
        load(UnsafePointer(p), count)
    }

    /// The first `count` lanes of x to p.
    @inline(__always) static func store(_ x: Lanes, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == 8 { UnsafeMutableRawPointer(p).storeBytes(of: x, as: Lanes.self); return }
        for k in 0..<count { p[k] = x[k] }
    }
}

/// Calls body(i, count) over r in steps of 8 (count 8, then the tail's count).
@inline(__always) func simdLoop(_ r: Range<Int>, _ body: (Int, Int) -> Void) {
    var i = r.lowerBound
    while i + 8 <= r.upperBound { body(i, 8); i += 8 }
    if i < r.upperBound { body(i, r.upperBound - i) }
}

/// torch.optim.RMSprop(lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
/// v ← αv + (1−α)g²;  θ ← θ − lr·g/(√v + eps), v starting at 0, every operation in fp32 as torch's kernels.
public struct RMSprop: FlatOptimizer {
    public let alpha: Double
    public let eps: Double
    public let weightDecay: Double
    /// torch's `state['square_avg']`, flattened.
    public private(set) var squareAvg: [Float]
    public private(set) var stepCount: Int

    public var parameterCount: Int { squareAvg.count }

    public init(parameterCount n: Int, alpha: Double = 0.99, eps: Double = 1e-8, weightDecay: Double = 0) {
        self.alpha = alpha; self.eps = eps; self.weightDecay = weightDecay
        squareAvg = [Float](repeating: 0, count: n)
        stepCount = 0
    }

    /// Restores a saved state (from a checkpoint).
    public init(parameterCount n: Int, squareAvg: [Float], stepCount: Int, alpha: Double = 0.99, eps: Double = 1e-8,
                weightDecay: Double = 0) throws(OptimizerError) {
        guard squareAvg.count == n else {
            throw OptimizerError.stateMismatch("RMSprop square_avg has \(squareAvg.count) values, the model \(n) parameters")
        }
        guard stepCount >= 0 else { throw OptimizerError.stateMismatch("negative step count \(stepCount)") }
        self.init(parameterCount: n, alpha: alpha, eps: eps, weightDecay: weightDecay)
        self.squareAvg = squareAvg; self.stepCount = stepCount
    }

    public mutating func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, lr: Double) {
        stepCount += 1
        // Python floats become fp32 scalars in torch's fp32 kernels.
        let a = Float(alpha), oneMinusA = Float(1 - alpha), e = Float(eps), negLr = Float(-lr), wd = Float(weightDecay)
        let hasWD = weightDecay != 0
        let n = squareAvg.count
        squareAvg.withUnsafeMutableBufferPointer { sq in
            let box = UncheckedSendable((sq.baseAddress!, parameters, gradients))
            optimizerLoop(n) { r in
                let (v, p, g) = box.value
                simdLoop(r) { i, count in
                    var gi = Lanes.load(g + i, count)
                    let pi = Lanes.load(p + i, count)
                    if hasWD { gi = gi + wd * pi }                    // grad.add(param, alpha=wd)
                    var vi = Lanes.load(v + i, count) * a             // square_avg.mul_(alpha)
                    vi = vi + oneMinusA * gi * gi                     // .addcmul_(grad, grad, value=1-alpha)
                    Lanes.store(vi, v + i, count)
                    let avg = vi.squareRoot() + e                     // square_avg.sqrt().add_(eps)
                    Lanes.store(pi + negLr * gi / avg, p + i, count)  // param.addcdiv_(grad, avg, value=-lr)
                }
            }
        }
    }
}

/// torch.optim.AdamW(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False): decoupled weight
/// decay θ ← θ(1 − lr·wd); m ← lerp(m, g, 1−β1); v ← β2·v + (1−β2)g²; θ ← θ − (lr/bc1)·m/(√v/√bc2 + eps),
/// with bc_k = 1 − β_k^step computed in Double as torch does in Python.
public struct AdamW: FlatOptimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let weightDecay: Double
    /// torch's `state['exp_avg']` and `state['exp_avg_sq']`, flattened.
    public private(set) var expAvg: [Float]
    public private(set) var expAvgSq: [Float]
    public private(set) var stepCount: Int

    public var parameterCount: Int { expAvg.count }

    public init(parameterCount n: Int, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        expAvg = [Float](repeating: 0, count: n)
        expAvgSq = expAvg
        stepCount = 0
    }

    /// Restores a saved state (from a checkpoint).
    public init(parameterCount n: Int, expAvg: [Float], expAvgSq: [Float], stepCount: Int, beta1: Double = 0.9,
                beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) throws(OptimizerError) {
        guard expAvg.count == n, expAvgSq.count == n else {
            throw OptimizerError.stateMismatch("AdamW exp_avg/exp_avg_sq have \(expAvg.count)/\(expAvgSq.count) values, the model \(n) parameters")
        }
        guard stepCount >= 0 else { throw OptimizerError.stateMismatch("negative step count \(stepCount)") }
        self.init(parameterCount: n, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
        self.expAvg = expAvg; self.expAvgSq = expAvgSq; self.stepCount = stepCount
    }

    public mutating func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, lr: Double) {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = 1 - pow(beta1, t), bc2 = 1 - pow(beta2, t)
        let stepSize = lr / bc1
        let decay = Float(1 - lr * weightDecay), hasWD = weightDecay != 0
        let w = Float(1 - beta1), b2 = Float(beta2), oneMinusB2 = Float(1 - beta2)
        let bc2Sqrt = Float(bc2.squareRoot()), e = Float(eps), negStep = Float(-stepSize)
        let n = expAvg.count
        expAvg.withUnsafeMutableBufferPointer { mBuf in
            expAvgSq.withUnsafeMutableBufferPointer { vBuf in
                let box = UncheckedSendable((mBuf.baseAddress!, vBuf.baseAddress!, parameters, gradients))
                let smallWeight = abs(w) < 0.5
                optimizerLoop(n) { r in
                    let (m, v, p, g) = box.value
                    simdLoop(r) { i, count in
                        let gi = Lanes.load(g + i, count)
                        var pi = Lanes.load(p + i, count)
                        if hasWD { pi = pi * decay }                            // param.mul_(1 - lr*wd)
                        // exp_avg.lerp_(grad, 1-beta1), torch.lerp (ATen Lerp.h): small weights from the start.
                        let mOld = Lanes.load(m + i, count)
                        let mi = smallWeight ? mOld + w * (gi - mOld) : gi - (gi - mOld) * (1 - w)
                        Lanes.store(mi, m + i, count)
                        let vi = Lanes.load(v + i, count) * b2 + oneMinusB2 * gi * gi  // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
                        Lanes.store(vi, v + i, count)
                        let denom = vi.squareRoot() / bc2Sqrt + e              // (sqrt(v) / bc2_sqrt).add_(eps)
                        Lanes.store(pi + negStep * mi / denom, p + i, count)   // param.addcdiv_(m, denom, -step_size)
                    }
                }
            }
        }
    }

}

/// The official schedule (trainers.py:350, LambdaLR): lr_k = lr · min(1, (k+1)/(warmup+1)) for the k-th step
/// (k from 0), i.e. lr/(warmup+1) on the first step, the full lr from step `warmup` on, no decay.
public struct WarmupSchedule: Equatable, Sendable {
    public let baseLR: Double
    public let warmupSteps: Int

    public init(baseLR: Double, warmupSteps: Int = 150) { self.baseLR = baseLR; self.warmupSteps = warmupSteps }

    public func factor(step k: Int) -> Double { min(1, Double(k + 1) / Double(warmupSteps + 1)) }
    public func lr(step k: Int) -> Double { baseLR * factor(step: k) }
}

/// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_(params, maxNorm) over the flat buffer.
public enum GradientClipping {
    /// Block size of the norm's partial sums: fixed, so the sum's rounding does not depend on the thread count.
    static let block = 1 << 16

    /// The 2-norm of `count` values, accumulated in Double over fixed blocks.
    public static func globalNorm(_ g: UnsafePointer<Float>, count: Int) -> Double {
        let nb = (count + block - 1) / block
        var partial = [Double](repeating: 0, count: nb)
        partial.withUnsafeMutableBufferPointer { pb in
            let box = UncheckedSendable((pb.baseAddress!, g))
            Parallel.forRanges(nb, costPerItem: block, minWork: 1 << 17) { r in
                let (ps, gg) = box.value
                for b in r {
                    // Eight Double accumulators, lane-wise, then summed in a fixed order: deterministic.
                    var acc = SIMD8<Double>()
                    simdLoop((b * block)..<min(count, (b + 1) * block)) { i, n in
                        let x = SIMD8<Double>(Lanes.load(gg + i, n))
                        acc += x * x
                    }
                    var s = 0.0
                    for k in 0..<8 { s += acc[k] }  // (SIMD.sum()'s order is unspecified)
                    ps[b] = s
                }
            }
        }
        return partial.reduce(0, +).squareRoot()
    }

    /// Scales the gradients by min(1, maxNorm/(norm + 1e-6)) and returns the norm BEFORE clipping (what the
    /// official code logs as `grad_norm`). A non-finite norm leaves the gradients as they are and is returned
    /// for the caller to report.
    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
        let norm = globalNorm(g, count: count)
        guard norm.isFinite else { return norm }
        let coef = Float(min(1, maxNorm / (norm + 1e-6)))
        if coef < 1 { Kernels.scale(g, g, coef, count: count) }
        return norm
    }

    @discardableResult
    public static func clip(_ g: inout [Float], maxNorm: Double) -> Double {
        g.withUnsafeMutableBufferPointer { clip($0.baseAddress!, count: $0.count, maxNorm: maxNorm) }
    }
}
