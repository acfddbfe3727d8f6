// Chat templates without a Jinja engine: a model's template text is recognised as one of the forms rpo
// renders natively (ChatML, with or without a default system message as SmolLM2's), and anything else is
// refused with a clear error rather than rendered wrongly. Rendering matches transformers'
// apply_chat_template(messages, add_generation_prompt=..., tokenize=False) exactly for the recognised forms
// (tested on SmolLM2-135M-Instruct's template, scripts/make_sample_fixtures.py smollm).
// Also the official RPO prompt markers (plain text, docs/method.md §17.13).
// Reference: transformers 5.24.0 utils/chat_template_utils.py (Jinja with trim_blocks, lstrip_blocks).
import Foundation
import RPOCore

// ChatMessage (role, content) is the judge's type (Judging/JudgePrompts.swift).

/// How rpo-sample turns a raw prompt text into a model prompt.
public enum ChatTemplateMode: String, CaseIterable, Sendable {
    /// The model's chat template (an error if it has one rpo cannot render), or the text as is if it has none.
    case auto
    /// The text as is.
    case none
    /// The official RPO formatting: "\n<|user|>\n" + text + "\n<|assistant|>\n" (plain text).
    case rpoMarkers = "rpo-markers"
}

public enum ChatTemplate: Sendable, Equatable {
    /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message, `<|im_start|>assistant\n` as the generation
    /// prompt; with `defaultSystem`, a system message is put first when the conversation has none.
    case chatML(defaultSystem: String?)

    /// The RPO markers of the official code (Tulu style, not special tokens for Llama or Mistral).
    public static let userMarker = "\n<|user|>\n", assistantMarker = "\n<|assistant|>\n"

    // The Jinja texts recognised, split around the default system message where there is one. Compared
    // after removing a final newline (template files often end with one; Jinja keeps it only with
    // keep_trailing_newline, which transformers does not set).
    static let chatMLLoop = "{% for message in messages %}"
    static let chatMLBody = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    static let defaultSystemOpen = "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    static let defaultSystemClose = "<|im_end|>\n' }}{% endif %}"

    /// Recognises a model's chat template text; an unknown template is an error naming its start.
    public static func recognize(_ template: String) throws(SamplingError) -> ChatTemplate {
        var t = template
        if t.hasSuffix("\n") { t.removeLast() }
        if t == chatMLLoop + chatMLBody { return .chatML(defaultSystem: nil) }
        let open = chatMLLoop + defaultSystemOpen, close = defaultSystemClose + chatMLBody
        if t.hasPrefix(open) && t.hasSuffix(close) && t.count >= open.count + close.count {
            let system = String(t.dropFirst(open.count).dropLast(close.count))
            // the message is a Jinja string literal in single quotes: refuse escapes and quotes we would misread
            if !system.contains("'") && !system.contains("\\") && !system.contains("{") {
                return .chatML(defaultSystem: system)
            }
        }
        let head = String(template.prefix(60)).replacingOccurrences(of: "\n", with: "\\n")
        throw .invalidSetting("the model's chat template is not one rpo can render (ChatML forms only): \"\(head)...\"; use --chat-template none or rpo-markers, or give prompt_ids")
    }

    /// The prompt text of a conversation, as transformers' apply_chat_template(tokenize=False) renders it.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        switch self {
        case .chatML(let system):
            var s = ""
            for (i, m) in messages.enumerated() {
                if i == 0, let system, messages[0].role != "system" { s += "<|im_start|>system\n\(system)<|im_end|>\n" }
                s += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n"
            }
            if addGenerationPrompt { s += "<|im_start|>assistant\n" }
            return s
        }
    }

    /// The official RPO prompt of one user turn.
    public static func rpoMarkers(_ text: String) -> String { userMarker + text + assistantMarker }
}
