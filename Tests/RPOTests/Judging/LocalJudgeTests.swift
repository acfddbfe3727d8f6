// The local judge: the last-position log-probabilities against the engine's PyTorch-checked sequence
// log-probs (tiny fixture models), the label scoring paths, and SmolLM2-135M-Instruct (models/, `make
// models`) reading the official messages: its ChatML rendering byte-identical to transformers'
// apply_chat_template and the two labels' log-probabilities equal to transformers' float32 forward
// (fixture local_smollm2.json, scripts/make_local_judge_fixtures.py).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// A stand-in tokenizer for the tiny fixture models: one id per UTF-8 byte (mod the vocabulary); with
/// `splitDigits`, every digit is two tokens (to exercise labels longer than one token).
struct ByteTokenizer: JudgeTokenizer {
    let vocab: Int
    var splitDigits = false
    func judgeEncode(_ text: String) throws -> [Int] {
        text.utf8.flatMap { b -> [Int] in
            splitDigits && b >= 0x30 && b <= 0x39 ? [Int(b) % vocab, (Int(b) + 7) % vocab] : [Int(b) % vocab]
        }
    }
}

@Suite struct LocalJudgeTests {
    @Test(arguments: ["llama-gqa-tied", "gpt2", "qwen2-bias"])
    func lastPositionLogProbsEqualSequenceLogProbs(_ name: String) throws {
        let f = try TinyFixture(name)
        let m = try f.model()
        let ids = f.batch[0].inputIds
        let V = f.config.vocabSize
        let all = try m.lastPositionLogProbs(ids, tokens: Array(0..<V))
        // A distribution: exp sums to 1 (Double normaliser over float logits).
        let total = all.reduce(0) { $0 + exp($1) }
        #expect(abs(total - 1) < 1e-9, "\(name): sum \(total)")
        for t in [0, 1, V / 2, V - 1] {
            let s = try m.sequenceLogProbs([ScoredSequence(inputIds: ids + [t], labelStart: ids.count)])[0]
            // Same logits through two code paths (full log-prob head vs one-row sgemm): float rounding only.
            #expect(abs(all[t] - s) < 1e-5, "\(name) token \(t): \(all[t]) vs \(s)")
        }
        #expect(throws: ModelError.self) { _ = try m.lastPositionLogProbs(ids, tokens: [V]) }
    }

    @Test func labelsScoredInOneForwardOrTogetherWhenLonger() async throws {
        let f = try TinyFixture("llama-gqa-tied")
        // The rendered messages are 377 byte tokens, beyond the fixture's 64 positions (its context).
        let m = try f.model(context: 512)
        let template = try JudgeTemplate(task: .dialogue)
        let messages = template.messages(prompt: "\n<|user|>\nHi\n<|assistant|>\n", first: "Yo.", second: "Go.")
        let text = try JudgeChatFormat.chatML.render(messages) + "Response"
        for split in [false, true] {
            let tok = ByteTokenizer(vocab: f.config.vocabSize, splitDigits: split)
            let judge = LocalJudge(model: m, tokenizer: tok, chat: .chatML, name: "local:tiny")
            let lp = try judge.labelLogProbs(messages: messages, template: template)
            let a = try tok.judgeEncode(text + " 1"), b = try tok.judgeEncode(text + " 2")
            let k = try tok.judgeEncode(text + " ").count
            let want = try m.sequenceLogProbs([ScoredSequence(inputIds: a, labelStart: k), ScoredSequence(inputIds: b, labelStart: k)])
            #expect(abs(lp[0] - want[0]) < 1e-5 && abs(lp[1] - want[1]) < 1e-5, "split \(split): \(lp) vs \(want)")
            let reply = try await judge.judge(JudgeRequest(index: 0, id: "x", pass: 0, messages: messages, template: template))
            #expect(reply.labelLogProbs == lp && reply.error == nil && reply.attempts == 1)
        }
        // Labels that tokenize alike cannot be told apart: an error in the judgment, not a crash.
        let same = LocalJudge(model: m, tokenizer: ByteTokenizer(vocab: 1), chat: .chatML, name: "x")
        let reply = try await same.judge(JudgeRequest(index: 0, id: "x", pass: 0, messages: messages, template: template))
        #expect(reply.labelLogProbs == nil && reply.error?.contains("tokenize alike") == true)
    }

