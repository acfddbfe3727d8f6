// Choosing the next token from a row of logits as transformers' generate does: the logits processors in the
// order `_get_logits_processor` builds them (repetition penalty, then for sampling temperature, top-k,
// top-p, min-p), then a multinomial draw from the softmax of what is left, or the argmax when not sampling.
// Reference: transformers 5.24.0 generation/logits_process.py (RepetitionPenaltyLogitsProcessor,
// TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper; min_tokens_to_keep = 1)
// and generation/utils.py (_get_logits_processor, _sample). Filtered entries become -inf, as there.
// Legend: V vocabulary size.
import Foundation
import RPOCore

/// The sampling settings of generate, validated as transformers validates them.
public struct SamplingSettings: Sendable, Equatable {
    /// Divides the logits; 0 means greedy decoding (argmax, do_sample=False).
    public var temperature: Double
    /// Keep the k largest logits (ties with the k-th kept too); 0 turns the filter off.
    public var topK: Int
    /// Keep the smallest set of most probable tokens whose probability adds up to more than 1 - topP
    /// being removed (transformers' rule); 1 turns the filter off.
    public var topP: Double
    /// Remove tokens less probable than minP times the most probable one; nil turns the filter off.
    public var minP: Double?
    /// Divides positive and multiplies negative logits of every token already in the sequence (prompt
    /// included); 1 turns it off.
    public var repetitionPenalty: Double

    public init(temperature: Double = 1, topK: Int = 0, topP: Double = 1, minP: Double? = nil,
                repetitionPenalty: Double = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
    }

    /// Greedy decoding: transformers' do_sample=False, which rpo uses for temperature 0.
    public var isGreedy: Bool { temperature == 0 }

    /// The checks of transformers' processors (a value they reject is an error here too).
    public func validate() throws(SamplingError) {
        if !(temperature >= 0) || !temperature.isFinite {
            throw .invalidSetting("temperature must be a finite number >= 0 (0 = greedy), got \(temperature)")
        }
        if topK < 0 { throw .invalidSetting("top-k must be >= 0 (0 = off), got \(topK)") }
        if !(0...1).contains(topP) { throw .invalidSetting("top-p must be in [0, 1] (1 = off), got \(topP)") }
        if let m = minP, !(0...1).contains(m) { throw .invalidSetting("min-p must be in [0, 1], got \(m)") }
        if !(repetitionPenalty > 0) || !repetitionPenalty.isFinite {
            throw .invalidSetting("repetition penalty must be a finite number > 0 (1 = off), got \(repetitionPenalty)")
        }
    }
}

public enum SamplingError: Error, CustomStringConvertible, Equatable {
    case invalidSetting(String)
    case promptTooLong(String)
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .invalidSetting(let m), .promptTooLong(let m), .invalidRequest(let m): return m
        }
    }
}

/// Turns rows of logits into tokens under fixed settings. Holds scratch for one row at a time: use one
/// sampler per thread.
public struct TokenSampler {
    public let settings: SamplingSettings
    public let vocabularySize: Int
    var seen: [Bool]
    var candidates: [Int32] = []
    var values: [Float] = []

    public init(settings: SamplingSettings, vocabularySize: Int) {
        self.settings = settings
        self.vocabularySize = vocabularySize
        seen = [Bool](repeating: false, count: vocabularySize)
    }

    /// The next token for a row of V logits (modified in place: processed, filtered entries -inf).
    /// `history` holds the tokens of the sequence so far (prompt and generated; repeats allowed).
    public mutating func next(_ row: UnsafeMutablePointer<Float>, history: [Int], rng: inout RNG) -> Int {
        process(row, history: history)
        if settings.isGreedy { return Self.argmax(row, count: vocabularySize) }
        return draw(row, rng: &rng)
    }

    /// Applies the processors generate would build for these settings, in its order. With sampling off
    /// (temperature 0) only the repetition penalty applies, as in transformers' greedy search.
    public mutating func process(_ row: UnsafeMutablePointer<Float>, history: [Int]) {
        let V = vocabularySize, s = settings
        if s.repetitionPenalty != 1 { repetitionPenalty(row, history: history, penalty: s.repetitionPenalty) }
        if s.isGreedy { return }
        if s.temperature != 1 {
            // HF: scores / self.temperature (a float32 tensor by a Python float: computed in float32)
            let t = Float(s.temperature)
            for i in 0..<V { row[i] = row[i] / t }
        }
        collectCandidates(row)
        if s.topK != 0 { topK(row, k: s.topK) }
        if s.topP < 1 { topP(row, p: s.topP) }
        if let m = s.minP { minP(row, p: m) }
    }

    // MARK: - Processors

    /// HF RepetitionPenaltyLogitsProcessor: each distinct token of `history` once, score < 0 ? score * penalty
    /// : score / penalty (float32).
    mutating func repetitionPenalty(_ row: UnsafeMutablePointer<Float>, history: [Int], penalty: Double) {
        let p = Float(penalty)
        for t in history where t >= 0 && t < vocabularySize && !seen[t] {
            seen[t] = true
            row[t] = row[t] < 0 ? row[t] * p : row[t] / p
        }
        for t in history where t >= 0 && t < vocabularySize { seen[t] = false }
    }

    /// The finite entries of the row: the only ones later filters can keep.
    mutating func collectCandidates(_ row: UnsafeMutablePointer<Float>) {
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<vocabularySize where row[i] > -Float.infinity { candidates.append(Int32(i)) }
    }

