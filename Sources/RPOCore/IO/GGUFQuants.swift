// Dequantization of ggml tensor types to f32: one function per block format, ported from ggml's
// `dequantize_row_*` (ggml-quants.c) and checked bit for bit against gguf-py's `gguf.quants.dequantize`
// (the same float32 operations in the same order: a product, then a sum or difference, never fused).
// Blocks never straddle rows, so a tensor is dequantized in parallel over ranges of rows.
//
// Block layouts (bytes; d, m, dmin are f16 unless noted; QK_K = 256):
//   Q4_0 18: d, qs[16]             x = (nibble - 8) * d          low nibbles are elements 0..15
//   Q4_1 20: d, m, qs[16]          x = nibble * d + m
//   Q5_0 22: d, qh[4], qs[16]      x = (nibble | bit << 4) - 16) * d
//   Q5_1 24: d, m, qh[4], qs[16]   x = (nibble | bit << 4) * d + m
//   Q8_0 34: d, qs[32] int8        x = q * d
//   Q2_K 84: scales[16], qs[64], d, dmin            (4-bit scale and min per 16 values)
//   Q3_K 110: hmask[32], qs[64], scales[12], d      (6-bit signed scales per 16 values)
//   Q4_K 144: d, dmin, scales[12], qs[128]          (6-bit scale and min per 32 values)
//   Q5_K 176: d, dmin, scales[12], qh[32], qs[128]
//   Q6_K 210: ql[128], qh[64], scales[16] int8, d
//   Q8_K 292: d f32, qs[256] int8, bsums[16] int16 (bsums unused here)
import Foundation

public enum GGMLDequantize {
    /// The types `rows` handles.
    public static let supported: Set<GGMLType> = [
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K,
    ]

    /// Dequantizes `rows` rows of `rowLength` values (a multiple of the block size) from `src` to `dst`,
    /// splitting the rows over the worker threads.
    public static func rows(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>,
                            rows: Int, rowLength: Int) {
        precondition(supported.contains(type) && rowLength % type.blockSize == 0)
        let rowBytes = rowLength / type.blockSize * type.typeSize
        let s = UncheckedSendable(src), d = UncheckedSendable(dst)
        Parallel.forRanges(rows, costPerItem: rowLength, minWork: 1 << 16) { r in
            run(type, s.value + r.lowerBound * rowBytes, d.value + r.lowerBound * rowLength, count: r.count * rowLength)
        }
    }

    /// Dequantizes `count` consecutive values (a whole number of blocks) on the calling thread.
    public static func run(_ type: GGMLType, _ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let nb = count / type.blockSize
        switch type {
        case .f32: UnsafeMutableRawPointer(y).copyMemory(from: x, byteCount: 4 * count)
        case .f16: for i in 0..<count { y[i] = f16(x, 2 * i) }
        case .bf16: for i in 0..<count { y[i] = HalfFloat.bfloat16ToFloat(u16(x, 2 * i)) }
        case .q4_0: q4_0(x, y, nb)
        case .q4_1: q4_1(x, y, nb)
        case .q5_0: q5_0(x, y, nb)
        case .q5_1: q5_1(x, y, nb)
        case .q8_0: q8_0(x, y, nb)
        case .q2_K: q2_K(x, y, nb)
        case .q3_K: q3_K(x, y, nb)
        case .q4_K: q4_K(x, y, nb)
        case .q5_K: q5_K(x, y, nb)
        case .q6_K: q6_K(x, y, nb)
        case .q8_K: q8_K(x, y, nb)
        default: preconditionFailure("\(type.name) is not supported")
        }
    }

