// The judging run (compare.py's __main__, made robust): read and check every sample record before the first
// request, give each comparison its seeded order, skip comparisons already judged (--resume), judge the
// rest with bounded concurrency, write one judgment per comparison in input order, and summarise.
import Foundation
import RPOCore
import RPOAlignment

public struct JudgeRunOptions: Sendable {
    public var template: JudgeTemplate
    /// Sample record fields: the candidate's text (upstream -ck), the baseline's (-bk), the prompt (-hk), the id.
    public var candidateKey = "policy"
    public var baselineKey = "chosen"
    public var promptKey = "prompt"
    public var idKey = "id"
    /// Seeds the order of the texts (Python's random, as upstream -s) and the bootstrap.
    public var seed: UInt64 = 0
    /// Judge every comparison in both orders; different verdicts make a tie.
    public var bothOrders = false
    /// With `bothOrders`: decide each comparison by the label log-probabilities of both orders together
    /// (balanced position calibration, `ComparisonResult.calibratedMargin`); needs a judge that scores labels.
    public var calibrated = false
    /// Judge only the first N records (upstream -mc); nil: all.
    public var maxComparisons: Int? = 256
    public var bootstrapResamples = 10_000
    /// With resumed judgments: judge again the comparisons whose judgment failed (no answer).
    public var retryFailed = false
    /// The run validates the judge: the candidate is the human-preferred text (chosen) and the baseline the
    /// other (rejected), so the candidate's score is the judge's agreement with the human labels.
    public var validation = false
    /// Measures the texts in tokens too (compare.py records tokenizer lengths); nil: characters only.
    public var lengthTokenizer: Tokenizer?

    public init(template: JudgeTemplate) { self.template = template }
}

/// Judgments already written (read back for --resume), with where they came from.
public struct PreviousJudgments {
    public var source: String
    public var records: [(line: Int, record: JSONObject)]
    public init(source: String, records: [(line: Int, record: JSONObject)]) { self.source = source; self.records = records }
}

/// Progress of a run: comparisons finished so far (resumed ones included) out of the total.
public typealias JudgeProgress = (_ done: Int, _ total: Int) -> Void

public enum JudgeRun {
    // MARK: - Input

    /// Reads the sample records (up to `maxComparisons`), checks their fields and ids, and assigns the seeded
    /// orders. Everything is checked before any request is made.
    public static func loadItems(_ reader: RecordReader, options: JudgeRunOptions) throws -> [JudgeItem] {
        var order = SeededOrder(seed: options.seed)
        var items: [JudgeItem] = []
        var seen: [String: Int] = [:]
        while true {
            if let m = options.maxComparisons, items.count >= m { break }
            guard let rec = try reader.read() else { break }
            let line = reader.recordNumber
            guard let id = rec[options.idKey] else { throw reader.error("missing field \"\(options.idKey)\"") }
            switch id {
            case .string, .int: break
            default: throw reader.error("field \"\(options.idKey)\" must be a string or an integer, found \(id.typeName)")
            }
            let key = (try? JSONSerializer.string(id)) ?? ""
            if let prev = seen[key] { throw reader.error("duplicate id \(key) (also at record \(prev))") }
            seen[key] = line
            let prompt = try reader.field(rec, options.promptKey).string()
            let candidate = try reader.field(rec, options.candidateKey).string()
            let baseline = try reader.field(rec, options.baselineKey).string()
            var item = JudgeItem(index: items.count, id: id, key: key, line: line, prompt: prompt,
                                 candidate: candidate, baseline: baseline, order: order.next())
            if let t = options.lengthTokenizer {
                item.candidateTokens = t.encode(candidate, addSpecialTokens: true).count
                item.baselineTokens = t.encode(baseline, addSpecialTokens: true).count
            }
            items.append(item)
        }
        return items
    }

    // MARK: - Run

