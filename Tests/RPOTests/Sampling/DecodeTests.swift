// KV-cache decoding of every architecture against transformers' generate (scripts/make_sample_fixtures.py
// tiny): the logits of each generated position against generate's (fp64 reference), against rpo's own
// uncached forward, and the greedy ids exactly, for prompts of different lengths decoded together, alone
// and in other batch sizes. Also the decoder's errors.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

struct TinyGeneration {
    let name: String
    let prompts: [[Int]]
    let generated: [[Int]]
    let minMargins: [Double]

    nonisolated(unsafe) static let fixture: (JSONObject, FixtureSafetensors)? = {
        guard case .object(let o)? = try? loadJSONFixture("sample/tiny.json"),
              let ref = try? FixtureSafetensors(path: TestPaths.fixture("sample/tiny.safetensors")) else { return nil }
        return (o, ref)
    }()

    init(_ name: String) throws {
        guard let (o, _) = Self.fixture, let m = o["models"]?.member(name)?.objectValue else {
            throw FixtureError(description: "sample/tiny.json: no model \(name)")
        }
        self.name = name
        prompts = m["prompts"]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } }
        generated = m["generated"]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } }
        minMargins = m["min_margins"]!.doubleArray
    }

    func referenceLogits(_ b: Int) throws -> [Float] { try Self.fixture!.1.floats("logits.\(name).\(b)") }
}

@Suite struct DecodeTests {
    @Test(arguments: TinyFixture.names)
    func cachedLogitsMatchGenerateAndTheUncachedForward(_ name: String) throws {
        let f = try TinyFixture(name), g = try TinyGeneration(name)
        let m = try f.model()
        let V = m.config.vocabSize
        let dec = try LMDecoder(model: m, slots: g.prompts.count, capacity: 24)
        var rows = [Float](repeating: 0, count: g.prompts.count * V)
        var got = [[Float]](repeating: [], count: g.prompts.count)
        // prefill all four prompts, then step them together along the reference tokens (teacher forcing)
        for (b, p) in g.prompts.enumerated() {
            try dec.prefill(slot: b, tokens: p, logits: &rows)
            got[b] += rows[0..<V]
        }
        let steps = g.generated[0].count - 1
        for t in 0..<steps {
            try dec.step(slots: Array(0..<g.prompts.count), tokens: g.generated.map { $0[t] }, logits: &rows)
            for b in g.prompts.indices { got[b] += rows[(b * V)..<((b + 1) * V)] }
        }
        for (b, p) in g.prompts.enumerated() {
            // transformers' logits in fp64: rpo's fp32 decode differs by rounding only (~1e-6 relative); the
            // spec's bound for fp32 model outputs is 1e-4 of the largest magnitude.
            let want = try g.referenceLogits(b)
            let err = maxNormRelativeError(got[b], want)
            #expect(err <= 1e-4, "\(name) prompt \(b): cached logits vs generate, relative error \(err)")
            // rpo's uncached forward (sgemm, the training path) over prompt + generated tokens
            let full = try m.logits(p + g.generated[b].dropLast())
            let uncached = Array(full[((p.count - 1) * V)...])
            let err2 = maxNormRelativeError(got[b], uncached)
            // same fp32 model, different summation orders (sgemm blocks vs SIMD dot products): ~1e-7 relative
            #expect(err2 <= 1e-5, "\(name) prompt \(b): cached vs uncached, relative error \(err2)")
        }
    }

    @Test(arguments: TinyFixture.names)
    func greedyIdsMatchGenerateInEveryBatchSize(_ name: String) throws {
        let f = try TinyFixture(name), g = try TinyGeneration(name)
        let m = try f.model()
        // The reference's smallest top-2 logit margin along these paths is >= 1.2e-4 (tiny.json), far above
        // rpo's fp32 error (~1e-6), so the argmax cannot legitimately differ.
        #expect(g.minMargins.min()! > 1e-4)
        for batch in [4, 1, 3] {
            let gen = try Generator(model: m, options: GenerationOptions(sampling: SamplingSettings(temperature: 0), batchSize: batch))
            var out = [[Int]?](repeating: nil, count: g.prompts.count)
            var it = g.prompts.makeIterator()
            try gen.run(next: {
                it.next().map { GenerationRequest(promptIds: $0, maxNewTokens: 12, rng: RNG(seed: 0)) }
            }, done: { i, r in
                #expect(r.finishReason == .length)
                out[i] = r.ids
            })
            #expect(out.map { $0 ?? [] } == g.generated, "\(name) batch \(batch)")
            #expect(gen.generatedTokens == 48 && gen.promptTokens == g.prompts.map(\.count).reduce(0, +))
        }
    }

