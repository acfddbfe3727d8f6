// rpo-embed's library entry point: records (or plain text lines) in, the same records with a sentence
// embedding added out, in input order. Records stream in batches of `batchSize`: memory holds one batch.
// Within a batch each distinct text is embedded once (the pairs of one prompt share their prompt text).
import Foundation
import RPOCore
import RPOAlignment

public struct EmbedOptions: Sendable {
    /// The string field embedded (JSON input), or the field the text is written to (--text).
    public var field = "prompt"
    /// The field the embedding is written to: appended, or replaced in place when the record has it.
    public var into = "prompt_embedding"
    /// Records per batch.
    public var batchSize = 256
    /// Input lines are plain text (one text per line, blank lines included), not JSON records.
    public var plainText = false

    public init() {}

    public func validate() throws(CLIError) {
        if batchSize < 1 { throw .usage("--batch-size must be positive") }
        if field.isEmpty || into.isEmpty { throw .usage("--field and --into must be non-empty") }
        if field == into { throw .usage("--field and --into must differ (the embedding would replace the text)") }
    }
}

/// What a run did, for the tool's summary line.
public struct EmbedSummary: Sendable {
    public var records = 0
    /// Texts embedded: distinct texts within each batch.
    public var embedded = 0
    /// Word-pieces read by the model (special tokens included, after truncation).
    public var tokens = 0
    /// Distinct texts longer than max_seq_length word-pieces (their start is embedded).
    public var truncated = 0
    public var seconds = 0.0
}

public enum EmbedRecords {
    /// Where the model comes from when `--model` is not given: `$RPO_EMBED_MODEL`, then
    /// `models/all-MiniLM-L6-v2` in the current directory. Throws naming everything tried.
    public static func resolveModel(_ explicit: String?, environment: [String: String],
                                    currentDirectory: String) throws -> String {
        if let m = explicit { return m }
        if let m = environment["RPO_EMBED_MODEL"], !m.isEmpty { return m }
        let local = (currentDirectory as NSString).appendingPathComponent("models/all-MiniLM-L6-v2")
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: local, isDirectory: &isDir), isDir.boolValue { return local }
        throw CLIError.failure("no model: --model was not given, $RPO_EMBED_MODEL is not set, and \(local) does not exist (run `make models` in the rpo repository, or pass --model DIR)")
    }

    /// Embeds the `options.field` text of every record read from `input` (or every line of `lines` with
    /// `plainText`) and writes the records with `options.into` added to `output`. `progress` is called with
    /// the number of records written after each batch.
    public static func run(records input: RecordReader?, lines: LineReader?, output: RecordWriter,
                           encoder: SentenceEncoder, options o: EmbedOptions,
                           progress: (Int) -> Void = { _ in }) throws -> EmbedSummary {
        precondition((input == nil) != (lines == nil), "one input")
        var summary = EmbedSummary()
        let start = DispatchTime.now().uptimeNanoseconds
        var batch: [JSONObject] = []
        var texts: [String] = []
        batch.reserveCapacity(o.batchSize); texts.reserveCapacity(o.batchSize)
        func flush() throws {
            if batch.isEmpty { return }
            // Distinct texts of the batch, in first-appearance order.
            var index: [String: Int] = [:]
            var distinct: [String] = []
            let slot = texts.map { t -> Int in
                if let k = index[t] { return k }
                index[t] = distinct.count; distinct.append(t)
                return distinct.count - 1
            }
            let (tokens, truncated) = encoder.tokenizeCountingTruncated(distinct)
            summary.truncated += truncated
            for t in tokens { summary.tokens += t.count }
            let vectors = encoder.encodeChecked(tokens)
            let D = encoder.dimension
            for (k, var record) in batch.enumerated() {
                let s = slot[k]
                record[o.into] = .array(vectors[(s * D)..<((s + 1) * D)].map { .float($0) })
                try output.write(record)
            }
            summary.records += batch.count
            summary.embedded += distinct.count
            batch.removeAll(keepingCapacity: true); texts.removeAll(keepingCapacity: true)
            progress(summary.records)
        }
        if let input {
            while let r = try input.read() {
                texts.append(try input.field(r, o.field).string())
                batch.append(r)
                if batch.count == o.batchSize { try flush() }
            }
        } else if let lines {
            while let line = try lines.nextLine() {
                texts.append(line)
                batch.append(JSONObject([(o.field, .string(line))]))
                if batch.count == o.batchSize { try flush() }
            }
        }
        try flush()
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return summary
    }
}
