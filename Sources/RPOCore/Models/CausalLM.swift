// A decoder-only causal LM (GPT-2, GPT-NeoX, Llama family) with forward and backward over flat buffers:
// parameters and gradients in one allocation each (ParameterLayout), activations in one workspace.
// Sequences of a batch are packed back to back (no padding); the model is a list of layer calls per block
// and the backward is that list reversed (llm.c train_gpt2.c gpt2_forward / gpt2_backward).
// Legend: B sequences, N packed tokens, R scored rows, C channels, V vocabulary, NH/KVH heads, hs head
// size, H MLP width, L layers.
import Foundation

/// A sequence to score: tokens at positions >= labelStart are scored (position t's logits predict token
/// t + 1, so token 0 never is), docs/method.md §3.
public struct ScoredSequence: Sendable, Equatable {
    public var inputIds: [Int]
    public var labelStart: Int
    public init(inputIds: [Int], labelStart: Int) { self.inputIds = inputIds; self.labelStart = labelStart }
}

/// A batch in the engine's packed form.
struct PackedBatch {
    var tokens: [Int32] = []      // (N)
    var positions: [Int32] = []   // (N)
    var starts: [Int] = []        // (B)
    var lengths: [Int] = []       // (B)
    var rows: [Int] = []          // (R) packed row whose logits predict a scored token
    var targets: [Int32] = []     // (R)
    var rowSeq: [Int] = []        // (R) sequence of each scored row
    var N: Int { tokens.count }
    var R: Int { rows.count }
    var B: Int { starts.count }
}

public final class CausalLM {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// All parameters, laid out by `layout`.
    public let parameters: TensorStorage
    /// Gradients in the same layout, allocated by the first training step (or `zeroGrad`).
    public private(set) var gradients: TensorStorage?
    /// Keep only each block's input during training and recompute the block in backward.
    public var gradientCheckpointing = false
    /// The GGUF file the model was loaded from: `save(to:)` exports its tokenizer into the directory.
    public var ggufSource: String?

    let layers: [LayerOffsets]
    let embedOffset: Int, posEmbedOffset: Int?, finalNormW: Int, finalNormB: Int?, headOffset: Int
    var rope: RoPETable?
    var ws = Workspace()
    var pending: PackedBatch?

    /// A model with zero parameters (fill them with `load...` or `initializeRandom`).
    public init(config: ModelConfig) {
        self.config = config
        let (p, l) = config.parameterLayout()
        layout = p
        layers = l
        parameters = TensorStorage(count: p.count)
        embedOffset = p.offset("embed")
        posEmbedOffset = p.offsetIfPresent("pos_embed")
        finalNormW = p.offset("final_norm.weight")
        finalNormB = p.offsetIfPresent("final_norm.bias")
        headOffset = config.tiedEmbeddings ? p.offset("embed") : p.offset("lm_head")
        if case .rotary(let theta, let rd) = config.position { rope = RoPETable(rotaryDim: rd, theta: theta) }
    }

    /// Number of parameters (without the arena's alignment padding).
    public var parameterCount: Int { layout.entries.reduce(0) { $0 + $1.count } }

    /// A named view of the parameters (e.g. "layers.0.qkv.weight").
    public func parameter(_ name: String) -> Tensor? {
        layout.entry(name).map { Tensor(storage: parameters, offset: $0.offset, shape: $0.shape) }
    }

    public func gradient(_ name: String) -> Tensor? {
        guard let g = gradients else { return nil }
        return layout.entry(name).map { Tensor(storage: g, offset: $0.offset, shape: $0.shape) }
    }

    /// Sets every gradient to zero (allocating the gradient arena on first use).
    public func zeroGrad() {
        if let g = gradients { g.pointer.update(repeating: 0, count: g.count) } else {
            gradients = TensorStorage(count: layout.count)
        }
    }

    /// Random initialisation (normal-ish weights of scale 0.02, unit norm weights, zero biases): for
    /// benchmarks and tests that need no particular values.
    public func initializeRandom(seed: UInt64) {
        var rng = RNG(seed: seed)
        for e in layout.entries {
            let p = parameters.pointer + e.offset
            let isNorm = e.name.contains("norm")
            for i in 0..<e.count {
                if e.shape.count == 1 { p[i] = isNorm ? 1 : 0 } else {
                    // sum of 4 uniforms: roughly normal, std 0.02
                    var s: Float = 0
                    for _ in 0..<4 { s += rng.nextFloat() - 0.5 }
                    p[i] = s * 0.0346
                }
            }
        }
    }

