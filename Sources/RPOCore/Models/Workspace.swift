// The activation arena of CausalLM: one allocation carved into named buffers sized from (config, N, R),
// grown when a larger batch arrives and reused otherwise (no allocation per step).
import Foundation

/// The caches one block keeps for its backward (llm.c's ActivationTensors, per layer).
struct BlockCache {
    var n1, mean1, rstd1: UnsafeMutablePointer<Float>   // norm1 output (N, C), stats (N)
    var qkv: UnsafeMutablePointer<Float>                // (N, QKV) after RoPE
    var att, lse: UnsafeMutablePointer<Float>           // attention output (N, NH hs), log-sum-exp (N, NH)
    var mid: UnsafeMutablePointer<Float>                // sequential blocks: x + attention branch (N, C)
    var n2, mean2, rstd2: UnsafeMutablePointer<Float>   // norm2 output (N, C), stats (N)
    var up, act: UnsafeMutablePointer<Float>            // up projection (N, Up), activation output (N, H)

    var mlp: MLPBuffers { MLPBuffers(mid: mid, n2: n2, mean2: mean2, rstd2: rstd2, up: up, act: act) }
}

/// The buffers of a block's MLP half (CausalLM.mlpHalf), from a BlockCache or a decoding step's scratch.
struct MLPBuffers {
    var mid, n2, mean2, rstd2, up, act: UnsafeMutablePointer<Float>
}

/// Linear.forward or Linear.forwardRows: (out, inp, weight, bias, N, C, OC).
typealias LinearFunction = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                            UnsafePointer<Float>?, Int, Int, Int) -> Void

struct Workspace {
    enum Buf: Int, CaseIterable {
        case proj                       // (N, C) output projection / scratch of the forward
        case xs, ys, fmean, frstd, hlse // scored rows: gathered residual, final-normed, stats, lse (R ...)
        case headScratch                // (chunk, V)
        case dres, dn, dact, dup, datt, dqkv, dys, dxs, seed  // backward
    }

    private var storage: TensorStorage?
    private var bufs = [Int](repeating: 0, count: Buf.allCases.count)
    private(set) var slots: [BlockCache] = []
    private(set) var residuals: [UnsafeMutablePointer<Float>] = []

    func ptr(_ b: Buf) -> UnsafeMutablePointer<Float> { storage!.pointer + bufs[b.rawValue] }

    /// Lays out buffers for a batch of N tokens and R scored rows with `slotCount` block caches and
    /// `residualCount` residual-stream buffers (N, C); backward buffers only when `backward`.
    mutating func prepare(_ c: ModelConfig, N: Int, R: Int, slotCount: Int, residualCount: Int, backward: Bool) {
        let C = c.hiddenSize, H = c.intermediateSize, V = c.vocabSize
        var total = 0
        func take(_ n: Int) -> Int { let o = total; total += (n + 15) / 16 * 16; return o }
        var sizes = [Int](repeating: 0, count: Buf.allCases.count)
        sizes[Buf.proj.rawValue] = N * C
        sizes[Buf.xs.rawValue] = R * C; sizes[Buf.ys.rawValue] = R * C
        sizes[Buf.fmean.rawValue] = R; sizes[Buf.frstd.rawValue] = R; sizes[Buf.hlse.rawValue] = R
        sizes[Buf.headScratch.rawValue] = min(max(R, 1), SequenceLogProb.chunkRows(V: V)) * V
        if backward {
            sizes[Buf.dres.rawValue] = N * C; sizes[Buf.dn.rawValue] = N * C
            sizes[Buf.dact.rawValue] = N * H; sizes[Buf.dup.rawValue] = N * c.upSize
            sizes[Buf.datt.rawValue] = N * c.attnSize; sizes[Buf.dqkv.rawValue] = N * c.qkvSize
            sizes[Buf.dys.rawValue] = R * C; sizes[Buf.dxs.rawValue] = R * C; sizes[Buf.seed.rawValue] = R
        }
        var offs = sizes.map { take($0) }
        let ln = c.norm == .layerNorm
        var slotOffs: [[Int]] = []
        for _ in 0..<slotCount {
            slotOffs.append([take(N * C), ln ? take(N) : 0, take(N), take(N * c.qkvSize), take(N * c.attnSize),
                             take(N * c.numHeads), c.parallelResidual ? 0 : take(N * C), take(N * C),
                             ln ? take(N) : 0, take(N), take(N * c.upSize), take(N * H)])
        }
        let resOffs = (0..<residualCount).map { _ in take(N * C) }
        if storage == nil || storage!.count < total {
            storage = nil
            storage = TensorStorage(count: total, zeroed: false)
        }
        swap(&offs, &bufs)
        let base = storage!.pointer
        slots = slotOffs.map { o in
            BlockCache(n1: base + o[0], mean1: base + o[1], rstd1: base + o[2], qkv: base + o[3], att: base + o[4],
                       lse: base + o[5], mid: base + o[6], n2: base + o[7], mean2: base + o[8], rstd2: base + o[9],
                       up: base + o[10], act: base + o[11])
        }
        residuals = resOffs.map { base + $0 }
    }

    /// Floats held by the arena.
    var floatCount: Int { storage?.count ?? 0 }
}