    /// Judges `items` with `backend`, writing one record per comparison not already in `previous` to `sink`
    /// in input order, and returns the summary over all of them (previous included) and every comparison's
    /// current record in input order.
    public static func run(items: [JudgeItem], options: JudgeRunOptions, backend: JudgeBackend,
                           previous: PreviousJudgments? = nil, sink: JudgmentSink,
                           progress: JudgeProgress? = nil) async throws -> (summary: JudgeSummary, records: [JSONObject]) {
        var results = [RPOAlignment.ComparisonResult?](repeating: nil, count: items.count)
        var records = [JSONObject?](repeating: nil, count: items.count)
        var superseded = 0
        if let prev = previous {
            let byKey = Dictionary(uniqueKeysWithValues: items.map { ($0.key, $0.index) })
            for (line, rec) in prev.records {
                guard let id = rec[options.idKey] else {
                    throw RecordError(source: prev.source, record: line, "missing field \"\(options.idKey)\"")
                }
                let key = (try? JSONSerializer.string(id)) ?? ""
                guard let i = byKey[key] else {
                    throw RecordError(source: prev.source, record: line,
                                      "id \(key) is not among the \(items.count) comparisons of this run (another input, or a smaller --max-comparisons?)")
                }
                if results[i] != nil { superseded += 1 }  // a later record of an id replaces the earlier one
                records[i] = rec
                results[i] = try RPOAlignment.ComparisonResult.read(rec, item: items[i], source: prev.source, line: line,
                                                       template: options.template, candidateKey: options.candidateKey,
                                                       baselineKey: options.baselineKey, judge: backend.name,
                                                       bothOrders: options.bothOrders, calibrated: options.calibrated)
            }
        }
        let resumed = results.filter { $0 != nil }.count
        let todo = items.indices.filter { i in
            guard let r = results[i] else { return true }
            return options.retryFailed && r.outcome == .failed
        }
        let retried = todo.filter { results[$0] != nil }.count
        var done = items.count - todo.count
        progress?(done, items.count)

        // Work units: presentations (item, pass) in input order; an item is written once all its passes are in.
        let passes = options.bothOrders ? 2 : 1
        var units: [(item: Int, pass: Int, position: Int)] = []  // position: index in `todo`
        for (k, i) in todo.enumerated() { for p in 0..<passes { units.append((i, p, k)) } }
        var replies = [[Presentation?]](repeating: [Presentation?](repeating: nil, count: passes), count: items.count)
        let concurrency = max(1, backend.maxConcurrency)
        let window = max(4 * concurrency, 16)  // items launched but not yet written
        var nextUnit = 0, nextWrite = 0, inFlight = 0
        let template = options.template

        try await withThrowingTaskGroup(of: (Int, Int, JudgeReply).self) { group in
            while nextWrite < todo.count {
                while inFlight < concurrency && nextUnit < units.count
                        && units[nextUnit].position - nextWrite < window {
                    let (i, pass, _) = units[nextUnit]
                    let item = items[i]
                    let order = pass == 0 ? item.order : item.order.reversed()
                    let (first, second) = item.texts(order)
                    var request = JudgeRequest(index: i, id: idText(item.id), pass: pass,
                                               messages: template.messages(prompt: item.prompt, first: first, second: second),
                                               template: template)
                    request.prompt = item.prompt
                    request.texts = [first, second]
                    group.addTask { (i, pass, try await backend.judge(request)) }
                    nextUnit += 1
                    inFlight += 1
                }
                guard let (i, pass, reply) = try await group.next() else { break }
                inFlight -= 1
                let order = pass == 0 ? items[i].order : items[i].order.reversed()
                replies[i][pass] = Presentation(order: order, reply: reply, template: template)
                // Write every finished item at the head of the queue.
                while nextWrite < todo.count {
                    let j = todo[nextWrite]
                    guard replies[j].allSatisfy({ $0 != nil }) else { break }
                    let r = RPOAlignment.ComparisonResult(item: items[j], presentations: replies[j].map { $0! }, calibrated: options.calibrated)
                    let rec = r.record(candidateKey: options.candidateKey, baselineKey: options.baselineKey,
                                       task: template.task, judge: backend.name)
                    try sink.write(rec)
                    results[j] = r
                    records[j] = rec
                    nextWrite += 1
                    done += 1
                    progress?(done, items.count)
                }
            }
        }
        let summary = JudgeSummary(results: results.map { $0! }, options: options, judge: backend.name,
                                   resumed: resumed, retried: retried, superseded: superseded)
        return (summary, records.map { $0! })
    }

    static func idText(_ id: JSON) -> String {
        if case .string(let s) = id { return s }
        return (try? JSONSerializer.string(id)) ?? "?"
    }
}

/// Where judgment records go: a `RecordWriter`, or the append-only `JudgmentLog` of --resume.
public protocol JudgmentSink: AnyObject {
    func write(_ record: JSONObject) throws
}

extension RecordWriter: JudgmentSink {}

/// Passes each record on and flushes it at once, so that a consumer downstream sees every judgment as soon as
/// it is made (judgments come slowly; the writer's own buffering suits fast stages).
public final class FlushingSink: JudgmentSink {
    let writer: RecordWriter
    public init(_ writer: RecordWriter) { self.writer = writer }
    public func write(_ record: JSONObject) throws {
        try writer.write(record)
        try writer.flush()
    }
}
