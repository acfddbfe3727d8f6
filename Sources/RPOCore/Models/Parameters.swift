// Parameters of a model in ONE flat fp32 allocation: a size table of named tensors (llm.c's
// fill_in_parameter_sizes / malloc_and_point_parameters), so optimizers are one flat loop and checkpoints
// save and restore one buffer. Gradients use the same layout in a second allocation.
// HFTensor maps a Hugging Face checkpoint tensor onto rows of an arena tensor, with its layout change.
import Foundation

/// The named tensors of the arena, each at a 64-byte aligned offset.
public struct ParameterLayout: Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    var index: [String: Int] = [:]
    /// Floats in the arena, padding included.
    public private(set) var count = 0

    mutating func add(_ name: String, _ shape: [Int]) {
        precondition(index[name] == nil, "duplicate parameter \(name)")
        index[name] = entries.count
        entries.append(Entry(name: name, shape: shape, offset: count))
        count += (shape.reduce(1, *) + 15) / 16 * 16
    }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Offset of a tensor the architecture always has (an internal invariant).
    func offset(_ name: String) -> Int {
        guard let e = entry(name) else { preconditionFailure("no parameter \(name)") }
        return e.offset
    }

    func offsetIfPresent(_ name: String) -> Int? { entry(name)?.offset }
}

/// One tensor of a HF checkpoint: its name and shape there, the arena tensor it fills (from row `row` on),
/// and how its elements are laid out relative to the arena.
package struct HFTensor: Sendable {
    package enum Transform: Sendable, Equatable {
        /// Same layout: the rows land contiguously.
        case copy
        /// GPT-2 Conv1D: the checkpoint holds (in, out), the arena (out, in).
        case transpose
        /// GPT-NeoX query_key_value: checkpoint rows ordered (head, q|k|v, j), arena rows (q|k|v, head, j).
        case neoxQKV(heads: Int, headDim: Int)
    }

    package let name: String
    package let shape: [Int]
    package let target: String
    package let row: Int
    package let transform: Transform

    package init(_ name: String, _ shape: [Int], _ target: String, row: Int = 0, transform: Transform = .copy) {
        self.name = name; self.shape = shape; self.target = target; self.row = row; self.transform = transform
    }

    package var count: Int { shape.reduce(1, *) }

    /// Copies checkpoint data `src` (row-major in the checkpoint's shape) into the arena at `base`.
    package func place(_ src: UnsafePointer<Float>, into base: UnsafeMutablePointer<Float>, layout: ParameterLayout) {
        let e = layout.entry(target)!
        let cols = e.shape.count == 2 ? e.shape[1] : 1
        let dst = base + e.offset + row * cols
        switch transform {
        case .copy:
            dst.update(from: src, count: count)
        case .transpose:
            let a = shape[0], b = shape[1]
            for i in 0..<a { for j in 0..<b { dst[j * a + i] = src[i * b + j] } }
        case .neoxQKV(let nh, let hs):
            for h in 0..<nh { for part in 0..<3 { for j in 0..<hs {
                (dst + ((part * nh + h) * hs + j) * cols).update(from: src + ((h * 3 + part) * hs + j) * cols, count: cols)
            } } }
        }
    }

    /// The inverse of `place`: writes the checkpoint layout of this tensor to `dst`.
    package func extract(from base: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, layout: ParameterLayout) {
        let e = layout.entry(target)!
        let cols = e.shape.count == 2 ? e.shape[1] : 1
        let src = base + e.offset + row * cols
        switch transform {
        case .copy:
            dst.update(from: src, count: count)
        case .transpose:
            let a = shape[0], b = shape[1]
            for i in 0..<a { for j in 0..<b { dst[i * b + j] = src[j * a + i] } }
        case .neoxQKV(let nh, let hs):
            for h in 0..<nh { for part in 0..<3 { for j in 0..<hs {
                (dst + ((h * 3 + part) * hs + j) * cols).update(from: src + ((part * nh + h) * hs + j) * cols, count: cols)
            } } }
        }
    }
}

/// Arena offsets of one block's tensors (nil when the architecture has no such tensor).
struct LayerOffsets {
    let norm1W: Int, norm1B: Int?
    let qkvW: Int, qkvB: Int?
    let outW: Int, outB: Int?
    let norm2W: Int, norm2B: Int?
    let upW: Int, upB: Int?
    let downW: Int, downB: Int?
}

extension ModelConfig {
    /// The arena layout: embeddings, then each block, then the final norm and an untied lm_head.
    func parameterLayout() -> (ParameterLayout, [LayerOffsets]) {
        var p = ParameterLayout()
        let C = hiddenSize, ln = norm == .layerNorm
        p.add("embed", [vocabSize, C])
        if position == .learned { p.add("pos_embed", [maxPositions, C]) }
        for l in 0..<numLayers {
            let q = "layers.\(l)."
            p.add(q + "norm1.weight", [C]); if ln { p.add(q + "norm1.bias", [C]) }
            p.add(q + "qkv.weight", [qkvSize, C]); if qkvBias { p.add(q + "qkv.bias", [qkvSize]) }
            p.add(q + "out.weight", [C, attnSize]); if outBias { p.add(q + "out.bias", [C]) }
            p.add(q + "norm2.weight", [C]); if ln { p.add(q + "norm2.bias", [C]) }
            p.add(q + "up.weight", [upSize, C]); if mlpBias { p.add(q + "up.bias", [upSize]) }
            p.add(q + "down.weight", [C, intermediateSize]); if mlpBias { p.add(q + "down.bias", [C]) }
        }
        p.add("final_norm.weight", [C]); if ln { p.add("final_norm.bias", [C]) }
        if !tiedEmbeddings { p.add("lm_head", [vocabSize, C]) }
        let layers = (0..<numLayers).map { l -> LayerOffsets in
            let q = "layers.\(l)."
            return LayerOffsets(
                norm1W: p.offset(q + "norm1.weight"), norm1B: p.offsetIfPresent(q + "norm1.bias"),
                qkvW: p.offset(q + "qkv.weight"), qkvB: p.offsetIfPresent(q + "qkv.bias"),
                outW: p.offset(q + "out.weight"), outB: p.offsetIfPresent(q + "out.bias"),
                norm2W: p.offset(q + "norm2.weight"), norm2B: p.offsetIfPresent(q + "norm2.bias"),
                upW: p.offset(q + "up.weight"), upB: p.offsetIfPresent(q + "up.bias"),
                downW: p.offset(q + "down.weight"), downB: p.offsetIfPresent(q + "down.bias"))
        }
        return (p, layers)
    }
}
