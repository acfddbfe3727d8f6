// rpo-sample: prompts -> completions with a KV cache, transformers' sampling filters and per-sample seeds;
// sample records for rpo-judge or the AlpacaEval JSON list. Thin executable: the work is SampleRun in
// Sources/RPOTools/Sampling/SampleRun.swift.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

extension SampleOptions.Format: ExpressibleByArgument {}
extension ChatTemplateMode: ExpressibleByArgument {}

@main
struct RPOSample: ParsableCommand {
    static func main() { Tool.main(Self.self) }


    static let configuration = CommandConfiguration(
        commandName: "rpo-sample",
        abstract: "Complete prompts with a causal LM (KV cache; temperature, top-k, top-p, min-p; seeded).",
        discussion: """
        Sampling as the official RPO eval.py does it: the first --n-samples unique
        prompts of the input (shuffle upstream if wanted), one sample each,
        top-p 0.95, a 512-token budget counting the prompt (--max-length; the
        official code counts the longest left-padded prompt of its batch of 32,
        rpo each prompt's own length), the prompt removed from the decoded text
        by its length. Temperature, top-k and the repetition penalty default to
        the model's generation_config.json, else transformers' defaults (1.0,
        50, 1.0). Filters apply in transformers' order: repetition penalty,
        temperature, top-k, top-p, min-p; temperature 0 is greedy (argmax).
        Each sample has its own random stream, a function of --seed, the
        prompt's index and the sample's index, and decoding steps are
        batch-invariant: the output does not depend on --batch-size (the same
        input, seed, thread count and CPU give the same bytes). A sample ends
        at an EOS token, a --stop string (cut before it) or its budget.

        Input, one record per line: example records of rpo-tokenize (their
        "prompt_ids" are used as they are; records with "sft_target": false and
        repeated "prompt_id"s are skipped, as the official SFT loader samples
        each prompt once), or raw {"prompt": text} / {"instruction": text}
        records, tokenized with the model's tokenizer after --chat-template:
          auto         the model's chat template (Jinja, rendered as transformers'
                       apply_chat_template) with the text as one user turn; a
                       template that fails is an error naming its line and
                       column; a model without one: the text as is
          none         the text as is (special tokens added as tok(text) does)
          rpo-markers  "\\n<|user|>\\n" + text + "\\n<|assistant|>\\n"
        Other fields pass through.

        Output (--format rpo), one record per sample, in input order:
          {..., "id", "prompt", "prompt_ids", "chosen" (if given), "policy",
           "policy_ids", "finish_reason": "eos"|"stop"|"length", "model",
           "seed", "sampling": {...}}
        With --samples-per-prompt K > 1 the ids get "/k" and "sample_index".
        --format alpacaeval writes the AlpacaEval JSON list (all prompts by
        default, none dropped): [{"instruction", "output" (stripped),
        "generator", "dataset"}].

        Examples:
          rpo-tokenize --dataset hh ... | rpo-sample --model run/ckpt \\
              --n-samples 256 | rpo-judge --task dialogue ...
          jq -c '.[]' data/alpaca_eval/example/outputs.json | rpo-sample \\
              --model models/SmolLM2-135M-Instruct.Q4_1.gguf \\
              --format alpacaeval -o outputs.json
        """)

    @OptionGroup var inputOptions: InputOptions
    @OptionGroup var outputOptions: OutputOptions

