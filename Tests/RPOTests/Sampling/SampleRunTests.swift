// The generator's and rpo-sample's library errors, generation_config.json defaults, the chat template
// recogniser and Python's strip.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct SampleRunTests {
    static func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func generatorRejectsBadOptionsAndRequests() throws {
        let m = try TinyFixture("llama-gqa-tied").model()
        let greedy = SamplingSettings(temperature: 0)
        #expect(Self.message { _ = try Generator(model: m, options: GenerationOptions(sampling: greedy, batchSize: 0)) }
            .contains("batch size must be at least 1"))
        #expect(Self.message { _ = try Generator(model: m, options: GenerationOptions(sampling: greedy, stopStrings: ["x"])) }
            .contains("stop strings need a tokenizer"))
        #expect(Self.message { _ = try Generator(model: m, options: GenerationOptions(sampling: greedy, stopStrings: [""])) { _ in "" } }
            .contains("must not be empty"))
        #expect(Self.message { _ = try Generator(model: m, options: GenerationOptions(sampling: SamplingSettings(topP: 2))) }
            .contains("top-p must be in [0, 1]"))
        let gen = try Generator(model: m, options: GenerationOptions(sampling: greedy, batchSize: 2))
        for (req, text) in [(GenerationRequest(promptIds: [], maxNewTokens: 3, rng: RNG(seed: 1)), "request 0 has an empty prompt"),
                            (GenerationRequest(promptIds: [1], maxNewTokens: -1, rng: RNG(seed: 1)), "request 0: negative token budget")] {
            var reqs = [req]
            #expect(Self.message { try gen.run(next: { reqs.popLast() }, done: { _, _ in }) }.contains(text))
        }
        // a zero budget finishes at once, without touching the model
        var reqs = [GenerationRequest(promptIds: [1, 2], maxNewTokens: 0, rng: RNG(seed: 1))]
        var got: [Generation] = []
        try gen.run(next: { reqs.popLast() }, done: { _, g in got.append(g) })
        #expect(got == [Generation(ids: [], finishReason: .length)])
    }

    @Test func generationConfigDefaultsAndTheirErrors() throws {
        let dir = TempDir()
        func write(_ s: String) throws { try s.write(toFile: dir.file("generation_config.json"), atomically: true, encoding: .utf8) }
        #expect(try GenerationDefaults.load(directory: dir.path).temperature == nil, "no file: transformers' defaults")
        try write(#"{"temperature": 0.6, "top_p": 0.9, "top_k": 0, "eos_token_id": [2, 7], "do_sample": true}"#)
        let d = try GenerationDefaults.load(directory: dir.path)
        #expect(d.temperature == 0.6 && d.topP == 0.9 && d.topK == 0 && d.eosTokenIds == [2, 7])
        // explicit values win, then the file, then transformers' library defaults (temperature 1, top-k 50)
        let s = d.settings(temperature: nil, topK: nil, topP: 0.95, minP: nil, repetitionPenalty: nil)
        #expect(s == SamplingSettings(temperature: 0.6, topK: 0, topP: 0.95, minP: nil, repetitionPenalty: 1))
        #expect(GenerationDefaults().settings(temperature: nil, topK: nil, topP: nil, minP: 0.1, repetitionPenalty: nil)
                == SamplingSettings(temperature: 1, topK: 50, topP: 1, minP: 0.1, repetitionPenalty: 1))
        for (bad, text) in [("[1]", "not a JSON object"), (#"{"temperature": "hot"}"#, "temperature is not a number"),
                            (#"{"eos_token_id": "x"}"#, "eos_token_id is neither"), ("{", "generation_config.json")] {
            try write(bad)
            #expect(Self.message { _ = try GenerationDefaults.load(directory: dir.path) }.contains(text), "\(bad)")
        }
    }

    /// Any template renders (ChatML is no special case); one that does not parse, or rejects the
    /// conversation, is an error naming the place and suggesting the other modes.
    @Test func chatTemplatesRenderOrFailClearly() throws {
        let withSystem = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nIt\\'s brief.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}\n"
        let t = try ChatTemplate(withSystem)
        #expect(try t.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
                == "<|im_start|>system\nIt's brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
        #expect(try t.render([], addGenerationPrompt: true) == "<|im_start|>assistant\n")
        let inst = try ChatTemplate("{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}", variables: ["bos_token": "<s>"])
        #expect(try inst.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true) == "<s>[INST] Hi [/INST]")
        #expect(Self.message { _ = try ChatTemplate("{% if x %}\n{{ 'a' + }}") }
                    .contains("the model's chat template does not parse: chat template line 2, column 10: syntax error: unexpected '}}'; use --chat-template none or rpo-markers"))
        let raising = try ChatTemplate("{% if messages | length > 1 %}{{ raise_exception('one turn only') }}{% endif %}")
        #expect(Self.message { _ = try raising.render([ChatMessage(role: "user", content: "a"), ChatMessage(role: "user", content: "b")], addGenerationPrompt: true) }
                    == "the model's chat template failed: chat template line 1, column 34: raise_exception: one turn only")
        #expect(ChatTemplate.rpoMarkers("Hi") == "\n<|user|>\nHi\n<|assistant|>\n")
    }

    @Test func pythonStripRemovesWhatStrDotStripRemoves() {
        #expect(pythonStrip(" \t\n a b \r\u{0B}\u{0C}\u{1C}\u{85}\u{A0}\u{3000}") == "a b")
        #expect(pythonStrip("   ") == "" && pythonStrip("x") == "x" && pythonStrip("") == "")
    }
}