    /// Any template renders through the Jinja engine; one that does not parse, or rejects the judge's
    /// messages, is an error naming the place.
    @Test func templatesRenderOrFailClearly() throws {
        let inst = try JudgeChatFormat.from(template: "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}",
                                            variables: ["bos_token": "<s>"])
        #expect(try inst.render([ChatMessage(role: "user", content: "Hi")]) == "<s>[INST] Hi [/INST]")
        let plain = try JudgeChatFormat.chatML.render([ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U")])
        #expect(plain == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n")
        #expect(throws: LocalJudgeError.self) { _ = try JudgeChatFormat.from(template: "{% for m in messages %}") }
        let noSystem = try JudgeChatFormat.from(template: "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}")
        do {
            _ = try noSystem.render([ChatMessage(role: "system", content: "S")])
            Issue.record("a template that raises must fail")
        } catch let e as LocalJudgeError {
            #expect(e.message.contains("line 1, column 44: raise_exception: System role not supported"), "\(e.message)")
        }
    }
}

/// SmolLM2-135M-Instruct from models/ (run `make models`), loaded once for the suite through the same entry
/// point as `rpo-judge --judge local`; the tests take turns (one model, one workspace).
@Suite(.serialized) struct SmolLM2JudgeTests {
    static let path = TestPaths.models("SmolLM2-135M-Instruct.Q4_1.gguf")
    static let judge = Result { try LocalJudge.load(path: path) }
    static let fixture = Result { try judgingFixture("local_smollm2.json")["cases"]!.jList }

    static func messages(_ k: JSON) -> [ChatMessage] {
        k["messages"].jList.map { ChatMessage(role: $0["role"].jText, content: $0["content"].jText) }
    }

    @Test func configFromTheGGUFMetadata() throws {
        let m = try Self.judge.get().config
        #expect(m.architecture == .llama && m.vocabSize == 49152 && m.hiddenSize == 576 && m.numLayers == 30)
        #expect(m.numHeads == 9 && m.numKVHeads == 3 && m.headDim == 64 && m.intermediateSize == 1536)
        #expect(m.tiedEmbeddings && m.normEps == 1e-5 && m.position == .rotary(theta: 100_000, rotaryDim: 64))
        #expect(try Self.judge.get().name == "local:SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    @Test func chatTextAndTokensAreTransformers() throws {
        let judge = try Self.judge.get()
        #expect(judge.chat.template.source.contains("You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        for k in try Self.fixture.get() {
            let text = try judge.chat.render(Self.messages(k))
            #expect(sameUTF8(text, k["chat_text"].jText), "\(k["id"].jText) \(k["task"].jText)")
            // apply_chat_template's text + the answer start, tokenized as transformers does.
            let prefix = k["prefix_ids"].jList.map { $0.intValue! }, labels = k["label_ids"].jList.map { $0.intValue! }
            for (label, id) in zip(["1", "2"], labels) {
                let ids = try judge.tokenizer.judgeEncode(text + k["answer_prefix"].jText + " " + label)
                #expect(ids == prefix + [id], "\(k["id"].jText) \(k["task"].jText) label \(label)")
            }
        }
    }

    /// The three shortest cases (131-160 prompt tokens), to keep the suite within its time budget.
    @Test func labelLogProbsMatchTransformers() async throws {
        let judge = try Self.judge.get()
        let cases = try Self.fixture.get().sorted { $0["prefix_ids"].jList.count < $1["prefix_ids"].jList.count }.prefix(3)
        for k in cases {
            let want = k["label_logprobs"].jList.map { $0.doubleValue! }
            let task = JudgeTask(rawValue: k["task"].jText)!
            let reply = try await judge.judge(JudgeRequest(index: 0, id: k["id"].jText, pass: 0, messages: Self.messages(k),
                                                           template: try JudgeTemplate(task: task)))
            let lp = try #require(reply.labelLogProbs, "\(reply.error ?? "")")
            // fp32 through 30 layers vs transformers' fp32 with other summation orders: observed differences
            // are below 1e-5; 1e-4 leaves room for other BLAS builds while a wiring error (RoPE layout, q/k
            // permutation, norm) moves them by 0.1 or more.
            #expect(abs(lp[0] - want[0]) < 1e-4 && abs(lp[1] - want[1]) < 1e-4, "\(k["id"].jText) \(task): \(lp) vs \(want)")
            // The most likely next tokens, in order, as transformers ranks them.
            let top = k["top_ids"].jList.map { $0.intValue! }
            let all = try judge.model.lastPositionLogProbs(k["prefix_ids"].jList.map { $0.intValue! }, tokens: top)
            #expect(all == all.sorted(by: >), "\(k["id"].jText): \(all)")
        }
    }

    /// compare.py's lengths, len(tokenizer.encode(text)), with the model's tokenizer given as --tokenizer.
    @Test func tokenLengthsAsCompareDotPy() async throws {
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        options.lengthTokenizer = try Tokenizer.load(path: Self.path)
        options.bootstrapResamples = 10
        let lengths = try judgingFixture("local_smollm2.json")["lengths"]!.jList
        let want = Dictionary(lengths.map { ($0["text"].jText, $0["tokens"].intValue!) }, uniquingKeysWith: { a, _ in a })
        let texts = lengths.map { $0["text"].jText }
        var samples: [JSONObject] = []
        for k in stride(from: 0, to: texts.count - 1, by: 2) {
            samples.append(JSONObject([("id", .int(k)), ("prompt", .string("\n<|user|>\nQ\n<|assistant|>\n")),
                                       ("chosen", .string(texts[k])), ("policy", .string(texts[k + 1]))]))
        }
        let its = try judgeItems(samples, options: options)
        for it in its {
            #expect(it.candidateTokens == want[it.candidate] && it.baselineTokens == want[it.baseline])
        }
        let judge = TableJudge { _ in JudgeReply(raw: "Response 1") }
        let sink = CollectingSink()
        let (s, _) = try await JudgeRun.run(items: its, options: options, backend: judge, sink: sink)
        let mean = Double(its.reduce(0) { $0 + $1.candidateTokens! }) / Double(its.count)
        #expect(s.candidateMeanTokens == mean && s.json["candidate"]!["mean_tokens"] == .double(mean))
        #expect(sink.records[0]["candidate_tokens"] == .int(its[0].candidateTokens!))
    }

    @Test func missingOrUnusableModelsAreClearErrors() {
        #expect(throws: (any Error).self) { _ = try LocalJudge.load(path: "/nonexistent/model.gguf") }
        #expect { _ = try LocalJudge.load(path: TestPaths.fixture("lm/llama-gqa-tied")) } throws: { e in
            "\(e)".contains("tokenizer")
        }
    }
}
