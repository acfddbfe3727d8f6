// rpo-train score: sequence log-probs of every example, item or batch record under one frozen model, written
// back into the records, so that later training runs read them instead of loading the reference model (no second
// model in memory, no reference forward on any later run; long asked of other trainers, e.g.
// eric-mitchell/direct-preference-optimization#29, huggingface/trl#3985). Fields (prefix "reference"):
//   example records   reference_chosen_logp, reference_rejected_logp
//   item records      reference_logp
//   batch records     the same inside each example; with `kl` (for --loss kto) unpaired items also get
//                     reference_kl_logp, the log-prob of item k's prompt with item k+1's completion
// and <prefix>_model = ModelFiles.fingerprint of the model on every scored example. Records stream in order;
// sequences are scored `memoryMicroBatch` at a time. Log-probs are written as shortest round-trip Doubles.
import Foundation
import RPOCore

public struct ScoreOptions: Sendable {
    public var prefix = "reference"
    public var memoryMicroBatch = 16
    /// Also score kto's KL sequences of unpaired batch records.
    public var kl = false
    public init() {}
}

public struct ScoreSummary: Sendable {
    public var records = 0
    public var sequences = 0
    public var tokens = 0
}

public enum ReferenceScorer {
    /// Scores every record of `input` with `model` (whose fingerprint is `fingerprint`) into `output`.
    /// `progress` is called with the number of records written.
    public static func run(model: CausalLM, fingerprint: String, input: RecordReader, output: RecordWriter,
                           options: ScoreOptions = ScoreOptions(), progress: ((Int) -> Void)? = nil) throws -> ScoreSummary {
        var s = Batcher(model: model, fingerprint: fingerprint, source: input.name, options: options,
                        write: { try output.write($0) }, progress: progress)
        while let record = try input.read() { try s.add(record, line: input.recordNumber) }
        try s.flush()
        return s.summary
    }

    /// Scores records already read (`line`: each one's record number in `source`), passing each scored record to
    /// `write` in order.
    public static func run(model: CausalLM, fingerprint: String, records: [(JSONObject, Int)], source: String,
                           options: ScoreOptions = ScoreOptions(), write: @escaping (JSONObject) throws -> Void,
                           progress: ((Int) -> Void)? = nil) throws -> ScoreSummary {
        var s = Batcher(model: model, fingerprint: fingerprint, source: source, options: options, write: write, progress: progress)
        for (r, line) in records { try s.add(r, line: line) }
        try s.flush()
        return s.summary
    }

    /// Queues records until `memoryMicroBatch` sequences are waiting, scores them, writes the records in order.
    struct Batcher {
        let model: CausalLM
        let fingerprint: String
        let source: String
        let options: ScoreOptions
        let write: (JSONObject) throws -> Void
        let progress: ((Int) -> Void)?
        var summary = ScoreSummary()
        var pending: [PendingRecord] = []
        var queued = 0

        init(model: CausalLM, fingerprint: String, source: String, options: ScoreOptions,
             write: @escaping (JSONObject) throws -> Void, progress: ((Int) -> Void)?) {
            self.model = model; self.fingerprint = fingerprint; self.source = source; self.options = options
            self.write = write; self.progress = progress
        }

        mutating func add(_ record: JSONObject, line: Int) throws {
            let p = try PendingRecord(record, source: source, line: line, vocabSize: model.config.vocabSize, kl: options.kl)
            pending.append(p)
            queued += p.targets.count
            if queued >= options.memoryMicroBatch { try flush() }
        }

        mutating func flush() throws {
            if pending.isEmpty { return }
            var all: [ScoredSequence] = []
            for r in pending { for t in r.targets { all.append(t.sequence) } }
            var lps: [Double] = []
            var i = 0
            while i < all.count {
                let chunk = Array(all[i..<min(i + options.memoryMicroBatch, all.count)])
                do { lps += try model.sequenceLogProbs(chunk) } catch {
                    throw IOError(source, "scoring failed: \(error)")
                }
                i += chunk.count
            }
            var k = 0
            for var r in pending {
                for t in r.targets {
                    let v = lps[k]
                    k += 1
                    guard v.isFinite else {
                        throw RecordError(source: source, record: r.line, "the \(options.prefix) log-prob of \(t.describe) is \(v)")
                    }
                    r.set(t, v, prefix: options.prefix, fingerprint: fingerprint)
                }
                try write(r.record)
                summary.records += 1
            }
            summary.sequences += all.count
            summary.tokens += all.reduce(0) { $0 + $1.inputIds.count }
            pending.removeAll()
            queued = 0
            progress?(summary.records)
        }
    }

