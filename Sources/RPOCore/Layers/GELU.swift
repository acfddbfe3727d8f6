// GELU activations, forward and backward: the tanh approximation (HF `gelu_new`, `gelu_pytorch_tanh`,
// `gelu_fast`: GPT-2 and some GPT-NeoX configs) and the exact erf form (HF `gelu`: Pythia).
// The tanh form runs on CKernels' vectorised exp as x sigmoid(2u) (= 0.5 x (1 + tanh u) exactly); the erf
// form on libm.
// Reference: transformers 5.24.0 activations.py; llm.c gelu_forward / gelu_backward. Legend: count elements.
import CKernels
import Foundation

public enum GELUKind: String, Sendable, Equatable {
    /// 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
    case tanh
    /// 0.5 x (1 + erf(x / sqrt(2)))
    case erf
}

public enum GELU {
    static let invSqrt2: Float = 0.7071067811865476
    static let invSqrt2pi: Float = 0.3989422804014327  // 1/sqrt(2π)

    /// out = gelu(inp) elementwise (out may alias inp).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               count: Int, kind: GELUKind) {
        Parallel.forRanges(count, minWork: 1 << 15) { r in
            switch kind {
            case .tanh:
                rpo_gelu_tanh_forward(Kernels.isa, out + r.lowerBound, inp + r.lowerBound, r.count)
            case .erf:
                for i in r { let x = inp[i]; out[i] = 0.5 * x * (1 + erff(x * invSqrt2)) }
            }
        }
    }

    /// dinp = gelu'(inp) * dout (overwritten: the caller's buffer holds nothing else).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                _ inp: UnsafePointer<Float>, count: Int, kind: GELUKind) {
        Parallel.forRanges(count, minWork: 1 << 15) { r in
            switch kind {
            case .tanh:  // d/dx x s(2u) = s + 2 x s (1 - s) du/dx, s = sigmoid(2u)
                rpo_gelu_tanh_backward(Kernels.isa, dinp + r.lowerBound, dout + r.lowerBound, inp + r.lowerBound, r.count)
            case .erf:
                for i in r {
                    let x = inp[i]
                    let cdf = 0.5 * (1 + erff(x * invSqrt2))
                    let pdf = invSqrt2pi * expf(-0.5 * x * x)
                    dinp[i] = dout[i] * (cdf + x * pdf)
                }
            }
        }
    }
}
