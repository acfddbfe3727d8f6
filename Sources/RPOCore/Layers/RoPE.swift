// Rotary position embedding in HF's rotate_half layout, in place, forward and backward; partial rotary
// (GPT-NeoX `partial_rotary_factor` / `rotary_pct`) rotates only the first `rotaryDim` channels of a head.
// Reference: transformers 5.24.0 models/llama/modeling_llama.py (rotate_half, apply_rotary_pos_emb) and
// models/gpt_neox/modeling_gpt_neox.py. Angles are computed in fp32 exactly as HF does
// (inv_freq = 1 / theta^(2i/d) in fp32, angle = fp32(pos) * inv_freq), so cos/sin match bit for bit up to libm.
// Legend: N rows (tokens), NH heads in the block, hs head size, rd rotary dims.
import Foundation

/// cos/sin of every (position, frequency) pair up to a maximum position, grown on demand.
public struct RoPETable: Sendable {
    public let rotaryDim: Int
    public let theta: Double
    public private(set) var positions: Int = 0
    public private(set) var cos: [Float] = []
    public private(set) var sin: [Float] = []
    let invFreq: [Float]

    public init(rotaryDim: Int, theta: Double) {
        precondition(rotaryDim % 2 == 0 && rotaryDim > 0)
        self.rotaryDim = rotaryDim
        self.theta = theta
        let base = Float(theta)
        // HF: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), all in fp32
        invFreq = (0..<(rotaryDim / 2)).map { i in 1 / powf(base, Float(2 * i) / Float(rotaryDim)) }
    }

    /// Makes the table cover positions 0..<n.
    public mutating func reserve(_ n: Int) {
        if n <= positions { return }
        let half = rotaryDim / 2
        cos.reserveCapacity(n * half); sin.reserveCapacity(n * half)
        for p in positions..<n {
            for i in 0..<half {
                let a = Float(p) * invFreq[i]  // HF: position_ids.float() * inv_freq
                cos.append(Foundation.cos(a)); sin.append(Foundation.sin(a))
            }
        }
        positions = n
    }
}

public enum RoPE {
    /// Rotates, in place, the first rd channels of each of NH heads of size hs in every row of x
    /// (rows `rowStride` apart): with h = rd/2, x1 = v[i], x2 = v[i+h] (i < h):
    /// v[i] = x1 cos - x2 sin, v[i+h] = x2 cos + x1 sin   (HF: q * cos + rotate_half(q) * sin).
    public static func forward(_ x: UnsafeMutablePointer<Float>, rowStride: Int, positions: UnsafePointer<Int32>,
                               table: RoPETable, N: Int, NH: Int, hs: Int) {
        rotate(x, rowStride: rowStride, positions: positions, table: table, N: N, NH: NH, hs: hs, sign: 1)
    }

    /// The backward of a rotation is the rotation by the opposite angle, applied in place to the gradient.
    public static func backward(_ dx: UnsafeMutablePointer<Float>, rowStride: Int, positions: UnsafePointer<Int32>,
                                table: RoPETable, N: Int, NH: Int, hs: Int) {
        rotate(dx, rowStride: rowStride, positions: positions, table: table, N: N, NH: NH, hs: hs, sign: -1)
    }

    static func rotate(_ x: UnsafeMutablePointer<Float>, rowStride: Int, positions: UnsafePointer<Int32>,
                       table: RoPETable, N: Int, NH: Int, hs: Int, sign: Float) {
        let h = table.rotaryDim / 2
        precondition(table.rotaryDim <= hs)
        table.cos.withUnsafeBufferPointer { cosb in
            table.sin.withUnsafeBufferPointer { sinb in
                let cs = UncheckedSendable((cosb.baseAddress!, sinb.baseAddress!))
                Parallel.forRanges(N, costPerItem: NH * h * 4, minWork: 1 << 15) { r in
                    let (cosp, sinp) = cs.value
                    for n in r {
                        let p = Int(positions[n])
                        precondition(p < table.positions, "RoPE table too short")
                        let c = cosp + p * h, s = sinp + p * h
                        for head in 0..<NH {
                            let v = x + n * rowStride + head * hs
                            for i in 0..<h {
                                let x1 = v[i], x2 = v[i + h], sn = sign * s[i]
                                v[i] = x1 * c[i] - x2 * sn
                                v[i + h] = x2 * c[i] + x1 * sn
                            }
                        }
                    }
                }
            }
        }
    }
}