    /// Sets to -inf every candidate for which `remove(j, i)` holds (j its place among the candidates, i its
    /// token) and drops it from the candidates.
    mutating func filter(_ row: UnsafeMutablePointer<Float>, _ remove: (Int, Int) -> Bool) {
        var kept = 0
        for j in 0..<candidates.count {
            let i = Int(candidates[j])
            if remove(j, i) { row[i] = -.infinity } else { candidates[kept] = candidates[j]; kept += 1 }
        }
        candidates.removeLast(candidates.count - kept)
    }

    /// HF TopKLogitsWarper: removes scores < the k-th largest score (ties with it stay).
    mutating func topK(_ row: UnsafeMutablePointer<Float>, k: Int) {
        let k = min(max(k, 1), vocabularySize)  // max(top_k, min_tokens_to_keep); min(top_k, V)
        if candidates.count <= k { return }     // the k-th largest is -inf or a kept candidate: nothing to do
        values.removeAll(keepingCapacity: true)
        for i in candidates { values.append(row[Int(i)]) }
        let kth = Self.select(&values, rank: k - 1)
        filter(row) { _, i in row[i] < kth }
    }

    /// HF TopPLogitsWarper: sorting ascending (stably: among equal scores the lower index comes first),
    /// tokens whose cumulative probability is <= 1 - p are removed, except the last (most probable) one.
    mutating func topP(_ row: UnsafeMutablePointer<Float>, p: Double) {
        if candidates.isEmpty { return }
        let threshold = Float(1 - p)  // HF: cumulative_probs <= (1 - self.top_p), compared in float32
        let probs = softmax(row)
        // Tokens below threshold / (2 n) together hold less than threshold / 2 of the mass, so they come
        // first in the sorted order and are all removed: only the others are sorted, their cumulative sum
        // starting at the mass of the small ones. (The largest probability is >= 1 / n, never small.)
        let cut = threshold / Float(2 * candidates.count)
        var remove = [Bool](repeating: false, count: candidates.count)
        var cum = 0.0
        var order: [Int] = []
        for j in probs.indices {
            if probs[j] < cut { cum += Double(probs[j]); remove[j] = true } else { order.append(j) }
        }
        order.sort { a, b in probs[a] != probs[b] ? probs[a] < probs[b] : candidates[a] < candidates[b] }
        // HF: sorted_logits.softmax(dim=-1).cumsum(dim=-1) (accumulated in double on CPU, stored as float32);
        // sorted_indices_to_remove[..., -1:] = 0 keeps the most probable token whatever the sum.
        for (rank, j) in order.enumerated() {
            cum += Double(probs[j])
            if Float(cum) <= threshold && rank < order.count - 1 { remove[j] = true }
        }
        filter(row) { j, _ in remove[j] }
    }

    /// HF MinPLogitsWarper: removes tokens whose probability is below min_p times the largest probability.
    mutating func minP(_ row: UnsafeMutablePointer<Float>, p: Double) {
        if candidates.isEmpty { return }
        let probs = softmax(row)
        let scaled = Float(p) * probs.max()!  // HF: self.min_p * top_probs (float32)
        filter(row) { j, _ in probs[j] < scaled }
    }

    /// softmax over the candidates (the other entries have probability 0), as torch computes it: exp(x -
    /// max), a float32 sum, multiplied by its reciprocal.
    func softmax(_ row: UnsafeMutablePointer<Float>) -> [Float] {
        var mx = -Float.infinity
        for i in candidates { mx = max(mx, row[Int(i)]) }
        var e = [Float](repeating: 0, count: candidates.count)
        var sum: Float = 0
        for (j, i) in candidates.enumerated() { e[j] = expf(row[Int(i)] - mx); sum += e[j] }
        let inv = 1 / sum
        for j in e.indices { e[j] *= inv }
        return e
    }

    // MARK: - Choosing

    /// A draw from softmax(row) over the candidates: u uniform in [0, 1) scaled by the total mass, then
    /// the first token (in vocabulary order) whose cumulative mass exceeds it. One RNG draw per token.
    mutating func draw(_ row: UnsafeMutablePointer<Float>, rng: inout RNG) -> Int {
        if candidates.isEmpty { return Self.argmax(row, count: vocabularySize) }
        var mx = -Float.infinity
        for i in candidates { mx = max(mx, row[Int(i)]) }
        var total = 0.0
        for i in candidates { total += Double(expf(row[Int(i)] - mx)) }
        let u = rng.nextDouble() * total
        var cum = 0.0
        for i in candidates {
            cum += Double(expf(row[Int(i)] - mx))
            if cum > u { return Int(i) }
        }
        return Int(candidates.last!)  // u within rounding of the total
    }

    /// The index of the largest value; the first one on ties (torch.argmax).
    public static func argmax(_ row: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where row[i] > row[best] { best = i }
        return best
    }

    /// The value of rank `rank` (0 = largest) of `v`, reordering `v` (quickselect, median of three).
    static func select(_ v: inout [Float], rank: Int) -> Float {
        var lo = 0, hi = v.count - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            let a = v[lo], b = v[mid], c = v[hi]
            let pivot = max(min(a, b), min(max(a, b), c))
            var i = lo, j = hi
            while i <= j {
                while v[i] > pivot { i += 1 }
                while v[j] < pivot { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { return v[rank] }
        }
        return v[rank]
    }
}
