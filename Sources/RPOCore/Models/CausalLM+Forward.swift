// CausalLM forward and backward: the block as a list of layer calls, the head, and the reverse pass.
// Reference (per architecture): transformers 5.24.0 GPT2Block, GPTNeoXLayer, LlamaDecoderLayer.
// Legend as in CausalLM.swift.
import Foundation

extension CausalLM {
    // MARK: - Forward

    /// Runs the blocks and the log-prob head; returns the per-sequence sums.
    func forward(_ pb: PackedBatch, training: Bool) -> [Double] {
        runTrunk(pb, training: training)
        headNorm(pb)
        let C = config.hiddenSize, V = config.vocabSize, P = parameters.pointer
        var sums = [Double](repeating: 0, count: pb.B)
        let lse = ws.ptr(.hlse), ys = ws.ptr(.ys), scratch = ws.ptr(.headScratch)
        var logprob = [Double](repeating: 0, count: pb.R)
        pb.targets.withUnsafeBufferPointer { tg in
            logprob.withUnsafeMutableBufferPointer { lp in
                SequenceLogProb.forward(logprob: lp.baseAddress!, lse: lse, ys, weight: P + headOffset,
                                        targets: tg.baseAddress!, scratch: scratch, R: pb.R, C: C, V: V)
            }
        }
        for r in 0..<pb.R { sums[pb.rowSeq[r]] += logprob[r] }
        return sums
    }

    /// Embedding and every block. Training keeps each block's cache (or, with checkpointing, each block's
    /// input only); inference ping-pongs two residual buffers through one cache slot.
    func runTrunk(_ pb: PackedBatch, training: Bool) {
        let L = config.numLayers
        let keepAll = training && !gradientCheckpointing
        ws.prepare(config, N: pb.N, R: max(pb.R, 0), slotCount: keepAll ? L : 1,
                   residualCount: training ? L + 1 : 2, backward: training)
        let P = parameters.pointer
        pb.tokens.withUnsafeBufferPointer { tk in
            pb.positions.withUnsafeBufferPointer { ps in
                Embedding.forward(ws.residuals[0], tokens: tk.baseAddress!, positions: ps.baseAddress!,
                                  wte: P + embedOffset, wpe: posEmbedOffset.map { P + $0 }, N: pb.N, C: config.hiddenSize)
            }
        }
        for l in 0..<L {
            let x = training ? ws.residuals[l] : ws.residuals[l % 2]
            let out = training ? ws.residuals[l + 1] : ws.residuals[(l + 1) % 2]
            blockForward(l, ws.slots[keepAll ? l : 0], x: x, out: out, pb)
        }
    }

    /// The residual stream after the last block.
    var lastResidual: UnsafeMutablePointer<Float> {
        ws.residuals.count == config.numLayers + 1 ? ws.residuals[config.numLayers] : ws.residuals[config.numLayers % 2]
    }

    /// Gathers the scored rows of the last residual and applies the final norm: xs -> ys.
    func headNorm(_ pb: PackedBatch) {
        let C = config.hiddenSize
        let xL = lastResidual, xs = ws.ptr(.xs)
        for (r, n) in pb.rows.enumerated() { (xs + r * C).update(from: xL + n * C, count: C) }
        norm(ws.ptr(.ys), mean: ws.ptr(.fmean), rstd: ws.ptr(.frstd), xs, w: finalNormW, b: finalNormB, N: pb.R)
    }

    func norm(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
              _ x: UnsafePointer<Float>, w: Int, b: Int?, N: Int) {
        let P = parameters.pointer, C = config.hiddenSize, eps = config.normEps
        switch config.norm {
        case .layerNorm:
            LayerNorm.forward(out, mean: mean, rstd: rstd, x, weight: P + w, bias: P + b!, N: N, C: C, eps: eps)
        case .rmsNorm:
            RMSNorm.forward(out, rstd: rstd, x, weight: P + w, N: N, C: C, eps: eps)
        }
    }

