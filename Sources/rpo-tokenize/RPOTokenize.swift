// rpo-tokenize: preference datasets -> token records (example or item records), the first stage of the
// pipeline. Thin: options, validation, streams; the logic is RPOAlignment/Data (readers, formatting, tokenisation).
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

extension DatasetKind: ExpressibleByArgument {}
extension TokenizationMode: ExpressibleByArgument {}
extension TruncationMode: ExpressibleByArgument {}
extension HHPrefixPolicy: ExpressibleByArgument {}

@main
struct RPOTokenize: ParsableCommand {
    static func main() { Tool.main(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "rpo-tokenize",
        abstract: "Format and tokenise a preference dataset exactly as the official RPO loader does.",
        discussion: """
        Reads a dataset in its published format (JSON Lines, zstd/gzip/plain, or one JSON array), formats \
        it as the official code does (chat markers, spaces collapsed, rows sharing a prompt merged), \
        tokenises every pair and writes one record per pair. Schemas in detail: docs/records.md.

        INPUT (--dataset):
          hh          {chosen, rejected} transcripts
          tldr        {info: {post}, summaries: [{text}, {text}], choice}
          shp         {history, human_ref_A, human_ref_B, score_A, score_B, labels}
          oasst       oasst1 messages {message_id, parent_id, text, role, lang, rank}
                      or message trees {message_tree_id, prompt: {..., replies}}
          ultrabin    {prompt, chosen: [messages], rejected: [messages]}
          alpacaeval  [{instruction, output, dataset}] (a JSON array)
          generic     {prompt, chosen, rejected}: strings or [{role, content}]
          unpaired    {prompt, completion, label: true|false}

        OUTPUT, example records (one per pair; the pairs of a prompt share prompt_id):
          id                  "hh:test:17:0"
          prompt_id           "hh:test:17"
          dataset, split      "hh", "test"
          prompt              prompt text after truncation, decoded (the
                              rejected element's, as upstream)
          chosen, rejected    the formatted completions
          prompt_ids          [int]
          chosen_input_ids    [int]  prompt + completion + EOS
          chosen_label_start  int    positions >= it are scored
          rejected_input_ids, rejected_label_start
          sft_target          bool   the record the SFT stage trains on, once
                              per prompt ("sft_completion": "rejected" when
                              upstream's SFT text is its rejected completion)
        alpacaeval records have no rejected fields, and add instruction, subset.
        Item records (--unpaired, and --dataset unpaired), one per completion:
          id, prompt_id, dataset, split, prompt, completion,
          status ("chosen"|"rejected"), prompt_ids, input_ids, label_start

        MODES:
          official  the upstream round trip: encode, truncate, decode, append
                    " " + EOS text, re-encode prompt and prompt + completion;
                    label start = re-encoded prompt length. Completions whose
                    combined ids do not start with the prompt ids ("boundary
                    drift") are counted on stderr; -v lists them.
          concat    prompt ids + completion ids + EOS id; label start = prompt
                    length (exact boundaries, no re-tokenisation).

        RAW: --raw [--field text] adds <field>_ids to any record (plain-text \
        lines are taken as {"text": line}); --decode [--field text_ids] adds \
        the decoded text as <field> without "_ids". Marker options accept the \
        escapes \\n, \\t, \\r and \\\\.

        EXAMPLES:
          rpo-tokenize --dataset hh --split test \\
              --tokenizer models/SmolLM2-135M-Instruct.Q4_1.gguf \\
              data/hh-rlhf/harmless-base/test.jsonl.gz -o hh-test.zst
          rpo-tokenize --dataset hh --split test --tokenizer MODEL HH.jsonl.gz \\
              | rpo-embed | rpo-pairs --layout paired | rpo-train ...
          echo 'Hello world' | rpo-tokenize --raw --tokenizer MODEL --no-compress
        """)

    @Option(help: "Dataset format of the input.")
    var dataset: DatasetKind?

    @Option(help: ArgumentHelp("Tokenizer: a model directory (tokenizer.json, or vocab.json + merges.txt) or a .gguf file.", valueName: "path"))
    var tokenizer: String

    @Option(help: "Split name written into the records; 'train' also enables SHP's score-ratio filter and pair cap. Default: train (test for alpacaeval).")
    var split: String?

    @Option(name: .customLong("max-length"), help: "Maximum prompt + completion tokens before the EOS text (max_length).")
    var maxLength = 512

    @Option(name: .customLong("max-prompt-length"), help: "Prompt tokens kept when a prompt is truncated (max_prompt_length).")
    var maxPromptLength = 256

    @Option(help: "Tokenisation: official (upstream round trip) or concat (exact id concatenation).")
    var mode: TokenizationMode = .official

    @Flag(help: "Write item records (one per completion) for unpaired losses.")
    var unpaired = false

    @Option(name: .customLong("truncation"), help: "Override the dataset's prompt truncation (keep_start or keep_end).")
    var truncation: TruncationMode?

    @Option(name: .customLong("user-marker"), help: "Text before each user turn (human_prefix).")
    var userMarker = "\\n<|user|>\\n"

    @Option(name: .customLong("assistant-marker"), help: "Text before each assistant turn (assistant_prefix).")
    var assistantMarker = "\\n<|assistant|>\\n"

    @Option(name: .customLong("user-suffix"), help: "Text after each user turn (human_suffix).")
    var userSuffix = ""

    @Option(name: .customLong("assistant-suffix"), help: "Text after each assistant turn and completion (assistant_suffix).")
    var assistantSuffix = ""

    @Option(name: .customLong("hh-mismatch"), help: "HH rows whose rejected transcript does not start with the chosen prompt: reproduce (upstream), skip or error.")
    var hhMismatch: HHPrefixPolicy = .reproduce

    @Flag(name: .customLong("verbatim-prompt"), help: "generic/unpaired: use string prompts as they are, without markers.")
    var verbatimPrompt = false

    @Flag(name: .customLong("keep-spaces"), help: "Do not collapse runs of spaces/tabs (upstream does).")
    var keepSpaces = false

    @Flag(help: "Tokenise one string field of any record (see --field).")
    var raw = false

    @Flag(help: "Decode one id-array field of any record (see --field).")
    var decode = false

    @Option(help: "The field for --raw (default text) or --decode (default text_ids).")
    var field: String?

    @Flag(name: .customLong("no-special-tokens"), help: "--raw: do not add BOS/EOS; --decode: drop special tokens from the text.")
    var noSpecialTokens = false

    @OptionGroup var input: InputOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var display: DisplayOptions
    @OptionGroup var seed: SeedOptions

    func validate() throws {
        if raw && decode { throw ValidationError("--raw and --decode exclude each other") }
        if raw || decode {
            if dataset != nil { throw ValidationError("--dataset cannot be combined with --\(raw ? "raw" : "decode")") }
        } else {
            if dataset == nil { throw ValidationError("give --dataset (or --raw / --decode)") }
            if field != nil { throw ValidationError("--field applies to --raw and --decode only") }
        }
        if maxPromptLength < 1 { throw ValidationError("--max-prompt-length must be at least 1") }
        if maxLength < maxPromptLength { throw ValidationError("--max-length must be at least --max-prompt-length") }
        for marker in [userMarker, assistantMarker, userSuffix, assistantSuffix] {
            do { _ = try Self.unescape(marker) } catch { throw ValidationError("\(error)") }
        }
        if verbatimPrompt && dataset != .generic && dataset != .unpaired {
            throw ValidationError("--verbatim-prompt applies to --dataset generic and unpaired")
        }
    }

    /// `\n`, `\t`, `\r`, `\\` in a marker option.
    static func unescape(_ s: String) throws -> String {
        var out = ""
        var it = s.makeIterator()
        while let c = it.next() {
            guard c == "\\" else { out.append(c); continue }
            switch it.next() {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case let other: throw CLIError.usage("unknown escape '\\\(other.map(String.init) ?? "")' in a marker (use \\n, \\t, \\r or \\\\)")
            }
        }
        return out
    }

    func run() throws {
        try Tool.run("rpo-tokenize", display: display) { diag in
            let progress = ProgressLine(enabled: display.showProgress, label: "rpo-tokenize")
            defer { progress.finish() }
            if raw || decode {
                var o = RawTokenizeOptions(field: field ?? (decode ? "text_ids" : "text"))
                o.decode = decode
                o.specialTokens = !noSpecialTokens
                let lines = try input.openLines()
                let tok = try Tokenizer.load(path: tokenizer)
                let writer = try output.openRecords()
                let n = try RawTokenize.run(lines, tokenizer: tok, options: o, to: writer) { progress.update($0) }
                try writer.finish()
                diag.info("\(n) records")
                return
            }
            let kind = dataset!
            var opts = DatasetOptions(split: split ?? kind.defaultSplit)
            opts.markers = ChatMarkers(humanPrefix: try Self.unescape(userMarker), humanSuffix: try Self.unescape(userSuffix),
                                       assistantPrefix: try Self.unescape(assistantMarker), assistantSuffix: try Self.unescape(assistantSuffix))
            opts.truncation = truncation
            opts.hhPrefix = hhMismatch
            opts.seed = seed.seed
            opts.verbatimPrompt = verbatimPrompt
            opts.keepSpaces = keepSpaces
            let source = try DataRecordSource(path: input.input, maxLineBytes: input.maxLineBytes)
            let (data, load) = try DatasetReader.read(kind, from: source, options: opts)
            if !load.hhPrefixMismatches.isEmpty {
                let what = hhMismatch == .skip ? "skipped" : "cut at the chosen prompt's length, as upstream (--hh-mismatch skip|error to change)"
                diag.note("\(load.hhPrefixMismatches.count) hh rows whose rejected transcript does not start with the chosen prompt (records \(load.hhPrefixMismatches.map(String.init).joined(separator: ", "))): \(what)")
            }
            for (reason, n) in load.skipped.sorted(by: { $0.key < $1.key }) where !reason.hasPrefix("hh ") {
                diag.note("left out: \(n) \(reason)")
            }
            // The tokenizer is loaded once the data has been read and checked: bad data fails fast.
            let tok = try Tokenizer.load(path: tokenizer)
            var ro = RecordOptions(dataset: kind.rawValue, split: opts.split)
            ro.unpaired = unpaired
            let element = try ElementTokenizer(tokenizer: tok, mode: mode, maxLength: maxLength, maxPromptLength: maxPromptLength)
            let writer = try output.openRecords()
            let report = try ExampleRecords.write(data, tokenizer: element, options: ro, to: writer) { progress.update($0) }
            try writer.finish()
            progress.finish()
            diag.note("\(kind.rawValue) \(opts.split): \(load.records) input records, \(report.prompts) prompts -> \(report.records) \(unpaired || kind == .unpaired ? "item" : "example") records (\(mode.rawValue) mode); \(report.promptsTruncated) prompts and \(report.completionsTruncated) completions truncated")
            if mode == .official {
                diag.note("boundary drift: \(report.drift.count) of \(report.elements) tokenised completions have combined ids that do not start with the re-encoded prompt ids\(report.drift.isEmpty ? "" : " (-v lists them; --mode concat avoids it)")")
                for d in report.drift { diag.info("boundary drift: \(d.id) (\(d.side))") }
            }
        }
    }
}
