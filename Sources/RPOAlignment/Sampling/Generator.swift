// The generation loop: prompts enter free slots of a KV-cache decoder as others finish (continuous
// batching), every step advances all running sequences by one token, and each sequence ends on an EOS
// token, a stop string or its token budget. Each request carries its own RNG, and the decoder's steps are
// batch-invariant, so a request's output does not depend on the batch size or on its neighbours.
// Reference: transformers 5.24.0 generation/utils.py `_sample` (the loop, EOS handling) and
// generation/stopping_criteria.py (MaxLengthCriteria, EosTokenCriteria, StopStringCriteria).
import Foundation
import RPOCore

/// One sequence to generate.
public struct GenerationRequest: Sendable {
    public var promptIds: [Int]
    /// Tokens to generate at most (the sequence may end earlier on EOS or a stop string).
    public var maxNewTokens: Int
    /// The request's own random stream (used only when sampling).
    public var rng: RNG

    public init(promptIds: [Int], maxNewTokens: Int, rng: RNG) {
        self.promptIds = promptIds
        self.maxNewTokens = maxNewTokens
        self.rng = rng
    }
}

public enum FinishReason: String, Sendable {
    /// The model produced an end-of-sequence token (not included in the output).
    case eos
    /// The decoded text reached one of the stop strings.
    case stop
    /// The token budget ran out.
    case length
}

/// A finished sequence.
public struct Generation: Sendable, Equatable {
    /// The generated tokens, without the EOS token that ended them (if any).
    public var ids: [Int]
    public var finishReason: FinishReason
    /// With a stop string: the decoded text up to (not including) its first occurrence.
    public var stopText: String?
}

public struct GenerationOptions: Sendable {
    public var sampling: SamplingSettings
    /// Tokens that end a sequence.
    public var eosTokenIds: Set<Int>
    /// Texts that end a sequence as soon as the decoded output contains one of them.
    public var stopStrings: [String]
    /// Sequences decoded together (the slots of the KV cache).
    public var batchSize: Int

    public init(sampling: SamplingSettings, eosTokenIds: Set<Int> = [], stopStrings: [String] = [], batchSize: Int = 8) {
        self.sampling = sampling
        self.eosTokenIds = eosTokenIds
        self.stopStrings = stopStrings
        self.batchSize = batchSize
    }
}

/// Per-sample random streams: a function of (seed, record, sample) only, so outputs do not depend on the
/// batch size or on which other records are in the input before or after.
public enum SampleStreams {
    public static func rng(seed: UInt64, record: Int, sample: Int) -> RNG {
        var a = SplitMix64(seed: seed)
        var b = SplitMix64(seed: a.next() ^ UInt64(truncatingIfNeeded: record))
        var c = SplitMix64(seed: b.next() ^ (UInt64(truncatingIfNeeded: sample) &* 0x9E37_79B9_7F4A_7C15))
        return RNG(seed: c.next())
    }
}

public final class Generator {
    public let model: CausalLM
    public let options: GenerationOptions
    /// Decodes generated tokens to text (special tokens skipped): needed for stop strings only.
    let decode: (([Int]) -> String)?
    var decoder: LMDecoder?
    /// One sampler per worker thread (each holds scratch for one row).
    var samplers: [TokenSampler]

    /// Counters of the last `run`: prompt and generated tokens, decoding steps.
    public private(set) var promptTokens = 0
    public private(set) var generatedTokens = 0
    public private(set) var steps = 0

    public init(model: CausalLM, options: GenerationOptions, decode: (([Int]) -> String)? = nil) throws(SamplingError) {
        try options.sampling.validate()
        if options.batchSize < 1 { throw .invalidSetting("the batch size must be at least 1, got \(options.batchSize)") }
        if !options.stopStrings.isEmpty && decode == nil {
            throw .invalidSetting("stop strings need a tokenizer to decode the generated tokens")
        }
        if options.stopStrings.contains("") { throw .invalidSetting("a stop string must not be empty") }
        self.model = model
        self.options = options
        self.decode = decode
        samplers = (0..<max(1, Parallel.threads)).map { _ in
            TokenSampler(settings: options.sampling, vocabularySize: model.config.vocabSize)
        }
    }

    struct Running {
        let index: Int
        var request: GenerationRequest
        var history: [Int]      // prompt + generated, for the repetition penalty
        var generated: [Int] = []
    }