    func normBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                      mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, w: Int, b: Int?, N: Int) {
        let P = parameters.pointer, G = gradients!.pointer, C = config.hiddenSize
        switch config.norm {
        case .layerNorm:
            LayerNorm.backward(dinp: dinp, dweight: G + w, dbias: G + b!, dout: dout, x, weight: P + w,
                               mean: mean, rstd: rstd, N: N, C: C)
        case .rmsNorm:
            RMSNorm.backward(dinp: dinp, dweight: G + w, dout: dout, x, weight: P + w, rstd: rstd, N: N, C: C)
        }
    }

    /// One block: out = block(x), caches in `s`.
    func blockForward(_ l: Int, _ s: BlockCache, x: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
                      _ pb: PackedBatch) {
        let c = config, w = layers[l], P = parameters.pointer
        let N = pb.N, C = c.hiddenSize, A = c.attnSize, QKV = c.qkvSize
        // HF: hidden = input_layernorm(x); q, k, v = q_proj(hidden), k_proj(hidden), v_proj(hidden)
        norm(s.n1, mean: s.mean1, rstd: s.rstd1, x, w: w.norm1W, b: w.norm1B, N: N)
        Linear.forward(s.qkv, s.n1, weight: P + w.qkvW, bias: w.qkvB.map { P + $0 }, N: N, C: C, OC: QKV)
        if let rope {
            // HF: query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
            pb.positions.withUnsafeBufferPointer { ps in
                RoPE.forward(s.qkv, rowStride: QKV, positions: ps.baseAddress!, table: rope, N: N, NH: c.numHeads, hs: c.headDim)
                RoPE.forward(s.qkv + A, rowStride: QKV, positions: ps.baseAddress!, table: rope, N: N, NH: c.numKVHeads, hs: c.headDim)
            }
        }
        Attention.forward(s.att, lse: s.lse, s.qkv, starts: pb.starts, lengths: pb.lengths,
                          NH: c.numHeads, KVH: c.numKVHeads, hs: c.headDim, scale: c.attentionScale)
        let proj = ws.ptr(.proj)
        Linear.forward(proj, s.att, weight: P + w.outW, bias: w.outB.map { P + $0 }, N: N, C: A, OC: C)
        mlpHalf(w, x: x, proj: proj, out: out, s.mlp, N: N, linear: Linear.forward)
    }

    /// The block's second half, shared by the training forward and decoding: out = the residual with the
    /// attention output `proj`, the post-attention norm (stats kept for the backward), the MLP and the
    /// second residual. `linear`: Linear.forward (sgemm) or, decoding, Linear.forwardRows (batch-invariant).
    func mlpHalf(_ w: LayerOffsets, x: UnsafeMutablePointer<Float>, proj: UnsafeMutablePointer<Float>,
                 out: UnsafeMutablePointer<Float>, _ s: MLPBuffers, N: Int, linear: LinearFunction) {
        let c = config, P = parameters.pointer, C = c.hiddenSize, H = c.intermediateSize
        let mlpIn: UnsafeMutablePointer<Float>
        if c.parallelResidual {
            mlpIn = x  // NeoX: mlp(post_attention_layernorm(x)) + attn + x
        } else {
            Kernels.add(s.mid, x, proj, count: N * C)  // HF: hidden = residual + attn_output
            mlpIn = s.mid
        }
        norm(s.n2, mean: s.mean2, rstd: s.rstd2, mlpIn, w: w.norm2W, b: w.norm2B, N: N)
        linear(s.up, s.n2, P + w.upW, w.upB.map { P + $0 }, N, C, c.upSize)
        switch c.mlp {
        case .gelu(let kind): GELU.forward(s.act, s.up, count: N * H, kind: kind)
        case .swiglu: SwiGLU.forward(s.act, s.up, N: N, H: H)
        }
        linear(out, s.act, P + w.downW, w.downB.map { P + $0 }, N, H, C)
        if c.parallelResidual {
            let n = N * C
            Parallel.forRanges(n, minWork: 1 << 17) { r in for i in r { out[i] += proj[i] + x[i] } }
        } else {
            Kernels.addInPlace(out, s.mid, count: N * C)  // HF: hidden = residual + mlp_output
        }
    }

    // MARK: - Backward

    func backwardPass(_ pb: PackedBatch, _ dLogProbs: [Double]) {
        let c = config, C = c.hiddenSize, V = c.vocabSize, N = pb.N, R = pb.R
        let P = parameters.pointer, G = gradients!.pointer
        let dres = ws.ptr(.dres)
        dres.update(repeating: 0, count: N * C)
        if R > 0 {
            // Head: seed each scored row with dL/dS of its sequence, back through lm_head and the final norm.
            let seed = ws.ptr(.seed)
            for r in 0..<R { seed[r] = Float(dLogProbs[pb.rowSeq[r]]) }
            pb.targets.withUnsafeBufferPointer { tg in
                SequenceLogProb.backward(dx: ws.ptr(.dys), dweight: G + headOffset, seed: seed, ws.ptr(.ys),
                                         weight: P + headOffset, targets: tg.baseAddress!, lse: ws.ptr(.hlse),
                                         scratch: ws.ptr(.headScratch), R: R, C: C, V: V)
            }
            let dxs = ws.ptr(.dxs)
            dxs.update(repeating: 0, count: R * C)
            normBackward(dinp: dxs, dout: ws.ptr(.dys), ws.ptr(.xs), mean: ws.ptr(.fmean), rstd: ws.ptr(.frstd),
                         w: finalNormW, b: finalNormB, N: R)
            for (r, n) in pb.rows.enumerated() {
                let d = dres + n * C, s = dxs + r * C
                for i in 0..<C { d[i] += s[i] }
            }
        }
        // "go in the reverse order of the forward pass"
        for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
            let x = ws.residuals[l]
            let s: BlockCache
            if gradientCheckpointing {
                s = ws.slots[0]
                blockForward(l, s, x: x, out: ws.ptr(.dn), pb)  // recompute the caches; the output is not needed
            } else {
                s = ws.slots[l]
            }
            blockBackward(l, s, x: x, pb)
        }
        pb.tokens.withUnsafeBufferPointer { tk in
            pb.positions.withUnsafeBufferPointer { ps in
                Embedding.backward(dwte: G + embedOffset, dwpe: posEmbedOffset.map { G + $0 }, dout: dres,
                                   tokens: tk.baseAddress!, positions: ps.baseAddress!, N: N, C: C)
            }
        }
    }

    /// dres holds dL/d(block output) on entry and dL/d(block input) on exit; parameter gradients accumulate.
    func blockBackward(_ l: Int, _ s: BlockCache, x: UnsafeMutablePointer<Float>, _ pb: PackedBatch) {
        let c = config, w = layers[l], P = parameters.pointer, G = gradients!.pointer
        let N = pb.N, C = c.hiddenSize, H = c.intermediateSize, A = c.attnSize, QKV = c.qkvSize
        let dres = ws.ptr(.dres), dn = ws.ptr(.dn), dact = ws.ptr(.dact), dup = ws.ptr(.dup)
        let datt = ws.ptr(.datt), dqkv = ws.ptr(.dqkv)
        // out = mid + down(act)   (parallel: out = x + proj + down(act))
        Linear.backward(dinp: dact, dweight: G + w.downW, dbias: w.downB.map { G + $0 }, dout: dres, s.act,
                        weight: P + w.downW, N: N, C: H, OC: C)
        if c.parallelResidual {
            // proj = out(att) sees the same dout as the MLP branch: take it before dres changes.
            Linear.backward(dinp: datt, dweight: G + w.outW, dbias: w.outB.map { G + $0 }, dout: dres, s.att,
                            weight: P + w.outW, N: N, C: A, OC: C)
        }
        // act = gelu(up) | silu(gate) * up
        switch c.mlp {
        case .gelu(let kind): GELU.backward(dinp: dup, dout: dact, s.up, count: N * H, kind: kind)
        case .swiglu: SwiGLU.backward(dinp: dup, dout: dact, s.up, N: N, H: H)
        }
        // up = n2 Wupᵀ + b;  n2 = norm2(mlpIn)
        Linear.backward(dinp: dn, dweight: G + w.upW, dbias: w.upB.map { G + $0 }, dout: dup, s.n2,
                        weight: P + w.upW, N: N, C: C, OC: c.upSize)
        normBackward(dinp: dres, dout: dn, c.parallelResidual ? x : s.mid, mean: s.mean2, rstd: s.rstd2,
                     w: w.norm2W, b: w.norm2B, N: N)
        if !c.parallelResidual {
            // mid = x + out(att): dres is now dL/dmid
            Linear.backward(dinp: datt, dweight: G + w.outW, dbias: w.outB.map { G + $0 }, dout: dres, s.att,
                            weight: P + w.outW, N: N, C: A, OC: C)
        }
        dqkv.update(repeating: 0, count: N * QKV)
        Attention.backward(dqkv: dqkv, dout: datt, s.qkv, lse: s.lse, starts: pb.starts, lengths: pb.lengths,
                           NH: c.numHeads, KVH: c.numKVHeads, hs: c.headDim, scale: c.attentionScale)
        if let rope {
            pb.positions.withUnsafeBufferPointer { ps in
                RoPE.backward(dqkv, rowStride: QKV, positions: ps.baseAddress!, table: rope, N: N, NH: c.numHeads, hs: c.headDim)
                RoPE.backward(dqkv + A, rowStride: QKV, positions: ps.baseAddress!, table: rope, N: N, NH: c.numKVHeads, hs: c.headDim)
            }
        }
        Linear.backward(dinp: dn, dweight: G + w.qkvW, dbias: w.qkvB.map { G + $0 }, dout: dqkv, s.n1,
                        weight: P + w.qkvW, N: N, C: C, OC: QKV)
        normBackward(dinp: dres, dout: dn, x, mean: s.mean1, rstd: s.rstd1, w: w.norm1W, b: w.norm1B, N: N)
    }
}