    @Option(help: "A GGUF file or a Hugging Face model directory.") var model: String
    @Option(help: "Unique prompts to sample (default 256; all with --format alpacaeval; 0 = all).") var nSamples: Int?
    @Option(help: "Divides the logits (default: generation_config.json, else 1.0); 0 = greedy.") var temperature: Double?
    @Option(help: "Keep the smallest most-probable set as transformers' top_p; 1 = off.") var topP: Double = 0.95
    @Option(help: "Keep the k most probable tokens (default: generation_config.json, else 50); 0 = off.") var topK: Int?
    @Option(help: "Drop tokens below min-p times the top probability (default: off).") var minP: Double?
    @Option(help: "Penalty on tokens already in the sequence (default: generation_config.json, else 1.0).") var repetitionPenalty: Double?
    @Option(help: "New tokens per sample at most.") var maxNewTokens: Int?
    @Option(help: "Prompt plus new tokens at most (default 512 unless --max-new-tokens is given).") var maxLength: Int?
    @Option(help: "Longest prompt accepted, in tokens.") var maxPromptLength: Int?
    @Flag(help: "Cut prompts over the limits to their last tokens instead of failing.") var truncatePrompts = false
    @Option(name: .customLong("stop"), help: "A text that ends a sample (repeatable).") var stop: [String] = []
    @Flag(help: "Do not stop at EOS tokens (fixed-length samples).") var ignoreEos = false
    @Option(help: "Samples per prompt.") var samplesPerPrompt = 1
    @Option(help: "Sequences decoded together.") var batchSize = 8
    @Option(help: "rpo (sample records) or alpacaeval (the AlpacaEval JSON list).") var format: SampleOptions.Format = .rpo
    @Option(help: "auto, none or rpo-markers: how raw prompt texts become model prompts.") var chatTemplate: ChatTemplateMode = .auto
    @Option(help: "The AlpacaEval generator name (default: the model's file or directory name).") var generator: String?
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var display: DisplayOptions

    mutating func validate() throws {
        if let n = nSamples, n < 0 { throw ValidationError("--n-samples must be >= 0") }
        if let n = maxNewTokens, n < 1 { throw ValidationError("--max-new-tokens must be >= 1") }
        if let n = maxLength, n < 2 { throw ValidationError("--max-length must be >= 2") }
        if let n = maxPromptLength, n < 1 { throw ValidationError("--max-prompt-length must be >= 1") }
        if samplesPerPrompt < 1 { throw ValidationError("--samples-per-prompt must be >= 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be >= 1") }
        if format == .alpacaeval && samplesPerPrompt > 1 {
            throw ValidationError("--format alpacaeval takes one output per instruction (--samples-per-prompt 1)")
        }
        if stop.contains("") { throw ValidationError("--stop needs a non-empty text") }
        do {
            try SamplingSettings(temperature: temperature ?? 1, topK: topK ?? 0, topP: topP, minP: minP,
                                 repetitionPenalty: repetitionPenalty ?? 1).validate()
        } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        try Tool.run("rpo-sample", display: display) { diag in
            let m = try SampleModel.load(path: model)
            let reader = try inputOptions.openRecords()
            let sampling = m.defaults.settings(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                               repetitionPenalty: repetitionPenalty)
            let eos = ignoreEos ? [] : (m.defaults.eosTokenIds ?? m.tokenizer.eosTokenId.map { [$0] } ?? [])
            var o = SampleOptions(model: m.name, generation: GenerationOptions(
                sampling: sampling, eosTokenIds: Set(eos), stopStrings: stop, batchSize: batchSize))
            o.generator = generator
            o.prompts = nSamples.map { $0 == 0 ? nil : $0 } ?? (format == .alpacaeval ? nil : 256)
            o.samplesPerPrompt = samplesPerPrompt
            o.maxNewTokens = maxNewTokens
            o.maxLength = maxLength ?? (maxNewTokens == nil ? 512 : nil)
            o.maxPromptLength = maxPromptLength
            o.truncatePrompts = truncatePrompts
            o.chatTemplate = chatTemplate
            o.format = format
            o.seed = seedOptions.seed
            // The AlpacaEval list is one JSON document: plain unless the name asks for zstd.
            let zst = (outputOptions.output ?? "").hasSuffix(".zst")
            let writer = format == .alpacaeval && !zst ? RecordWriter(try FileSink(path: outputOptions.output))
                                                       : try outputOptions.openRecords()
            let bar = ProgressLine(enabled: display.showProgress, label: "rpo-sample", unit: "samples",
                                   total: o.prompts.map { $0 * samplesPerPrompt })
            let s = try SampleRun.run(model: m.model, tokenizer: m.tokenizer, input: reader, output: writer,
                                      options: o) { bar.update($0) }
            bar.finish()
            let reasons = s.finishReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            diag.note("\(s.samples) samples of \(s.prompts) prompts: \(s.generatedTokens) tokens in \(String(format: "%.1f", s.seconds)) s (\(String(format: "%.1f", Double(s.generatedTokens) / max(s.seconds, 1e-9))) tokens/s); finish: \(reasons.isEmpty ? "-" : reasons)\(s.truncatedPrompts > 0 ? "; \(s.truncatedPrompts) prompts truncated" : "")")
        }
    }
}