    /// Frees the activation workspace (it grows to the largest batch seen).
    public func releaseWorkspace() { ws = Workspace(); pending = nil }

    // MARK: - Public entry points

    /// Per-sequence log-probabilities (sums over scored tokens, in Double), no activations kept.
    public func sequenceLogProbs(_ batch: [ScoredSequence]) throws(ModelError) -> [Double] {
        let pb = try pack(batch)
        pending = nil
        return forward(pb, training: false)
    }

    /// The same values as `sequenceLogProbs`, keeping what `backward(dLogProbs:)` needs.
    public func trainingLogProbs(_ batch: [ScoredSequence]) throws(ModelError) -> [Double] {
        let pb = try pack(batch)
        if gradients == nil { zeroGrad() }
        let lp = forward(pb, training: true)
        pending = pb
        return lp
    }

    /// Accumulates into `gradients` the gradient of a loss given dLoss/dLogProb for each sequence of the
    /// last `trainingLogProbs` batch (docs/method.md §3: each sequence's logits are seeded with
    /// dL/dS_n · (onehot - softmax)).
    public func backward(dLogProbs: [Double]) throws(ModelError) {
        guard let pb = pending else { throw .noTrainingForward }
        guard dLogProbs.count == pb.B else {
            throw .invalidBatch("\(dLogProbs.count) gradients for a batch of \(pb.B) sequences")
        }
        if let bad = dLogProbs.firstIndex(where: { !$0.isFinite }) {
            throw .invalidBatch("gradient \(bad) is not finite (\(dLogProbs[bad]))")
        }
        pending = nil
        backwardPass(pb, dLogProbs)
    }

    /// Logits (L x V, row-major) of every position of one sequence, for tests and diagnostics.
    public func logits(_ inputIds: [Int]) throws(ModelError) -> [Float] {
        var pb = try pack([ScoredSequence(inputIds: inputIds, labelStart: inputIds.count)])
        pb.rows = Array(0..<pb.N)
        pb.targets = [Int32](repeating: 0, count: pb.N)
        pb.rowSeq = [Int](repeating: 0, count: pb.N)
        pending = nil
        let V = config.vocabSize, C = config.hiddenSize
        var out = [Float](repeating: 0, count: pb.N * V)
        runTrunk(pb, training: false)
        let P = parameters.pointer
        headNorm(pb)
        out.withUnsafeMutableBufferPointer { o in
            BLAS.sgemm(.none, .transposed, m: pb.N, n: V, k: C, a: ws.ptr(.ys), lda: C, b: P + headOffset, ldb: C,
                       beta: 0, c: o.baseAddress!, ldc: V)
        }
        return out
    }

    // MARK: - Batch

    func pack(_ batch: [ScoredSequence]) throws(ModelError) -> PackedBatch {
        var pb = PackedBatch()
        if batch.isEmpty { throw .invalidBatch("no sequences") }
        for (b, s) in batch.enumerated() {
            let L = s.inputIds.count
            if L == 0 { throw .invalidBatch("sequence \(b) is empty") }
            if s.labelStart < 0 || s.labelStart > L {
                throw .invalidBatch("sequence \(b): label start \(s.labelStart) outside 0...\(L)")
            }
            if L > config.maxPositions {  // learned positions end there; rotary models are not trained beyond
                throw .invalidBatch("sequence \(b) has \(L) tokens; the model has \(config.maxPositions) positions")
            }
            if let w = config.slidingWindow, L > w {
                throw .invalidBatch("sequence \(b) has \(L) tokens, more than the sliding window \(w) (sliding-window attention is not implemented)")
            }
            pb.starts.append(pb.N)
            pb.lengths.append(L)
            for (t, id) in s.inputIds.enumerated() {
                if id < 0 || id >= config.vocabSize {
                    throw .invalidBatch("sequence \(b) token \(t): id \(id) outside the vocabulary (\(config.vocabSize))")
                }
                pb.tokens.append(Int32(id))
                pb.positions.append(Int32(t))
            }
            let first = max(s.labelStart, 1)
            if first < L {
                for p in first..<L {
                    pb.rows.append(pb.starts[b] + p - 1)
                    pb.targets.append(Int32(s.inputIds[p]))
                    pb.rowSeq.append(b)
                }
            }
        }
        if rope != nil { rope!.reserve(pb.lengths.max()!) }
        return pb
    }
}
