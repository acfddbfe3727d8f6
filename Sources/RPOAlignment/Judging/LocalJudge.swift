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

/// How a chat model expects the judge's messages.
public enum JudgeChatFormat: Sendable, Equatable {
    /// ChatML: `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n`;
    /// `defaultSystem` is the system message the template inserts when the first message is not one.
    case chatML(defaultSystem: String?)

    /// Recognises a Jinja chat template (e.g. GGUF `tokenizer.chat_template`). Only ChatML templates are
    /// understood; anything else is an error rather than a guess.
    public static func from(template: String) throws -> JudgeChatFormat {
        guard template.contains("'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'")
                || template.contains("'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'") else {
            throw LocalJudgeError(message: "the model's chat template is not ChatML; the local judge understands ChatML templates only")
        }
        // SmolLM2 / Qwen: {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}
        var system: String?
        if template.contains("messages[0]['role'] != 'system'"), let start = template.range(of: "'<|im_start|>system\n"),
           let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex) {
            system = String(template[start.upperBound..<end.lowerBound])
        }
        return .chatML(defaultSystem: system)
    }

    /// The text of `messages` with the generation prompt.
    public func render(_ messages: [ChatMessage]) -> String {
        switch self {
        case .chatML(let defaultSystem):
            var s = ""
            if let sys = defaultSystem, messages.first?.role != "system" {
                s += "<|im_start|>system\n\(sys)<|im_end|>\n"
            }
            for m in messages { s += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            return s + "<|im_start|>assistant\n"
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
                          chat: try JudgeChatFormat.from(template: template),
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
        let text = chat.render(messages) + word
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
