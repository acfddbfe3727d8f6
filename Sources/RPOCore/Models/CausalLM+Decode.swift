// Incremental decoding of a CausalLM with a KV cache: `prefill` runs a prompt through the training path's
// blocks (sgemm, Attention.forward) and keeps each layer's keys and values; `step` then advances any set of
// sequence slots by one token each, with the same block as a list of layer calls but batch-invariant
// matrix-vector products (Linear.forwardRows) and attention over the cache (Attention.cachedForward).
// The training path (CausalLM+Forward.swift) is not changed: prefill only calls it.
// Reference: transformers 5.24.0 generate with DynamicCache (GPT2Block, GPTNeoXLayer, LlamaDecoderLayer
// given past_key_values); llama2.c run.c forward(transformer, token, pos).
// Legend as in CausalLM.swift; N rows of a step (one per advancing slot), T cache capacity.
import Foundation

/// Decodes sequences held in the slots of a KV cache: `prefill` a prompt into an empty slot, then `step`
/// any set of slots by one token. Logits are fp32 rows of the vocabulary size.
public final class LMDecoder {
    public let model: CausalLM
    public let cache: KVCache
    /// Rows a step can take (the number of slots).
    public var maxRows: Int { cache.slots }
    var scratch: DecodeScratch

    /// A decoder with `slots` sequence slots of up to `capacity` positions (prompt and generated tokens).
    public init(model: CausalLM, slots: Int, capacity: Int) throws(ModelError) {
        if slots < 1 || capacity < 1 { throw .invalidBatch("a decoder needs at least one slot and one position") }
        let c = model.config
        if capacity > c.maxPositions {
            throw .invalidBatch("\(capacity) positions requested; the model has \(c.maxPositions) positions")
        }
        self.model = model
        cache = KVCache(config: c, slots: slots, capacity: capacity)
        scratch = DecodeScratch(c, rows: slots, capacity: capacity)
        if model.rope != nil { model.rope!.reserve(capacity) }
    }

    /// Runs `tokens` into the empty slot `slot` (positions 0 ..< count) and writes the logits of its last
    /// position to `logits` (V floats).
    public func prefill(slot: Int, tokens: [Int], logits: UnsafeMutablePointer<Float>) throws(ModelError) {
        if slot < 0 || slot >= cache.slots { throw .invalidBatch("slot \(slot) outside 0..<\(cache.slots)") }
        if cache.lengths[slot] != 0 { throw .invalidBatch("prefill into slot \(slot), which holds \(cache.lengths[slot]) positions") }
        if tokens.count > cache.capacity {
            throw .invalidBatch("a prompt of \(tokens.count) tokens does not fit the cache (\(cache.capacity) positions)")
        }
        try model.prefill(tokens, slot: slot, cache: cache, scratch: &scratch, logits: logits)
        cache.lengths[slot] = tokens.count
    }

    /// Appends tokens[n] to slot slots[n] for every n (distinct slots, each holding at least one position)
    /// and writes the logits of each new position to row n of `logits` (N x V).
    public func step(slots: [Int], tokens: [Int], logits: UnsafeMutablePointer<Float>) throws(ModelError) {
        let c = model.config
        if slots.count != tokens.count { throw .invalidBatch("\(slots.count) slots for \(tokens.count) tokens") }
        if slots.isEmpty { return }
        if slots.count > cache.slots { throw .invalidBatch("\(slots.count) rows for \(cache.slots) slots") }
        var seen = Set<Int>()
        for (n, s) in slots.enumerated() {
            if s < 0 || s >= cache.slots { throw .invalidBatch("slot \(s) outside 0..<\(cache.slots)") }
            if !seen.insert(s).inserted { throw .invalidBatch("slot \(s) appears twice in one step") }
            let pos = cache.lengths[s]
            if pos == 0 { throw .invalidBatch("slot \(s) is empty (prefill it first)") }
            if pos >= cache.capacity { throw .invalidBatch("slot \(s) is full (\(cache.capacity) positions)") }
            if pos >= c.maxPositions {
                throw .invalidBatch("position \(pos) is beyond the model's \(c.maxPositions) positions")
            }
            if let w = c.slidingWindow, pos >= w {
                throw .invalidBatch("position \(pos) is beyond the sliding window \(w) (sliding-window attention is not implemented)")
            }
            if tokens[n] < 0 || tokens[n] >= c.vocabSize {
                throw .invalidBatch("row \(n): token \(tokens[n]) outside the vocabulary (\(c.vocabSize))")
            }
        }
        model.decodeStep(slots: slots, tokens: tokens, cache: cache, scratch: &scratch, logits: logits)
        for s in slots { cache.lengths[s] += 1 }
    }
}

/// Activation buffers of a decoding step, sized for `rows` rows and attention over `capacity` positions.
struct DecodeScratch {
    let storage: TensorStorage
    let rows: Int
    var x, y, n1, mean1, rstd1, qkv, att, proj, mid, n2, mean2, rstd2, up, act, scores: UnsafeMutablePointer<Float>

