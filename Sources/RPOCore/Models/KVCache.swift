// The key/value cache of incremental decoding: for every layer, the rotated keys and the values of every
// position a sequence slot has seen, so a new token attends to them without recomputing the prefix.
// One allocation, laid out per layer as keys (slots, KVH, T, hs) then values (slots, KVH, T, hs), so one
// (slot, kv head) is a contiguous T x hs matrix. Reference: transformers DynamicCache (per-layer key/value
// tensors [batch, kv heads, positions, head dim]); llama2.c RunState key_cache / value_cache.
// Legend: L layers, KVH key/value heads, T capacity (positions per slot), hs head size.
import Foundation

public final class KVCache {
    public let layers: Int
    public let slots: Int
    /// Positions each slot can hold (T).
    public let capacity: Int
    public let kvHeads: Int
    public let headDim: Int
    let storage: TensorStorage
    /// Positions held by each slot (the next token of slot s goes to position lengths[s]).
    public internal(set) var lengths: [Int]

    /// A cache for `slots` sequences of up to `capacity` positions each, shaped for `config`.
    public init(config: ModelConfig, slots: Int, capacity: Int) {
        precondition(slots > 0 && capacity > 0)
        layers = config.numLayers
        self.slots = slots
        self.capacity = capacity
        kvHeads = config.numKVHeads
        headDim = config.headDim
        storage = TensorStorage(count: 2 * layers * slots * kvHeads * capacity * headDim, zeroed: false)
        lengths = [Int](repeating: 0, count: slots)
    }

    /// Floats per layer and kind (keys or values).
    var layerSize: Int { slots * kvHeads * capacity * headDim }

    /// Layer l's keys (slots, KVH, T, hs).
    func keys(_ l: Int) -> UnsafeMutablePointer<Float> { storage.pointer + 2 * l * layerSize }
    /// Layer l's values (slots, KVH, T, hs).
    func values(_ l: Int) -> UnsafeMutablePointer<Float> { storage.pointer + (2 * l + 1) * layerSize }

    /// Bytes held by the cache.
    public var byteCount: Int { storage.count * 4 }

    /// Forgets what `slot` holds (the next sequence written there starts at position 0).
    public func clear(slot: Int) { lengths[slot] = 0 }

    /// Copies the k and v parts of `count` qkv rows (stride S = (NH + 2 KVH) hs, k at offset NH hs) into
    /// layer l of `slot`, at positions `position ..< position + count`.
    func store(layer l: Int, slot: Int, position: Int, qkv: UnsafePointer<Float>, count: Int, NH: Int) {
        let hs = headDim, KVH = kvHeads, T = capacity
        let S = (NH + 2 * KVH) * hs
        let K = keys(l), V = values(l)
        for i in 0..<count {
            let row = qkv + i * S
            for g in 0..<KVH {
                let at = ((slot * KVH + g) * T + position + i) * hs
                (K + at).update(from: row + (NH + g) * hs, count: hs)
                (V + at).update(from: row + (NH + KVH + g) * hs, count: hs)
            }
        }
    }
}

extension KVCache {
    /// Copies what every slot of `other` holds (same model, same number of slots; this cache at least as
    /// long) into this cache, lengths included.
    public func copy(from other: KVCache) {
        precondition(other.slots == slots && other.layers == layers && other.kvHeads == kvHeads
                     && other.headDim == headDim && other.capacity <= capacity)
        let hs = headDim, KVH = kvHeads
        for l in 0..<layers {
            for (dst, src) in [(keys(l), other.keys(l)), (values(l), other.values(l))] {
                for s in 0..<slots where other.lengths[s] > 0 {
                    for g in 0..<KVH {
                        (dst + (s * KVH + g) * capacity * hs)
                            .update(from: src + (s * KVH + g) * other.capacity * hs, count: other.lengths[s] * hs)
                    }
                }
            }
        }
        lengths = other.lengths
    }
}