    /// One sequence to score and where its log-prob goes.
    struct Target {
        var sequence: ScoredSequence
        /// nil: the record itself; k: examples[k] of a batch record.
        var example: Int?
        /// "chosen", "rejected", "kl", or nil for an item.
        var side: String?
        var describe: String {
            (example.map { "examples[\($0)]" } ?? "the record") + (side.map { " (\($0))" } ?? "")
        }
    }

    struct PendingRecord {
        var record: JSONObject
        var line: Int
        var targets: [Target] = []

        init(_ o: JSONObject, source: String, line: Int, vocabSize: Int, kl: Bool) throws {
            record = o
            self.line = line
            func sequence(_ e: JSONObject, _ idsKey: String, _ lsKey: String, where w: String) throws -> ScoredSequence {
                let ids = try e.field(idsKey, source: source, record: line).intArray()
                let ls = try e.field(lsKey, source: source, record: line).int()
                if ids.isEmpty { throw RecordError(source: source, record: line, "\(w)\(idsKey) is empty") }
                if ls < 0 || ls > ids.count {
                    throw RecordError(source: source, record: line, "\(w)\(lsKey) \(ls) is outside 0...\(ids.count)")
                }
                if let bad = ids.firstIndex(where: { $0 < 0 || $0 >= vocabSize }) {
                    throw RecordError(source: source, record: line, "\(w)\(idsKey)[\(bad)]: token id \(ids[bad]) is outside the model's vocabulary (0..<\(vocabSize))")
                }
                return ScoredSequence(inputIds: ids, labelStart: ls)
            }
            func targetsOf(_ e: JSONObject, example: Int?) throws -> [Target] {
                let w = example.map { "examples[\($0)]." } ?? ""
                if e["chosen_input_ids"] != nil {
                    var t = [Target(sequence: try sequence(e, "chosen_input_ids", "chosen_label_start", where: w), example: example, side: "chosen")]
                    if e["rejected_input_ids"] != nil {
                        t.append(Target(sequence: try sequence(e, "rejected_input_ids", "rejected_label_start", where: w), example: example, side: "rejected"))
                    }
                    return t
                }
                if e["input_ids"] != nil {
                    return [Target(sequence: try sequence(e, "input_ids", "label_start", where: w), example: example, side: nil)]
                }
                throw RecordError(source: source, record: line, "\(example.map { "examples[\($0)]" } ?? "record") is neither an example (chosen_input_ids) nor an item (input_ids)")
            }
            if let ex = o["examples"] {
                guard let items = ex.arrayValue else { throw RecordError(source: source, record: line, "field \"examples\" must be an array") }
                var items2: [JSONObject] = []
                for (k, e) in items.enumerated() {
                    guard let obj = e.objectValue else { throw RecordError(source: source, record: line, "examples[\(k)] is not an object") }
                    items2.append(obj)
                    targets += try targetsOf(obj, example: k)
                }
                if kl && o["layout"]?.stringValue == "unpaired" {
                    // kto's KL sequences: item k's prompt with item (k+1 mod M)'s completion (TrainBatch builds the same).
                    let seqs = try items2.enumerated().map { k, e in try sequence(e, "input_ids", "label_start", where: "examples[\(k)].") }
                    for k in 0..<seqs.count {
                        let a = seqs[k], b = seqs[(k + 1) % seqs.count]
                        let prompt = Array(a.inputIds[0..<a.labelStart]), completion = Array(b.inputIds[b.labelStart...])
                        targets.append(Target(sequence: ScoredSequence(inputIds: prompt + completion, labelStart: prompt.count),
                                              example: k, side: "kl"))
                    }
                }
            } else {
                targets = try targetsOf(o, example: nil)
            }
        }

        mutating func set(_ t: Target, _ v: Double, prefix: String, fingerprint: String) {
            let key = t.side.map { "\(prefix)_\($0)_logp" } ?? "\(prefix)_logp"
            if let k = t.example {
                guard case .array(var items) = record["examples"]!, case .object(var e) = items[k] else { return }
                e[key] = .double(v)
                e["\(prefix)_model"] = .string(fingerprint)
                items[k] = .object(e)
                record["examples"] = .array(items)
            } else {
                record[key] = .double(v)
                record["\(prefix)_model"] = .string(fingerprint)
            }
        }
    }
}
