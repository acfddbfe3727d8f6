// rpo-sample's library entry point: records in, prompts out of them (prompt_ids, or raw text through the
// chat template), completions by the Generator, sample records (or the AlpacaEval JSON list) out, in input
// order. Sampling follows the official eval.py (docs/method.md §14): one sample per unique prompt, a total
// length budget counting the prompt (512), the prompt removed from the decoded sequence by character
// length, AlpacaEval outputs stripped.
import Foundation
import RPOCore
import RPOAlignment

public struct SampleOptions: Sendable {
    public enum Format: String, CaseIterable, Sendable {
        /// One sample record per completion (JSON Lines).
        case rpo
        /// The AlpacaEval model_outputs JSON list: [{instruction, output, generator, dataset}].
        case alpacaeval
    }

    /// Recorded in each sample's "model" field (and the AlpacaEval "generator" unless `generator` is set).
    public var model: String
    public var generator: String?
    /// Unique prompts to sample (the first ones of the input); nil = all.
    public var prompts: Int?
    public var samplesPerPrompt = 1
    /// New tokens per sample at most.
    public var maxNewTokens: Int?
    /// Prompt plus new tokens at most (the official budget, 512); with `maxNewTokens` both limits hold.
    public var maxLength: Int?
    /// Prompts longer than this (or leaving no room under `maxLength`) are an error, or with
    /// `truncatePrompts` keep their last tokens (the official keep_end truncation).
    public var maxPromptLength: Int?
    public var truncatePrompts = false
    public var chatTemplate: ChatTemplateMode = .auto
    public var format: Format = .rpo
    public var seed: UInt64 = 1
    public var generation: GenerationOptions

    public init(model: String, generation: GenerationOptions) {
        self.model = model
        self.generation = generation
    }
}

public struct SampleSummary: Sendable {
    public var prompts = 0
    public var samples = 0
    public var promptTokens = 0
    public var generatedTokens = 0
    public var truncatedPrompts = 0
    public var finishReasons: [String: Int] = [:]
    public var seconds = 0.0
}

/// A prompt ready to sample: the input record (its fields pass through), the prompt text and ids.
struct PreparedPrompt {
    var record: JSONObject
    var recordNumber: Int
    var index: Int
    var text: String
    var ids: [Int]
    var truncated: Bool
    var maxNewTokens: Int
}

public enum SampleRun {
    /// Samples every selected record of `input` and writes the results to `output`; `progress` is called
    /// with the number of samples written.
    public static func run(model: CausalLM, tokenizer: Tokenizer, input: RecordReader, output: RecordWriter,
                           options: SampleOptions, progress: ((Int) -> Void)? = nil) throws -> SampleSummary {
        let start = Date()
        var summary = SampleSummary()
        var builder = PromptBuilder(tokenizer: tokenizer, options: options, config: model.config)
        let K = options.samplesPerPrompt
        if K < 1 { throw SamplingError.invalidSetting("samples per prompt must be at least 1") }
        let generator = try Generator(model: model, options: options.generation) { ids in
            tokenizer.decode(ids, skipSpecialTokens: true)
        }
        var writer = SampleWriter(output: output, options: options)

        var current: PreparedPrompt?
        var nextSample = K
        var requests: [Int: (PreparedPrompt, Int)] = [:]   // request index -> (prompt, sample index)
        var pulled = 0
        var finished: [Int: Generation] = [:]
        var nextToWrite = 0

        try generator.run(next: {
            if nextSample == K {
                if let limit = options.prompts, summary.prompts >= limit { return nil }
                guard let p = try builder.next(input) else { return nil }
                current = p
                nextSample = 0
                summary.prompts += 1
                if p.truncated { summary.truncatedPrompts += 1 }
            }
            let p = current!
            requests[pulled] = (p, nextSample)
            pulled += 1
            defer { nextSample += 1 }
            return GenerationRequest(promptIds: p.ids, maxNewTokens: p.maxNewTokens,
                                     rng: SampleStreams.rng(seed: options.seed, record: p.index, sample: nextSample))
        }, done: { i, g in
            finished[i] = g
            while let g = finished.removeValue(forKey: nextToWrite) {
                let (p, k) = requests.removeValue(forKey: nextToWrite)!
                try writer.write(p, sample: k, g, tokenizer: tokenizer, source: input.name)
                summary.samples += 1
                summary.finishReasons[g.finishReason.rawValue, default: 0] += 1
                nextToWrite += 1
                progress?(summary.samples)
            }
        })
        try writer.finish()
        summary.promptTokens = generator.promptTokens
        summary.generatedTokens = generator.generatedTokens
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }
}

