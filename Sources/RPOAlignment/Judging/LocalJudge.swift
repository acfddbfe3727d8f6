// The local judge: a causal LM rpo loads reads the official judge messages in its own chat format, followed
// by the start of the answer the official parser looks for ("Response" / "Summary"), and the next-token
// log-probabilities of the two labels decide (" 1" vs " 2"): one forward pass per presentation, no
// generation. When a label takes more than one token after the shared prefix, the label's tokens are
// scored together (one forward of both continuations).
import Foundation
import RPOCore

/// What the local judge needs of a tokenizer.
public protocol JudgeTokenizer: Sendable {
    /// The ids of `text` as the model's tokenizer gives them without adding special tokens (HF
    /// `tokenizer(text, add_special_tokens=False)`), special-token text such as "<|im_start|>" recognised.
    func judgeEncode(_ text: String) throws -> [Int]
}

/// rpo's tokenizer as the judge uses it.
struct JudgeTextTokenizer: JudgeTokenizer {
    let tokenizer: Tokenizer
    func judgeEncode(_ text: String) throws -> [Int] { tokenizer.encode(text, addSpecialTokens: false) }
}

/// How a chat model expects the judge's messages: its chat template, rendered as transformers'
/// apply_chat_template does (Sampling/ChatTemplate.swift), with the generation prompt.
public struct JudgeChatFormat: Sendable {
    public let template: ChatTemplate

    public init(template: ChatTemplate) { self.template = template }

    /// A Jinja chat template (e.g. GGUF `tokenizer.chat_template`) with the tokenizer's special tokens; a
    /// template that does not parse is an error.
    public static func from(template: String, variables: [String: String] = [:]) throws -> JudgeChatFormat {
        do { return JudgeChatFormat(template: try ChatTemplate(template, variables: variables)) } catch {
            throw LocalJudgeError(message: error.description)
        }
    }

    /// Plain ChatML (`<|im_start|>{role}\n{content}<|im_end|>\n` per message, `<|im_start|>assistant\n`), for
    /// tests with tokenizers that carry no template. The text parses (tested), so `try!` cannot fail.
    public static let chatML = JudgeChatFormat(template: try! ChatTemplate(
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"))

    /// The text of `messages` with the generation prompt; an error if the template rejects them.
    public func render(_ messages: [ChatMessage]) throws -> String {
        do { return try template.render(messages, addGenerationPrompt: true) } catch {
            throw LocalJudgeError(message: error.description)
        }
    }
}

public struct LocalJudgeError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

public final class LocalJudge: JudgeBackend, @unchecked Sendable {
    public let name: String
    /// One model, one workspace: presentations are scored one at a time.
    public var maxConcurrency: Int { 1 }
    let model: CausalLM
    let tokenizer: JudgeTokenizer
    let chat: JudgeChatFormat
    let lock = NSLock()

    public init(model: CausalLM, tokenizer: JudgeTokenizer, chat: JudgeChatFormat, name: String) {
        self.model = model; self.tokenizer = tokenizer; self.chat = chat; self.name = name
    }

    /// A judge from model files: a llama-architecture `.gguf` file (weights, tokenizer and chat template in
    /// its metadata), or a Hugging Face directory (config.json, model.safetensors or its sharded index,
    /// tokenizer.json with a chat template). Named "local:<file or directory name>".
    public static func load(path: String) throws -> LocalJudge {
        let tokenizer = try Tokenizer.load(path: path)
        let model = try CausalLM.load(path: path)
        guard let template = tokenizer.chatTemplate else {
            throw LocalJudgeError(message: "\(path): the model has no chat template; the local judge needs a chat model")
        }
        return LocalJudge(model: model, tokenizer: JudgeTextTokenizer(tokenizer: tokenizer),
                          chat: try JudgeChatFormat.from(template: template, variables: tokenizer.chatTemplateVariables),
                          name: "local:" + (path as NSString).lastPathComponent)
    }

    /// The model's configuration.
    public var config: ModelConfig { model.config }

    public func judge(_ request: JudgeRequest) async throws -> JudgeReply {
        let start = Date()
        do {
            let lp = try labelLogProbs(messages: request.messages, template: request.template)
            return JudgeReply(labelLogProbs: lp, attempts: 1, seconds: Date().timeIntervalSince(start))
        } catch {
            return JudgeReply(error: "\(error)", attempts: 1, seconds: Date().timeIntervalSince(start))
        }
    }

    /// log P(" label" | chat text + "Response") for the two labels, in label order.
    public func labelLogProbs(messages: [ChatMessage], template: JudgeTemplate) throws -> [Double] {
        let word = template.task == .dialogue ? "Response" : "Summary"
        let text = try chat.render(messages) + word
        let seqs = try template.labels.map { try tokenizer.judgeEncode(text + " " + String($0)) }
        var k = 0
        while k < min(seqs[0].count, seqs[1].count) && seqs[0][k] == seqs[1][k] { k += 1 }
        guard k > 0, k < seqs[0].count, k < seqs[1].count else {
            throw LocalJudgeError(message: "the two labels tokenize alike after the prompt; choose other --labels")
        }
        lock.lock()
        defer { lock.unlock() }
        if seqs[0].count == k + 1 && seqs[1].count == k + 1 {
            return try model.lastPositionLogProbs(Array(seqs[0][0..<k]), tokens: [seqs[0][k], seqs[1][k]])
        }
        return try model.sequenceLogProbs(seqs.map { ScoredSequence(inputIds: $0, labelStart: k) })
    }
}
