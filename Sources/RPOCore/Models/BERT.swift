// The BERT encoder (HF BertModel without its pooler), forward only, on packed sequences: embeddings (word +
// absolute position + token type, LayerNorm), then post-LN layers x = LN(x + attn(x)), x = LN(x + ffn(x)).
// The dense layers run on the tokens of all sequences at once (one sgemm per projection, q/k/v fused);
// attention runs per sequence, so there is no padding anywhere.
// Reference: transformers 5.24.0 models/bert/modeling_bert.py (BertEmbeddings, BertLayer, BertSelfOutput,
// BertIntermediate, BertOutput). Legend: N packed tokens, C hidden, I intermediate, NH heads, hs head size.
import Foundation

public final class BERTModel: @unchecked Sendable {
    public let config: BERTConfig
    /// Every parameter in one allocation, carved by `Layout`.
    let parameters: TensorStorage
    let layout: Layout

    /// Offsets of the named parameters in `parameters` (llm.c's size table and pointer walk).
    struct Layout {
        var wte = 0, wpe = 0, wtt = 0, lnEw = 0, lnEb = 0   // (V, C) (P, C) (TV, C) (C) (C)
        var layers: [LayerOffsets] = []
        var total = 0

        struct LayerOffsets {
            var wqkv = 0, bqkv = 0    // (3C, C) query rows, then key, then value; (3C)
            var wo = 0, bo = 0        // attention output dense (C, C), (C)
            var ln1w = 0, ln1b = 0    // attention.output.LayerNorm (C)
            var wup = 0, bup = 0      // intermediate.dense (I, C), (I)
            var wdown = 0, bdown = 0  // output.dense (C, I), (C)
            var ln2w = 0, ln2b = 0    // output.LayerNorm (C)
        }

        init(_ c: BERTConfig) {
            let C = c.hiddenSize, I = c.intermediateSize
            func take(_ n: Int) -> Int { let o = total; total += (n + 15) / 16 * 16; return o }
            wte = take(c.vocabSize * C); wpe = take(c.maxPositions * C); wtt = take(c.typeVocabSize * C)
            lnEw = take(C); lnEb = take(C)
            for _ in 0..<c.numLayers {
                var l = LayerOffsets()
                l.wqkv = take(3 * C * C); l.bqkv = take(3 * C); l.wo = take(C * C); l.bo = take(C)
                l.ln1w = take(C); l.ln1b = take(C); l.wup = take(I * C); l.bup = take(I)
                l.wdown = take(C * I); l.bdown = take(C); l.ln2w = take(C); l.ln2b = take(C)
                layers.append(l)
            }
        }
    }

    /// A model with zeroed parameters (fill them with `load(from:)`).
    public init(config: BERTConfig) {
        self.config = config
        layout = Layout(config)
        parameters = TensorStorage(count: layout.total)
    }

    var base: UnsafeMutablePointer<Float> { parameters.pointer }

