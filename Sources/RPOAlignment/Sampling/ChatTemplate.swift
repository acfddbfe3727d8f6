// Chat templates: a model's Jinja chat template rendered by rpo's Jinja engine (Sampling/Jinja/) exactly as
// transformers' apply_chat_template(messages, add_generation_prompt=..., tokenize=False) renders it: the
// variables are `messages` (role/content dicts), `add_generation_prompt`, `tools` (none) and the tokenizer's
// named special tokens (bos_token, eos_token, unk_token, pad_token), as tokenization_utils_base passes
// `special_tokens_map`. Tested against transformers on real templates (scripts/make_chat_template_fixtures.py;
// docs/chat-templates.md).
// Also the official RPO prompt markers (plain text, docs/method.md §17.13).
// Reference: transformers 5.25.0 tokenization_utils_base.py (apply_chat_template),
// utils/chat_template_utils.py (render_jinja_template).
import Foundation
import RPOCore

// ChatMessage (role, content) is the judge's type (Judging/JudgePrompts.swift).

/// How rpo-sample turns a raw prompt text into a model prompt.
public enum ChatTemplateMode: String, CaseIterable, Sendable {
    /// The model's chat template (an error if it does not parse or rejects the prompt), or the text as is if
    /// it has none.
    case auto
    /// The text as is.
    case none
    /// The official RPO formatting: "\n<|user|>\n" + text + "\n<|assistant|>\n" (plain text).
    case rpoMarkers = "rpo-markers"
}

public struct ChatTemplate: Sendable {
    /// The Jinja text.
    public let source: String
    let template: JinjaTemplate
    /// The template's variables besides messages and add_generation_prompt (the special tokens).
    public var variables: [String: String]

    /// The RPO markers of the official code (Tulu style, not special tokens for Llama or Mistral).
    public static let userMarker = "\n<|user|>\n", assistantMarker = "\n<|assistant|>\n"

    /// Compiles a chat template; `variables` are the special tokens it may read (bos_token, eos_token, ...).
    /// A template that does not parse is an error naming the line and column.
    public init(_ source: String, variables: [String: String] = [:]) throws(SamplingError) {
        self.source = source
        self.variables = variables
        do { template = try JinjaTemplate(source) } catch {
            throw .invalidSetting("the model's chat template does not parse: \(error); use --chat-template none or rpo-markers, or give prompt_ids")
        }
    }

    /// The tokenizer's chat template with its special tokens, or nil when it has none.
    public static func of(_ tokenizer: Tokenizer) throws(SamplingError) -> ChatTemplate? {
        guard let t = tokenizer.chatTemplate else { return nil }
        return try ChatTemplate(t, variables: tokenizer.chatTemplateVariables)
    }

    /// The prompt text of a conversation, as transformers' apply_chat_template(tokenize=False) renders it. A
    /// template that rejects the conversation (raise_exception, a type error) is an error saying where.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, now: Date = Date()) throws(SamplingError) -> String {
        var context: [String: JinjaValue] = [:]
        for (k, v) in variables { context[k] = .string(v) }
        context["messages"] = .list(messages.map {
            var d = JinjaDict()
            d.set(.string("role"), .string($0.role))
            d.set(.string("content"), .string($0.content))
            return .dict(d)
        })
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        context["tools"] = JinjaValue.none
        context["documents"] = JinjaValue.none
        do { return try template.render(context, now: now) } catch {
            throw .invalidSetting("the model's chat template failed: \(error)")
        }
    }

    /// The official RPO prompt of one user turn.
    public static func rpoMarkers(_ text: String) -> String { userMarker + text + assistantMarker }
}

extension Tokenizer {
    /// The named special tokens a chat template sees (transformers' special_tokens_map: bos, eos, unk, pad
    /// where the tokenizer has them).
    public var chatTemplateVariables: [String: String] {
        var v: [String: String] = [:]
        if let t = bosToken { v["bos_token"] = t }
        if let t = eosToken { v["eos_token"] = t }
        if let id = unkTokenId, let t = token(id) { v["unk_token"] = t }
        if let id = padTokenId, let t = token(id) { v["pad_token"] = t }
        return v
    }
}