    /// Generates every request `next` yields (nil: no more), up to `batchSize` at a time, and calls
    /// `done(i, generation)` as request i (0-based, in pull order) finishes: not necessarily in order.
    /// `stepTimer`, if given, receives the seconds of each decoding step (benchmarks).
    public func run(next: () throws -> GenerationRequest?, done: (Int, Generation) throws -> Void,
                    stepTimer: ((Double) -> Void)? = nil) throws {
        let V = model.config.vocabSize, B = options.batchSize
        var slots = [Running?](repeating: nil, count: B)
        var logits = [Float](repeating: 0, count: B * V)
        var pulled = 0, exhausted = false
        promptTokens = 0; generatedTokens = 0; steps = 0

        /// Takes the token chosen for slot s; returns the finished generation, if it ends the sequence.
        func accept(_ s: Int, _ token: Int) -> Generation? {
            var r = slots[s]!
            defer { slots[s] = r }
            if options.eosTokenIds.contains(token) { return Generation(ids: r.generated, finishReason: .eos) }
            r.generated.append(token)
            r.history.append(token)
            generatedTokens += 1
            if !options.stopStrings.isEmpty, let decode {
                let text = decode(r.generated)
                if let cut = options.stopStrings.compactMap({ text.range(of: $0)?.lowerBound }).min() {
                    return Generation(ids: r.generated, finishReason: .stop, stopText: String(text[..<cut]))
                }
            }
            if r.generated.count >= r.request.maxNewTokens { return Generation(ids: r.generated, finishReason: .length) }
            return nil
        }

        func finish(_ s: Int, _ g: Generation) throws {
            let index = slots[s]!.index
            slots[s] = nil
            decoder?.cache.clear(slot: s)
            try done(index, g)
        }

        while true {
            // Fill the free slots: prefill each new prompt (its logits in row 0) and choose its first token.
            for s in 0..<B where slots[s] == nil && !exhausted {
                while slots[s] == nil, !exhausted {
                    guard let req = try next() else { exhausted = true; break }
                    let index = pulled
                    pulled += 1
                    if req.promptIds.isEmpty { throw SamplingError.invalidRequest("request \(index) has an empty prompt") }
                    if req.maxNewTokens < 0 { throw SamplingError.invalidRequest("request \(index): negative token budget") }
                    if req.maxNewTokens == 0 { try done(index, Generation(ids: [], finishReason: .length)); continue }
                    // the last generated token is never fed back: prompt + budget - 1 positions
                    let dec = try reserve(positions: req.promptIds.count + req.maxNewTokens - 1)
                    try logits.withUnsafeMutableBufferPointer { lb in
                        try dec.prefill(slot: s, tokens: req.promptIds, logits: lb.baseAddress!)
                    }
                    promptTokens += req.promptIds.count
                    slots[s] = Running(index: index, request: req, history: req.promptIds)
                    let token = choose(row: 0, slot: s, &slots, &logits)
                    if let g = accept(s, token) { try finish(s, g) }
                }
            }
            let active = (0..<B).filter { slots[$0] != nil }
            if active.isEmpty { break }
            // One step for every running sequence: row n of the logits is slot active[n]'s.
            let tokens = active.map { slots[$0]!.generated.last! }
            let t0 = stepTimer == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            try logits.withUnsafeMutableBufferPointer { lb in
                try decoder!.step(slots: active, tokens: tokens, logits: lb.baseAddress!)
            }
            if let stepTimer { stepTimer(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9) }
            steps += 1
            // Choose every row's token (rows in parallel: each row has its own RNG, so the split does not
            // change any draw), then update the sequences in slot order.
            let chosen = chooseAll(active, &slots, &logits)
            for (n, s) in active.enumerated() {
                if let g = accept(s, chosen[n]) { try finish(s, g) }
            }
        }
    }

    /// The token for slot s from row `row` of the logits.
    func choose(row: Int, slot s: Int, _ slots: inout [Running?], _ logits: inout [Float]) -> Int {
        let V = model.config.vocabSize
        return logits.withUnsafeMutableBufferPointer { lb in
            samplers[0].next(lb.baseAddress! + row * V, history: slots[s]!.history, rng: &slots[s]!.request.rng)
        }
    }

    /// The tokens of slots `active` from rows 0..<N of the logits, rows split over the worker threads.
    func chooseAll(_ active: [Int], _ slots: inout [Running?], _ logits: inout [Float]) -> [Int] {
        let V = model.config.vocabSize, N = active.count
        let chunks = min(samplers.count, N)
        if chunks <= 1 { return active.enumerated().map { choose(row: $0.offset, slot: $0.element, &slots, &logits) } }
        var out = [Int](repeating: 0, count: N)
        var rngs = active.map { slots[$0]!.request.rng }
        let histories = active.map { slots[$0]!.history }
        logits.withUnsafeMutableBufferPointer { lb in
            out.withUnsafeMutableBufferPointer { ob in
                rngs.withUnsafeMutableBufferPointer { rb in
                    samplers.withUnsafeMutableBufferPointer { sb in
                        let p = UncheckedSendable((lb.baseAddress!, ob.baseAddress!, rb.baseAddress!, sb.baseAddress!))
                        let h = UncheckedSendable(histories)
                        DispatchQueue.concurrentPerform(iterations: chunks) { c in
                            let (rows, o, r, smp) = p.value
                            for n in (N * c / chunks)..<(N * (c + 1) / chunks) {
                                o[n] = smp[c].next(rows + n * V, history: h.value[n], rng: &r[n])
                            }
                        }
                    }
                }
            }
        }
        for (n, s) in active.enumerated() { slots[s]!.request.rng = rngs[n] }
        return out
    }

    /// The decoder, with room for `positions` positions per slot (grown by rebuilding when needed, which
    /// happens only between sequences: slots in use keep their place).
    func reserve(positions: Int) throws -> LMDecoder {
        if let d = decoder, d.cache.capacity >= positions { return d }
        let old = decoder
        let c = model.config
        let limit = c.maxPositions
        let capacity = max(positions, min(max((old?.cache.capacity ?? 0) * 2, 64), limit))
        let grown = try LMDecoder(model: model, slots: options.batchSize, capacity: capacity)
        if let old { grown.cache.copy(from: old.cache) }
        decoder = grown
        return grown
    }
}