    /// Parameter count (the HF tensors of the encoder, pooler excluded).
    public var parameterCount: Int { hfTensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    // MARK: - Forward

    /// Runs the encoder over `B` packed sequences (tokens back to back, sequence b starting at starts[b]),
    /// leaving the last hidden state (N, C) in `ws.hidden`. Single-threaded unless OpenBLAS and `Parallel`
    /// are configured for more. `ws` must have been prepared for at least N tokens and max(lengths).
    public func forward(_ ws: BERTWorkspace, tokens: UnsafePointer<Int32>, starts: UnsafePointer<Int>,
                        lengths: UnsafePointer<Int>, count B: Int) {
        let c = config, C = c.hiddenSize, I = c.intermediateSize, NH = c.numHeads, hs = c.headDim
        var N = 0
        for b in 0..<B {
            precondition(starts[b] == N && lengths[b] <= c.maxPositions, "sequences must be packed and fit the positions")
            for t in 0..<lengths[b] { ws.positions[N + t] = Int32(t) }
            N += lengths[b]
        }
        precondition(N <= ws.tokenCapacity, "workspace too small")
        if N == 0 { return }
        let p = base, x = ws.hidden
        // HF: embeddings = LayerNorm(word_embeddings(ids) + position_embeddings(pos) + token_type_embeddings(0))
        Embedding.forward(x, tokens: tokens, positions: ws.positions, wte: p + layout.wte, wpe: p + layout.wpe, N: N, C: C)
        BERTKernels.addLayerNorm(x, adding: p + layout.wtt, addStride: 0, weight: p + layout.lnEw, bias: p + layout.lnEb,
                                 N: N, C: C, eps: c.layerNormEps)
        let scale = 1 / Float(hs).squareRoot()
        for l in layout.layers {
            // HF: q, k, v = query(x), key(x), value(x) (one fused projection)
            Linear.forward(ws.qkv, x, weight: p + l.wqkv, bias: p + l.bqkv, N: N, C: C, OC: 3 * C)
            BERTAttention.forward(ws.att, ws.qkv, starts: starts, lengths: lengths, count: B, NH: NH, hs: hs,
                                  scale: scale, scores: ws.scores)
            // HF BertSelfOutput: LayerNorm(dense(context) + x), the dense layer's bias added in the norm's pass
            Linear.forward(ws.tmp, ws.att, weight: p + l.wo, bias: nil, N: N, C: C, OC: C)
            BERTKernels.addLayerNorm(x, adding: ws.tmp, addStride: C, addBias: p + l.bo, weight: p + l.ln1w,
                                     bias: p + l.ln1b, N: N, C: C, eps: c.layerNormEps)
            // HF BertIntermediate: act(dense(x)); BertOutput: LayerNorm(dense(h) + x)
            Linear.forward(ws.ffn, x, weight: p + l.wup, bias: nil, N: N, C: C, OC: I)
            BERTKernels.activate(ws.ffn, bias: p + l.bup, N: N, C: I, c.activation)
            Linear.forward(ws.tmp, ws.ffn, weight: p + l.wdown, bias: nil, N: N, C: I, OC: C)
            BERTKernels.addLayerNorm(x, adding: ws.tmp, addStride: C, addBias: p + l.bdown, weight: p + l.ln2w,
                                     bias: p + l.ln2b, N: N, C: C, eps: c.layerNormEps)
        }
    }

    // MARK: - Loading

    /// One checkpoint tensor: its HF name (without the "bert." prefix), shape, and where its rows go.
    struct HFTensor {
        let name: String
        let shape: [Int]
        let offset: Int
    }

    /// The encoder's HF tensors in checkpoint order (q/k/v land in consecutive rows of the fused weight).
    var hfTensors: [HFTensor] { BERTModel.tensors(config, layout) }

    static func tensors(_ c: BERTConfig, _ layout: Layout) -> [HFTensor] {
        let C = c.hiddenSize, I = c.intermediateSize
        var t = [
            HFTensor(name: "embeddings.word_embeddings.weight", shape: [c.vocabSize, C], offset: layout.wte),
            HFTensor(name: "embeddings.position_embeddings.weight", shape: [c.maxPositions, C], offset: layout.wpe),
            HFTensor(name: "embeddings.token_type_embeddings.weight", shape: [c.typeVocabSize, C], offset: layout.wtt),
            HFTensor(name: "embeddings.LayerNorm.weight", shape: [C], offset: layout.lnEw),
            HFTensor(name: "embeddings.LayerNorm.bias", shape: [C], offset: layout.lnEb),
        ]
        for (i, l) in layout.layers.enumerated() {
            let pre = "encoder.layer.\(i)."
            for (k, part) in ["query", "key", "value"].enumerated() {
                t.append(HFTensor(name: pre + "attention.self.\(part).weight", shape: [C, C], offset: l.wqkv + k * C * C))
                t.append(HFTensor(name: pre + "attention.self.\(part).bias", shape: [C], offset: l.bqkv + k * C))
            }
            t += [
                HFTensor(name: pre + "attention.output.dense.weight", shape: [C, C], offset: l.wo),
                HFTensor(name: pre + "attention.output.dense.bias", shape: [C], offset: l.bo),
                HFTensor(name: pre + "attention.output.LayerNorm.weight", shape: [C], offset: l.ln1w),
                HFTensor(name: pre + "attention.output.LayerNorm.bias", shape: [C], offset: l.ln1b),
                HFTensor(name: pre + "intermediate.dense.weight", shape: [I, C], offset: l.wup),
                HFTensor(name: pre + "intermediate.dense.bias", shape: [I], offset: l.bup),
                HFTensor(name: pre + "output.dense.weight", shape: [C, I], offset: l.wdown),
                HFTensor(name: pre + "output.dense.bias", shape: [C], offset: l.bdown),
                HFTensor(name: pre + "output.LayerNorm.weight", shape: [C], offset: l.ln2w),
                HFTensor(name: pre + "output.LayerNorm.bias", shape: [C], offset: l.ln2b),
            ]
        }
        return t
    }

    /// Checks, before a model of `config` is allocated, that `ckpt` holds every tensor of the encoder with the
    /// shape config.json implies: sizes the weights do not bear out are an error, not an allocation.
    public static func checkTensors(_ config: BERTConfig, in ckpt: SafetensorsCheckpoint) throws {
        _ = try checkpointNames(tensors(config, Layout(config)), in: ckpt)
    }

    /// The checkpoint name of each table tensor (with or without the "bert." prefix, LayerNorm parameters also
    /// under their TF names gamma/beta), each checked for presence and shape.
    static func checkpointNames(_ table: [HFTensor], in ckpt: SafetensorsCheckpoint) throws -> [String] {
        let names = Set(ckpt.names)
        let prefix = names.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        return try table.map { t in
            var candidates = [prefix + t.name]
            if t.name.hasSuffix("LayerNorm.weight") { candidates.append(prefix + t.name.dropLast(6) + "gamma") }
            if t.name.hasSuffix("LayerNorm.bias") { candidates.append(prefix + t.name.dropLast(4) + "beta") }
            guard let n = candidates.first(where: { names.contains($0) }) else {
                throw BERTError(ckpt.path, "missing tensor \"\(prefix + t.name)\"")
            }
            let info = try ckpt.info(n)
            if info.shape != t.shape {
                throw BERTError(ckpt.path, "tensor \"\(n)\" has shape \(info.shape), config.json implies \(t.shape)")
            }
            return n
        }
    }

    /// Checkpoint tensors that are not part of the encoder and are left out on purpose: the pooler (which
    /// sentence-transformers does not use), task heads, and the position-id buffer.
    static func isIgnorable(_ name: String) -> Bool {
        let n = name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name
        return n.hasPrefix("pooler.") || n == "embeddings.position_ids" || name.hasPrefix("cls.")
            || name.hasPrefix("classifier.") || name.hasPrefix("qa_outputs.")
    }

    /// Fills the parameters from a checkpoint holding BertModel's tensors, with or without the "bert."
    /// prefix (BertForMaskedLM and friends), LayerNorm parameters also under their TF names gamma/beta.
    /// A missing tensor, a wrong shape, a non-float dtype or a tensor the encoder does not know is an error.
    public func load(from ckpt: SafetensorsCheckpoint) throws {
        var used = Set<String>()
        let table = hfTensors
        let names = try BERTModel.checkpointNames(table, in: ckpt)
        for (t, n) in zip(table, names) {
            try ckpt.read(n, into: UnsafeMutableBufferPointer(start: base + t.offset, count: t.shape.reduce(1, *)))
            used.insert(n)
        }
        for n in ckpt.names where !used.contains(n) && !BERTModel.isIgnorable(n) {
            throw BERTError(ckpt.path, "unexpected tensor \"\(n)\" (not part of a BERT encoder)")
        }
    }
}

/// Activation buffers of one forward over up to `tokenCapacity` tokens and sequences of up to
/// `lengthCapacity` tokens: one allocation, reused across calls (each worker thread owns one).
public final class BERTWorkspace: @unchecked Sendable {
    public let tokenCapacity: Int
    public let lengthCapacity: Int
    let storage: TensorStorage
    let positionStorage: UnsafeMutablePointer<Int32>
    /// The residual stream, and after `forward` the last hidden state (N, C).
    public let hidden: UnsafeMutablePointer<Float>
    let qkv, att, tmp, ffn, scores: UnsafeMutablePointer<Float>
    var positions: UnsafeMutablePointer<Int32> { positionStorage }