/// Reads records and turns each selected one into a prompt.
struct PromptBuilder {
    let tokenizer: Tokenizer
    let options: SampleOptions
    let config: ModelConfig
    var template: ChatTemplate??    // resolved on the first raw-text record (nil inside: the model has none)
    var seenPromptIds = Set<String>()
    var count = 0

    init(tokenizer: Tokenizer, options: SampleOptions, config: ModelConfig) {
        self.tokenizer = tokenizer
        self.options = options
        self.config = config
    }

    /// The next prompt to sample, skipping records that repeat a prompt; nil at the end of the input.
    mutating func next(_ input: RecordReader) throws -> PreparedPrompt? {
        while let record = try input.read() {
            let fail = { (m: String) in RecordError(source: input.name, record: input.recordNumber, m) }
            // A prompt with several pairs is sampled once, from the record marked as its SFT target.
            if record["sft_target"]?.boolValue == false { continue }
            if let pid = record["prompt_id"], case .string(let s) = pid {
                if !seenPromptIds.insert(s).inserted { continue }
            }
            var text: String, ids: [Int]
            if record["prompt_ids"] != nil && record["prompt_ids"] != .null {
                ids = try input.field(record, "prompt_ids").intArray()
                if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                    throw fail("prompt_ids holds \(bad), outside the model's vocabulary (\(config.vocabSize))")
                }
                text = record["prompt"]?.stringValue ?? tokenizer.decode(ids, skipSpecialTokens: true)
            } else {
                let raw: String
                if let p = record["prompt"], p != .null { raw = try input.field(record, "prompt").string() }
                else if let p = record["instruction"], p != .null { raw = try input.field(record, "instruction").string() }
                else { throw fail("missing field \"prompt\" (or \"prompt_ids\", \"instruction\")") }
                do { text = try format(raw) } catch { throw fail(error.description) }
                // apply_chat_template tokenizes the rendered text without adding special tokens; plain
                // prompts are tokenized as the official code does, tok(prompt) (BOS where the model adds one)
                let templated = options.chatTemplate == .auto && template! != nil
                ids = tokenizer.encode(text, addSpecialTokens: !templated)
            }
            if ids.isEmpty { throw fail("the prompt is empty (no tokens)") }
            // Budgets: the prompt must leave room for one new token under --max-length.
            var limit = Int.max
            if let L = options.maxLength { limit = L - 1 }
            if let P = options.maxPromptLength { limit = min(limit, P) }
            limit = min(limit, config.maxPositions)  // the context (max_position_embeddings / context_length)
            var truncated = false
            if ids.count > limit {
                if !options.truncatePrompts {
                    throw fail("the prompt has \(ids.count) tokens, more than the \(limit) allowed (\(limitReason)); --truncate-prompts keeps its last \(limit)")
                }
                ids = Array(ids.suffix(limit))
                text = tokenizer.decode(ids, skipSpecialTokens: true)
                truncated = true
            }
            var budget = options.maxNewTokens ?? Int.max
            if let L = options.maxLength { budget = min(budget, L - ids.count) }
            // the context: the last new token is not fed back, so prompt + budget - 1 positions
            budget = min(budget, config.maxPositions - ids.count + 1)
            let p = PreparedPrompt(record: record, recordNumber: input.recordNumber, index: count, text: text,
                                   ids: ids, truncated: truncated, maxNewTokens: budget)
            count += 1
            return p
        }
        return nil
    }

    var limitReason: String {
        var r: [String] = []
        if let L = options.maxLength { r.append("--max-length \(L) leaves one new token at least") }
        if let P = options.maxPromptLength { r.append("--max-prompt-length \(P)") }
        r.append("the model's context is \(config.maxPositions) positions")
        return r.joined(separator: "; ")
    }

    /// A raw prompt text as the model's prompt, per --chat-template.
    mutating func format(_ raw: String) throws(SamplingError) -> String {
        switch options.chatTemplate {
        case .none: return raw
        case .rpoMarkers: return ChatTemplate.rpoMarkers(raw)
        case .auto:
            if template == nil {
                template = .some(try ChatTemplate.of(tokenizer))
            }
            guard let t = template! else { return raw }
            return try t.render([ChatMessage(role: "user", content: raw)], addGenerationPrompt: true)
        }
    }
}

