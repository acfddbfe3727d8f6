// SwiGLU gate of the Llama-family MLP, forward and backward: out = silu(gate) * up, the inner part of
// HF LlamaMLP.forward `down_proj(act_fn(gate_proj(x)) * up_proj(x))` with act_fn = SiLU.
// gate and up come from one fused projection: row n of `inp` is [gate (H) | up (H)].
// Both directions run on CKernels' vectorised exp. Legend: N rows, H intermediate channels.
import CKernels
import Foundation

public enum SwiGLU {
    /// out (N, H) = silu(inp[:, :H]) * inp[:, H:], silu(g) = g * sigmoid(g).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, N: Int, H: Int) {
        Parallel.forRanges(N, costPerItem: H, minWork: 1 << 15) { r in
            for n in r {
                let g = inp + n * 2 * H
                rpo_swiglu_forward(Kernels.isa, out + n * H, g, g + H, H)
            }
        }
    }

    /// dinp (N, 2H) = [dgate | dup] (overwritten): dup = dout * silu(g), dgate = dout * up * silu'(g),
    /// silu'(g) = s (1 + g (1 - s)) with s = sigmoid(g).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                _ inp: UnsafePointer<Float>, N: Int, H: Int) {
        Parallel.forRanges(N, costPerItem: H, minWork: 1 << 15) { r in
            for n in r {
                let g = inp + n * 2 * H, dg = dinp + n * 2 * H
                rpo_swiglu_backward(Kernels.isa, dg, dg + H, dout + n * H, g, g + H, H)
            }
        }
    }
}