    public init(config c: BERTConfig, tokens: Int, maxLength: Int) {
        tokenCapacity = tokens; lengthCapacity = maxLength
        let C = c.hiddenSize, I = c.intermediateSize
        var total = 0
        func take(_ n: Int) -> Int { let o = total; total += (n + 15) / 16 * 16; return o }
        let o = [take(tokens * C), take(tokens * 3 * C), take(tokens * C), take(tokens * C), take(tokens * I),
                 take(maxLength * maxLength)]
        storage = TensorStorage(count: total, zeroed: false)
        let p = storage.pointer
        hidden = p + o[0]; qkv = p + o[1]; att = p + o[2]; tmp = p + o[3]; ffn = p + o[4]; scores = p + o[5]
        positionStorage = .allocate(capacity: max(tokens, 1))
        self.tokens = .allocate(capacity: max(tokens, 1))
        sequenceCapacity = 64
        starts = .allocate(capacity: sequenceCapacity); lengths = .allocate(capacity: sequenceCapacity)
    }

    /// Packed token ids, and the start and length of each sequence, of the chunk being run.
    public let tokens: UnsafeMutablePointer<Int32>
    public private(set) var starts: UnsafeMutablePointer<Int>
    public private(set) var lengths: UnsafeMutablePointer<Int>
    private var sequenceCapacity: Int

    /// Makes room for `n` sequences in `starts` and `lengths`.
    public func reserveSequences(_ n: Int) {
        if n <= sequenceCapacity { return }
        starts.deallocate(); lengths.deallocate()
        sequenceCapacity = max(n, 2 * sequenceCapacity)
        starts = .allocate(capacity: sequenceCapacity); lengths = .allocate(capacity: sequenceCapacity)
    }

    deinit {
        positionStorage.deallocate(); tokens.deallocate(); starts.deallocate(); lengths.deallocate()
    }

    /// Floats held (for memory reports).
    public var floatCount: Int { storage.count }
}