/// Writes finished samples: sample records, or the AlpacaEval JSON list (one item held back so the
/// separating commas can be written as items arrive).
struct SampleWriter {
    let output: RecordWriter
    let options: SampleOptions
    var pendingItem: String?
    var items = 0

    init(output: RecordWriter, options: SampleOptions) {
        self.output = output
        self.options = options
    }

    mutating func write(_ p: PreparedPrompt, sample k: Int, _ g: Generation, tokenizer: Tokenizer, source: String) throws {
        // eval.py: decode prompt + completion, then drop the prompt text's length in characters (code points,
        // as Python's len)
        let full = tokenizer.decode(p.ids + g.ids, skipSpecialTokens: true)
        let promptText = tokenizer.decode(p.ids, skipSpecialTokens: true)
        var policy = full.hasPrefix(promptText) || full.unicodeScalars.starts(with: promptText.unicodeScalars)
            ? String(String.UnicodeScalarView(full.unicodeScalars.dropFirst(promptText.unicodeScalars.count)))
            : tokenizer.decode(g.ids, skipSpecialTokens: true)
        if let cut = options.generation.stopStrings.compactMap({ policy.range(of: $0)?.lowerBound }).min() {
            policy = String(policy[..<cut])
        }
        switch options.format {
        case .rpo:
            var r = p.record
            let id = r["id"].flatMap { $0.stringValue ?? $0.intValue.map(String.init) } ?? String(p.index)
            r["id"] = .string(options.samplesPerPrompt > 1 ? "\(id)/\(k)" : id)
            if options.samplesPerPrompt > 1 { r["sample_index"] = .int(k) }
            r["prompt"] = .string(p.text)
            r["prompt_ids"] = .ints(p.ids)
            if p.truncated { r["prompt_truncated"] = .bool(true) }
            r["policy"] = .string(policy)
            r["policy_ids"] = .ints(g.ids)
            r["finish_reason"] = .string(g.finishReason.rawValue)
            r["model"] = .string(options.model)
            r["seed"] = .int(Int(truncatingIfNeeded: options.seed))
            r["sampling"] = .object(settingsObject)
            try output.write(r)
        case .alpacaeval:
            var o = JSONObject()
            o["instruction"] = .string(p.record["instruction"]?.stringValue ?? p.record["prompt"]?.stringValue ?? p.text)
            o["output"] = .string(pythonStrip(policy))
            o["generator"] = .string(options.generator ?? options.model)
            if let d = p.record["subset"]?.stringValue ?? p.record["dataset"]?.stringValue { o["dataset"] = .string(d) }
            let line = try JSONSerializer.string(.object(o))
            if let prev = pendingItem { try output.writeLine((items == 1 ? "[" : "") + prev + ",") }
            pendingItem = line
        }
        items += 1
    }

    mutating func finish() throws {
        if options.format == .alpacaeval {
            if let prev = pendingItem { try output.writeLine((items == 1 ? "[" : "") + prev + "]") } else { try output.writeLine("[]") }
        }
        try output.finish()
    }

    var settingsObject: JSONObject {
        let s = options.generation.sampling
        var o = JSONObject()
        o["temperature"] = .double(s.temperature)
        o["top_k"] = .int(s.topK)
        o["top_p"] = .double(s.topP)
        o["min_p"] = s.minP.map { .double($0) } ?? .null
        o["repetition_penalty"] = .double(s.repetitionPenalty)
        o["max_new_tokens"] = options.maxNewTokens.map { .int($0) } ?? .null
        o["max_length"] = options.maxLength.map { .int($0) } ?? .null
        return o
    }
}

/// Python's str.strip(): removes leading and trailing whitespace (str.isspace code points).
func pythonStrip(_ s: String) -> String {
    func space(_ u: Unicode.Scalar) -> Bool {
        u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
    }
    let v = s.unicodeScalars
    guard let a = v.firstIndex(where: { !space($0) }) else { return "" }
    let b = v.lastIndex(where: { !space($0) })!
    return String(v[a...b])
}
