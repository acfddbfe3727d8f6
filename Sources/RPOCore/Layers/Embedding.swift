// Token embedding plus optional learned position embedding (GPT-2's wte + wpe), forward and backward.
// Reference: llm.c train_gpt2.c encoder_forward / encoder_backward; HF GPT2Model.forward (inputs_embeds +
// position_embeds). Legend: N packed tokens (all sequences back to back), C channels, V vocabulary.

public enum Embedding {
    /// out[n, :] = wte[tokens[n], :] (+ wpe[positions[n], :]). out (N, C), wte (V, C), wpe (P, C).
    public static func forward(_ out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                               positions: UnsafePointer<Int32>, wte: UnsafePointer<Float>,
                               wpe: UnsafePointer<Float>?, N: Int, C: Int) {
        Parallel.forRanges(N, costPerItem: C, minWork: 1 << 16) { r in
            for n in r {
                let o = out + n * C, t = wte + Int(tokens[n]) * C
                if let wpe {
                    let p = wpe + Int(positions[n]) * C
                    for c in 0..<C { o[c] = t[c] + p[c] }
                } else {
                    o.update(from: t, count: C)
                }
            }
        }
    }

    /// dwte[tokens[n], :] += dout[n, :] (and dwpe[positions[n], :] += dout[n, :]). Split over channel
    /// ranges, so no two threads touch the same element and the sums run in token order (deterministic).
    public static func backward(dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
                                positions: UnsafePointer<Int32>, N: Int, C: Int) {
        Parallel.forRanges(C, costPerItem: N, minWork: 1 << 16) { cr in
            for n in 0..<N {
                let d = dout + n * C, t = dwte + Int(tokens[n]) * C
                for c in cr { t[c] += d[c] }
                if let dwpe {
                    let p = dwpe + Int(positions[n]) * C
                    for c in cr { p[c] += d[c] }
                }
            }
        }
    }
}