    @Test func sampledOutputsDoNotDependOnTheBatchSize() throws {
        let f = try TinyFixture("llama-gqa-tied")
        let m = try f.model()
        let prompts: [[Int]] = [[5, 9, 2], [7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [44, 3], [11, 12, 13, 14], [90]]
        var results: [[Generation]] = []
        for batch in [1, 2, 5] {
            let settings = SamplingSettings(temperature: 1.3, topK: 40, topP: 0.9, minP: 0.02, repetitionPenalty: 1.1)
            let gen = try Generator(model: m, options: GenerationOptions(sampling: settings, eosTokenIds: [3], batchSize: batch))
            var out = [Generation?](repeating: nil, count: prompts.count)
            var i = 0
            try gen.run(next: {
                defer { i += 1 }
                // budgets differ per request, so sequences finish at different steps and slots get reused
                return i < prompts.count ? GenerationRequest(promptIds: prompts[i], maxNewTokens: 6 + 3 * i,
                                                             rng: SampleStreams.rng(seed: 42, record: i, sample: 0)) : nil
            }, done: { i, r in out[i] = r })
            results.append(out.map { $0! })
        }
        #expect(results[0] == results[1] && results[1] == results[2])
        // something was sampled: not all sequences greedy-identical, and EOS (id 3) handled as a stop
        #expect(Set(results[0].map(\.ids)).count == prompts.count)
        for r in results[0] where r.finishReason == .eos { #expect(!r.ids.contains(3)) }
    }

    @Test func decoderErrors() throws {
        let m = try TinyFixture("gpt2").model()  // learned positions: 32
        #expect(throws: ModelError.self) { _ = try LMDecoder(model: m, slots: 1, capacity: 33) }
        #expect(throws: ModelError.self) { _ = try LMDecoder(model: m, slots: 0, capacity: 8) }
        let dec = try LMDecoder(model: m, slots: 2, capacity: 8)
        var logits = [Float](repeating: 0, count: 2 * m.config.vocabSize)
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        #expect(message { try dec.step(slots: [0], tokens: [1], logits: &logits) }.contains("slot 0 is empty"))
        #expect(message { try dec.prefill(slot: 0, tokens: Array(repeating: 1, count: 9), logits: &logits) }
            .contains("does not fit the cache"))
        #expect(message { try dec.prefill(slot: 0, tokens: [1, 96], logits: &logits) }.contains("outside the vocabulary"))
        try dec.prefill(slot: 0, tokens: [1, 2, 3, 4, 5, 6, 7], logits: &logits)
        #expect(message { try dec.prefill(slot: 0, tokens: [1], logits: &logits) }.contains("holds 7 positions"))
        #expect(message { try dec.step(slots: [0, 0], tokens: [1, 1], logits: &logits) }.contains("appears twice"))
        #expect(message { try dec.step(slots: [2], tokens: [1], logits: &logits) }.contains("outside 0..<2"))
        #expect(message { try dec.step(slots: [0], tokens: [-1], logits: &logits) }.contains("outside the vocabulary"))
        try dec.step(slots: [0], tokens: [1], logits: &logits)
        #expect(message { try dec.step(slots: [0], tokens: [1], logits: &logits) }.contains("slot 0 is full"))
        // The generator grows the cache for long requests instead of failing (up to the model's positions).
        let gen = try Generator(model: m, options: GenerationOptions(sampling: SamplingSettings(temperature: 0), batchSize: 2))
        var done = 0
        // 2 prompt + 31 new tokens use positions 0...31 (the last token is not fed back): exactly the model's 32
        var reqs = [GenerationRequest(promptIds: [1, 2], maxNewTokens: 31, rng: RNG(seed: 1))]
        try gen.run(next: { reqs.popLast() }, done: { _, r in done += 1; #expect(r.ids.count == 31) })
        #expect(done == 1)
        reqs = [GenerationRequest(promptIds: [1, 2], maxNewTokens: 32, rng: RNG(seed: 1))]
        #expect(message { try gen.run(next: { reqs.popLast() }, done: { _, _ in }) }.contains("the model has 32 positions"))
    }

    @Test func slidingWindowIsRefusedNotIgnored() throws {
        var c = try TinyFixture("mistral-untied").config
        c.slidingWindow = 4
        let m = CausalLM(config: c)
        let dec = try LMDecoder(model: m, slots: 1, capacity: 8)
        var logits = [Float](repeating: 0, count: c.vocabSize)
        try dec.prefill(slot: 0, tokens: [1, 2, 3, 4], logits: &logits)
        #expect(throws: ModelError.self) { try dec.step(slots: [0], tokens: [1], logits: &logits) }
    }

    @Test func growingTheCacheKeepsRunningSequences() throws {
        let m = try TinyFixture("qwen2-bias").model()
        let small = try LMDecoder(model: m, slots: 2, capacity: 6)
        var a = [Float](repeating: 0, count: 2 * m.config.vocabSize), b = a
        try small.prefill(slot: 1, tokens: [4, 5, 6], logits: &a)
        let big = try LMDecoder(model: m, slots: 2, capacity: 20)
        big.cache.copy(from: small.cache)
        try small.step(slots: [1], tokens: [7], logits: &a)
        try big.step(slots: [1], tokens: [7], logits: &b)
        #expect(a == b && big.cache.lengths == [0, 4])
    }
}
