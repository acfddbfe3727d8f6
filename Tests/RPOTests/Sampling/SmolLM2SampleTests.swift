// SmolLM2-135M-Instruct against transformers (scripts/make_sample_fixtures.py smollm): its ChatML template
// rendered and tokenized exactly as apply_chat_template, and greedy decoding of 20 AlpacaEval instructions
// (up to 64 new tokens, ending at EOS) giving exactly generate's token ids, decoded 8 at a time with the KV
// cache.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite(.serialized) struct SmolLM2SampleTests {
    @Test func chatTemplateRendersAndTokenizesAsTransformers() throws {
        let m = try SmolLM2.require()
        let f = try #require(SmolLM2.fixture)
        let t = try #require(try ChatTemplate.of(m.tokenizer))
        #expect(m.tokenizer.chatTemplate == f["chat_template"]?.stringValue, "GGUF template = transformers' template")
        for c in f["chat"]!.arrayValue! {
            let o = c.objectValue!
            let messages = o["messages"]!.arrayValue!.map {
                ChatMessage(role: $0.member("role")!.stringValue!, content: $0.member("content")!.stringValue!)
            }
            let text = try t.render(messages, addGenerationPrompt: o["add_generation_prompt"]!.boolValue!)
            #expect(text == o["text"]!.stringValue!)
            #expect(m.tokenizer.encode(text, addSpecialTokens: false) == o["ids"]!.arrayValue!.map { $0.intValue! })
        }
    }

    @Test func greedyDecodingMatchesGenerateTokenForToken() throws {
        let m = try SmolLM2.require()
        let f = try #require(SmolLM2.fixture)
        let cases = f["greedy"]!.arrayValue!.map { $0.objectValue! }
        #expect(cases.count == 20)
        let prompts = cases.map { $0["prompt_ids"]!.arrayValue!.map { $0.intValue! } }
        let expected = cases.map { $0["generated"]!.arrayValue!.map { $0.intValue! } }
        let eos = cases.map { $0["eos"]!.boolValue! }
        // The prompts are the chat template applied to the instructions (checked above on other texts).
        let t = try #require(try ChatTemplate.of(m.tokenizer))
        for c in cases.prefix(3) {
            let text = try t.render([ChatMessage(role: "user", content: c["instruction"]!.stringValue!)], addGenerationPrompt: true)
            #expect(m.tokenizer.encode(text, addSpecialTokens: false) == c["prompt_ids"]!.arrayValue!.map { $0.intValue! })
        }
        let gen = try Generator(model: m.model, options: GenerationOptions(sampling: SamplingSettings(temperature: 0),
                                                                           eosTokenIds: [m.tokenizer.eosTokenId!], batchSize: 8))
        var out = [[Int]](repeating: [], count: prompts.count)
        var reasons = [FinishReason?](repeating: nil, count: prompts.count)
        var it = prompts.makeIterator()
        try gen.run(next: { it.next().map { GenerationRequest(promptIds: $0, maxNewTokens: 64, rng: RNG(seed: 0)) } },
                    done: { i, g in out[i] = g.ids; reasons[i] = g.finishReason })
        #expect(reasons.map { $0 == .eos } == eos)
        #expect(eos.contains(true) && eos.contains(false), "the prompts exercise both endings")
        // Exact ids. generate's smallest top-2 logit margin on these paths is in smollm2.json (min_margin):
        // rpo's fp32 logits differ from torch's by ~1e-4 at most, below every margin on these paths.
        for i in prompts.indices {
            #expect(out[i] == expected[i], "prompt \(i): first difference at \(zip(out[i], expected[i]).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(out[i].count, expected[i].count))")
        }
    }

    @Test func cachedStepsAgreeWithTheFullForward() throws {
        let m = try SmolLM2.require()
        let f = try #require(SmolLM2.fixture)
        let c = f["greedy"]!.arrayValue![0].objectValue!
        let prompt = c["prompt_ids"]!.arrayValue!.map { $0.intValue! }
        let gen = Array(c["generated"]!.arrayValue!.map { $0.intValue! }.prefix(8))
        let V = m.model.config.vocabSize
        let dec = try LMDecoder(model: m.model, slots: 1, capacity: prompt.count + gen.count)
        var row = [Float](repeating: 0, count: V), cached: [Float] = []
        try dec.prefill(slot: 0, tokens: prompt, logits: &row)
        cached += row
        for t in gen.dropLast() {
            try dec.step(slots: [0], tokens: [t], logits: &row)
            cached += row
        }
        let full = try m.model.logits(prompt + gen.dropLast())
        let uncached = Array(full[((prompt.count - 1) * V)...])
        // The same fp32 model summed in other orders (sgemm vs SIMD dot products over 30 layers): the largest
        // difference is ~1e-5 of the largest logit; 1e-4 bounds it.
        let err = maxNormRelativeError(cached, uncached)
        #expect(err <= 1e-4, "cached vs uncached: relative error \(err)")
    }
}
