// GELU activations, forward and backward: the tanh approximation (HF `gelu_new`, `gelu_pytorch_tanh`,
// `gelu_fast`: GPT-2 and some GPT-NeoX configs) and the exact erf form (HF `gelu`: Pythia).
// Reference: transformers 5.24.0 activations.py; llm.c gelu_forward / gelu_backward. Legend: count elements.
import Foundation

public enum GELUKind: String, Sendable, Equatable {
    /// 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
    case tanh
    /// 0.5 x (1 + erf(x / sqrt(2)))
    case erf
}

public enum GELU {
    static let s2pi: Float = 0.7978845608028654  // sqrt(2/π)
    static let invSqrt2: Float = 0.7071067811865476
    static let invSqrt2pi: Float = 0.3989422804014327  // 1/sqrt(2π)

    /// out = gelu(inp) elementwise (out may alias inp).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               count: Int, kind: GELUKind) {
        Parallel.forRanges(count, minWork: 1 << 15) { r in
            switch kind {
            case .tanh:
                for i in r {
                    let x = inp[i]
                    out[i] = 0.5 * x * (1 + tanhf(s2pi * (x + 0.044715 * x * x * x)))
                }
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
            case .tanh:
                for i in r {
                    let x = inp[i]
                    let u = s2pi * (x + 0.044715 * x * x * x)
                    let t = tanhf(u)
                    let sech2 = 1 - t * t
                    let du = s2pi * (1 + 3 * 0.044715 * x * x)
                    dinp[i] = dout[i] * (0.5 * (1 + t) + 0.5 * x * sech2 * du)
                }
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