    init(_ c: ModelConfig, rows N: Int, capacity T: Int) {
        let C = c.hiddenSize
        let sizes = [N * C, N * C, N * C, N, N, N * c.qkvSize, N * c.attnSize, N * C, N * C, N * C, N, N,
                     N * c.upSize, N * c.intermediateSize, N * c.numHeads * T]
        let offsets = sizes.reduce(into: [0]) { $0.append($0.last! + ($1 + 15) / 16 * 16) }
        let st = TensorStorage(count: offsets.last!, zeroed: false)
        storage = st
        rows = N
        let p = offsets.map { st.pointer + $0 }
        (x, y, n1, mean1, rstd1, qkv, att) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6])
        (proj, mid, n2, mean2, rstd2, up, act, scores) = (p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14])
    }

    var mlp: MLPBuffers { MLPBuffers(mid: mid, n2: n2, mean2: mean2, rstd2: rstd2, up: up, act: act) }
}

extension CausalLM {
    // MARK: - Prefill

    /// The prompt through the training path's trunk (inference mode); each block's rotated k and v go to
    /// the cache. Then the final norm and the head on the last position.
    func prefill(_ tokens: [Int], slot: Int, cache: KVCache, scratch: inout DecodeScratch,
                 logits: UnsafeMutablePointer<Float>) throws(ModelError) {
        let pb = try pack([ScoredSequence(inputIds: tokens, labelStart: tokens.count)])
        pending = nil
        let c = config, N = pb.N, C = c.hiddenSize, P = parameters.pointer
        ws.prepare(c, N: N, R: 1, slotCount: 1, residualCount: 2, backward: false)
        pb.tokens.withUnsafeBufferPointer { tk in
            pb.positions.withUnsafeBufferPointer { ps in
                Embedding.forward(ws.residuals[0], tokens: tk.baseAddress!, positions: ps.baseAddress!,
                                  wte: P + embedOffset, wpe: posEmbedOffset.map { P + $0 }, N: N, C: C)
            }
        }
        for l in 0..<c.numLayers {
            blockForward(l, ws.slots[0], x: ws.residuals[l % 2], out: ws.residuals[(l + 1) % 2], pb)
            cache.store(layer: l, slot: slot, position: 0, qkv: ws.slots[0].qkv, count: N, NH: c.numHeads)
        }
        let last = ws.residuals[c.numLayers % 2] + (N - 1) * C
        head(scratch: &scratch, last, rows: 1, logits: logits)
    }

    /// logits (rows, V) = lm_head(final_norm(x)) for `rows` residual rows at x.
    func head(scratch s: inout DecodeScratch, _ x: UnsafePointer<Float>, rows N: Int, logits: UnsafeMutablePointer<Float>) {
        let C = config.hiddenSize
        norm(s.n1, mean: s.mean1, rstd: s.rstd1, x, w: finalNormW, b: finalNormB, N: N)
        Linear.forwardRows(logits, s.n1, weight: parameters.pointer + headOffset, bias: nil, N: N, C: C, OC: config.vocabSize)
    }

    // MARK: - Step

    /// One token for each of N slots: the block of CausalLM+Forward.swift with cached attention.
    func decodeStep(slots: [Int], tokens: [Int], cache: KVCache, scratch s: inout DecodeScratch,
                    logits: UnsafeMutablePointer<Float>) {
        let c = config, P = parameters.pointer, N = slots.count
        let C = c.hiddenSize, A = c.attnSize, QKV = c.qkvSize
        let positions = slots.map { Int32(cache.lengths[$0]) }
        let lengths = slots.map { cache.lengths[$0] + 1 }
        let tk = tokens.map { Int32($0) }
        tk.withUnsafeBufferPointer { tkb in
            positions.withUnsafeBufferPointer { ps in
                Embedding.forward(s.x, tokens: tkb.baseAddress!, positions: ps.baseAddress!,
                                  wte: P + embedOffset, wpe: posEmbedOffset.map { P + $0 }, N: N, C: C)
            }
        }
        var x = s.x, out = s.y
        for l in 0..<c.numLayers {
            let w = layers[l]
            // HF: hidden = input_layernorm(x); q, k, v = q_proj(hidden), k_proj(hidden), v_proj(hidden)
            norm(s.n1, mean: s.mean1, rstd: s.rstd1, x, w: w.norm1W, b: w.norm1B, N: N)
            Linear.forwardRows(s.qkv, s.n1, weight: P + w.qkvW, bias: w.qkvB.map { P + $0 }, N: N, C: C, OC: QKV)
            if let rope {
                positions.withUnsafeBufferPointer { ps in
                    RoPE.forward(s.qkv, rowStride: QKV, positions: ps.baseAddress!, table: rope, N: N, NH: c.numHeads, hs: c.headDim)
                    RoPE.forward(s.qkv + A, rowStride: QKV, positions: ps.baseAddress!, table: rope, N: N, NH: c.numKVHeads, hs: c.headDim)
                }
            }
            // HF: key_states, value_states = past_key_values.update(key_states, value_states, layer_idx)
            for n in 0..<N {
                cache.store(layer: l, slot: slots[n], position: Int(positions[n]), qkv: s.qkv + n * QKV, count: 1, NH: c.numHeads)
            }
            Attention.cachedForward(s.att, s.qkv, keys: cache.keys(l), values: cache.values(l), slots: slots,
                                    lengths: lengths, T: cache.capacity, scores: s.scores,
                                    NH: c.numHeads, KVH: c.numKVHeads, hs: c.headDim, scale: c.attentionScale)
            Linear.forwardRows(s.proj, s.att, weight: P + w.outW, bias: w.outB.map { P + $0 }, N: N, C: A, OC: C)
            mlpHalf(w, x: x, proj: s.proj, out: out, s.mlp, N: N, linear: Linear.forwardRows)
            swap(&x, &out)
        }
        head(scratch: &s, x, rows: N, logits: logits)
    }
}