    @inline(__always) static func u16(_ p: UnsafeRawPointer, _ o: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    @inline(__always) static func f16(_ p: UnsafeRawPointer, _ o: Int) -> Float { HalfFloat.toFloat(u16(p, o)) }
    @inline(__always) static func bytes(_ p: UnsafeRawPointer, _ o: Int) -> UnsafePointer<UInt8> {
        (p + o).assumingMemoryBound(to: UInt8.self)
    }

    static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 18, o = y + b * 32
            let d = f16(p, 0), qs = bytes(p, 2)
            for j in 0..<16 {
                o[j] = Float(Int(qs[j] & 0x0F) - 8) * d
                o[j + 16] = Float(Int(qs[j] >> 4) - 8) * d
            }
        }
    }

    static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 20, o = y + b * 32
            let d = f16(p, 0), m = f16(p, 2), qs = bytes(p, 4)
            for j in 0..<16 {
                o[j] = Float(qs[j] & 0x0F) * d + m
                o[j + 16] = Float(qs[j] >> 4) * d + m
            }
        }
    }

    static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 22, o = y + b * 32
            let d = f16(p, 0)
            let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let qs = bytes(p, 6)
            for j in 0..<16 {
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10, h1 = (qh >> UInt32(j + 12)) & 0x10
                o[j] = Float(Int(UInt32(qs[j] & 0x0F) | h0) - 16) * d
                o[j + 16] = Float(Int(UInt32(qs[j] >> 4) | h1) - 16) * d
            }
        }
    }

    static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 24, o = y + b * 32
            let d = f16(p, 0), m = f16(p, 2)
            let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let qs = bytes(p, 8)
            for j in 0..<16 {
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10, h1 = (qh >> UInt32(j + 12)) & 0x10
                o[j] = Float(UInt32(qs[j] & 0x0F) | h0) * d + m
                o[j + 16] = Float(UInt32(qs[j] >> 4) | h1) * d + m
            }
        }
    }

    static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 34, o = y + b * 32
            let d = f16(p, 0), qs = bytes(p, 2)
            for j in 0..<32 { o[j] = Float(Int8(bitPattern: qs[j])) * d }
        }
    }

    static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 84
            var o = y + b * 256
            let scales = bytes(p, 0), d = f16(p, 80), dmin = f16(p, 82)
            var s = 0
            for n in 0..<2 {
                let q = bytes(p, 16 + 32 * n)
                var shift: UInt8 = 0
                for _ in 0..<4 {
                    for half in 0..<2 {
                        let sc = scales[s]; s += 1
                        let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                        for l in 0..<16 { o[l] = dl * Float((q[16 * half + l] >> shift) & 3) - ml }
                        o += 16
                    }
                    shift += 2
                }
            }
        }
    }

    static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        var scale = [Int](repeating: 0, count: 16)
        for b in 0..<nb {
            let p = x + b * 110
            var o = y + b * 256
            let hm = bytes(p, 0), sc = bytes(p, 96), d = f16(p, 108)
            // 16 six-bit scales: low 4 bits from bytes 0-7 (low nibble, then high nibble), high 2 bits
            // from bytes 8-11; stored offset by 32.
            for k in 0..<16 {
                let low = k < 8 ? sc[k] & 0x0F : sc[k - 8] >> 4
                let high = (sc[8 + k % 4] >> UInt8(2 * (k / 4))) & 3
                scale[k] = Int(low | high << 4) - 32
            }
            var s = 0
            var m: UInt32 = 1
            for n in 0..<2 {
                let q = bytes(p, 32 + 32 * n)
                var shift: UInt8 = 0
                for _ in 0..<4 {
                    for half in 0..<2 {
                        let dl = d * Float(scale[s]); s += 1
                        for l in 0..<16 {
                            let i = 16 * half + l
                            let v = Int((q[i] >> shift) & 3) - (UInt32(hm[i]) & m != 0 ? 0 : 4)
                            o[l] = dl * Float(v)
                        }
                        o += 16
                    }
                    shift += 2
                    m <<= 1
                }
            }
        }
    }

    /// Scale and min `j` (0..<8) of a Q4_K/Q5_K block, 6 bits each, packed in 12 bytes.
    @inline(__always) static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (UInt8, UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 144, o = y + b * 256
            let d = f16(p, 0), dmin = f16(p, 2), scales = bytes(p, 4), q = bytes(p, 16)
            for j in 0..<4 {
                let (s1, m1) = scaleMinK4(2 * j, scales), (s2, m2) = scaleMinK4(2 * j + 1, scales)
                let d1 = d * Float(s1), dm1 = dmin * Float(m1), d2 = d * Float(s2), dm2 = dmin * Float(m2)
                let qq = q + 32 * j, oo = o + 64 * j
                for l in 0..<32 { oo[l] = d1 * Float(qq[l] & 0x0F) - dm1 }
                for l in 0..<32 { oo[32 + l] = d2 * Float(qq[l] >> 4) - dm2 }
            }
        }
    }

    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 176, o = y + b * 256
            let d = f16(p, 0), dmin = f16(p, 2), scales = bytes(p, 4), qh = bytes(p, 16), ql = bytes(p, 48)
            for j in 0..<4 {
                let (s1, m1) = scaleMinK4(2 * j, scales), (s2, m2) = scaleMinK4(2 * j + 1, scales)
                let d1 = d * Float(s1), dm1 = dmin * Float(m1), d2 = d * Float(s2), dm2 = dmin * Float(m2)
                let u1 = UInt8(1) << UInt8(2 * j), u2 = UInt8(2) << UInt8(2 * j)
                let qq = ql + 32 * j, oo = o + 64 * j
                for l in 0..<32 { oo[l] = d1 * Float((qq[l] & 0x0F) + (qh[l] & u1 != 0 ? 16 : 0)) - dm1 }
                for l in 0..<32 { oo[32 + l] = d2 * Float((qq[l] >> 4) + (qh[l] & u2 != 0 ? 16 : 0)) - dm2 }
            }
        }
    }

    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 210
            let d = f16(p, 208)
            for n in 0..<2 {
                let ql = bytes(p, 64 * n), qh = bytes(p, 128 + 32 * n)
                let sc = (p + 192 + 8 * n).assumingMemoryBound(to: Int8.self)
                let o = y + b * 256 + 128 * n
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32
                    let q2 = Int((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32
                    let q3 = Int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32
                    let q4 = Int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32
                    o[l] = d * Float(sc[s]) * Float(q1)
                    o[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                    o[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                    o[l + 96] = d * Float(sc[s + 6]) * Float(q4)
                }
            }
        }
    }

    static func q8_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nb: Int) {
        for b in 0..<nb {
            let p = x + b * 292, o = y + b * 256
            let d = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
            let qs = bytes(p, 4)
            for j in 0..<256 { o[j] = Float(Int8(bitPattern: qs[j])) * d }
        }
    }
}
