// rpo-embed: adds a sentence embedding (all-MiniLM-L6-v2 or any BERT sentence encoder) to each record.
// Thin executable: options, model resolution, streams; the work is EmbedRecords (Sources/RPOTools/Models) and
// SentenceEncoder (Sources/RPOCore/Models).
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

@main
struct RPOEmbed: ParsableCommand {
    static func main() { Tool.main(Self.self) }


    static let configuration = CommandConfiguration(
        commandName: "rpo-embed",
        abstract: "Add sentence embeddings to records, as sentence-transformers computes them.",
        discussion: """
        Each record's text field (default "prompt", the post-truncation prompt text
        of rpo-tokenize's example and item records) is embedded and the vector added
        as a new field (default "prompt_embedding") after the existing fields; a
        record that already has that field gets it replaced in place. Every other
        field passes through unchanged, in order. Records stream in batches of
        --batch-size and are written in input order.

        The embedding is what SentenceTransformer(DIR).encode(texts) returns
        (sentence-transformers 6.2): WordPiece with [CLS]/[SEP], inputs cut to
        max_seq_length word-pieces keeping the start (256 for all-MiniLM-L6-v2;
        tokenizer.json's own truncation and padding are ignored), BERT, the
        directory's pooling (mean for all-MiniLM-L6-v2; cls, max,
        mean_sqrt_len_tokens, weightedmean and lasttoken too), its Dense modules,
        and L2 normalisation when the directory has a Normalize module. A plain
        Hugging Face BERT directory (config.json, tokenizer.json,
        model.safetensors) gets mean pooling without normalisation, as
        sentence-transformers builds it. Values are float32, written in their
        shortest round-trip form. The output does not depend on --batch-size or
        on the number of threads.

        Model: --model DIR, else $RPO_EMBED_MODEL, else models/all-MiniLM-L6-v2
        in the current directory (`make models` puts it in the repository).

        Input (JSON Lines; zstd, gzip or plain):
          {"prompt": "\\n<|user|>\\nHow do I ...\\n<|assistant|>\\n", ...}
        Output:
          {"prompt": "...", ...the same fields...,
           "prompt_embedding": [0.0123, -0.0456, ...384 floats]}
        With --text, each input line (blank lines included) is one text and the
        output is
          {"text": "the line", "embedding": [...]}
        (--field and --into rename these two fields).

        Examples:
          rpo-tokenize --dataset hh --tokenizer DIR hh.jsonl.gz \\
            | rpo-embed | rpo-pairs --layout paired -o batches.zst
          cat sentences.txt | rpo-embed --text --no-compress
          rpo-embed --model my-sbert-dir --field question --into q_vec \\
            questions.jsonl -o questions.emb.jsonl.zst
        """)

    @OptionGroup var inputOptions: InputOptions
    @OptionGroup var outputOptions: OutputOptions

    @Option(help: ArgumentHelp("The sentence-transformers or Hugging Face BERT model directory (default: $RPO_EMBED_MODEL, then ./models/all-MiniLM-L6-v2).",
                               valueName: "dir"))
    var model: String?

    @Option(help: "The text field to embed (with --text: the field the line is written to; default text).")
    var field: String?

    @Option(help: "The field the embedding is written to (default prompt_embedding; with --text: embedding).")
    var into: String?

    @Option(help: "Records per batch (memory holds one batch).")
    var batchSize: Int = 256

    @Flag(help: "Read plain text, one text per line, instead of JSON records.")
    var text = false

    @Option(help: "Threads (default: $RPO_THREADS, else every core).")
    var threads: Int?

    @OptionGroup var display: DisplayOptions

    var parameters: EmbedOptions {
        var o = EmbedOptions()
        o.field = field ?? (text ? "text" : "prompt")
        o.into = into ?? (text ? "embedding" : "prompt_embedding")
        o.batchSize = batchSize
        o.plainText = text
        return o
    }

    mutating func validate() throws {
        do { try parameters.validate() } catch { throw ValidationError(error.description) }
        if let t = threads, t < 1 { throw ValidationError("--threads must be positive") }
    }

    func run() throws {
        try Tool.run("rpo-embed", display: display) { diag in
            let options = parameters
            if let t = threads { Parallel.threads = t; BLAS.setThreads(t) }
            let dir = try EmbedRecords.resolveModel(model, environment: ProcessInfo.processInfo.environment,
                                                    currentDirectory: FileManager.default.currentDirectoryPath)
            let encoder = try SentenceEncoder.load(path: dir)
            diag.info("model \(dir): \(encoder.moduleNames.joined(separator: " -> ")), max_seq_length \(encoder.maxSeqLength), dimension \(encoder.dimension)")
            let records = text ? nil : try inputOptions.openRecords()
            let lines = text ? try inputOptions.openLines() : nil
            let writer = try outputOptions.openRecords()
            let bar = ProgressLine(enabled: display.showProgress, label: "rpo-embed", unit: "records")
            let s = try EmbedRecords.run(records: records, lines: lines, output: writer, encoder: encoder,
                                         options: options) { bar.update($0) }
            try writer.finish()
            bar.finish()
            let rate = s.seconds > 0 ? Double(s.embedded) / s.seconds : 0
            diag.note("\(s.records) records, \(s.embedded) texts embedded (\(s.tokens) word-pieces, \(s.truncated) truncated at \(encoder.maxSeqLength)) in \(String(format: "%.1f", s.seconds)) s, \(String(format: "%.1f", rate)) texts/s")
        }
    }
}
