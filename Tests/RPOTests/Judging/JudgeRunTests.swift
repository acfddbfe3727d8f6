// Whole judging runs over the HTTP test server: the official compare.py runs of fixture official.json
// reproduced (same requests, same choices, same win rates and lengths), output in input order under
// concurrency, both orders, resuming an interrupted run, judging failures again, and bad input.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

final class CollectingSink: JudgmentSink {
    var records: [JSONObject] = []
    func write(_ record: JSONObject) throws { records.append(record) }
}

/// JSON Lines text of records.
func judgeLines(_ records: [JSONObject]) -> [UInt8] {
    var out: [UInt8] = []
    for r in records { try! JSONSerializer.write(r, to: &out); out.append(0x0A) }
    return out
}

func judgeItems(_ records: [JSONObject], options: JudgeRunOptions) throws -> [JudgeItem] {
    try JudgeRun.loadItems(RecordReader(MemorySource(judgeLines(records), name: "samples.jsonl")), options: options)
}

/// A record without the wall-clock fields, for comparing runs.
func judgeTimeless(_ r: JSONObject) -> JSONObject {
    var o = r
    o["seconds"] = nil
    if case .object(var s)? = o["swapped"] { s["seconds"] = nil; o["swapped"] = .object(s) }
    return o
}

@Suite(.serialized) struct JudgeRunTests {
    static let official = Result { try judgingFixture("official.json")["runs"]!.jList }

    static func apiOptions(_ server: TestHTTPServer, retries: Int = 0, concurrency: Int = 4) -> APIJudgeOptions {
        var o = APIJudgeOptions()
        o.baseURL = server.baseURL
        o.apiKey = APIKey("sk-run-tests")
        o.timeout = 2
        o.retries = retries
        o.backoff = 0.01
        o.concurrency = concurrency
        return o
    }

    static func samples(_ n: Int) -> [JSONObject] {
        (0..<n).map { i in
            JSONObject([("id", .string("s\(i)")), ("prompt", .string("\n<|user|>\nQuestion \(i)?\n<|assistant|>\n")),
                        ("chosen", .string("Chosen answer \(i).")), ("policy", .string("Policy answer \(i)!")),
                        ("model", .string("m"))])
        }
    }

    /// Answers "Response k" naming the position of the policy's text: a judge without position bias.
    static func prefersPolicy(_ r: TestHTTPServer.Request) -> TestHTTPServer.Reply {
        let text = r.contents.last ?? ""
        guard let p = text.range(of: "Policy answer"), let c = text.range(of: "Chosen answer") else {
            return .respond(status: 400, body: "unexpected request")
        }
        return .respond(status: 200, body: TestHTTPServer.completion(p.lowerBound < c.lowerBound ? "Response 1" : "Response 2"))
    }

    @Test(arguments: [0, 1]) func reproducesTheOfficialRun(_ k: Int) async throws {
        let run = try Self.official.get()[k]
        let calls = run["calls"].jList
        let server = try TestHTTPServer { _, req in
            // Find the official call with byte-identical messages and give its scripted answer.
            guard let call = calls.first(where: { c in
                let m = c["messages"].jList.map { $0["content"].jText }
                return m.count == req.contents.count && zip(m, req.contents).allSatisfy { sameUTF8($0, $1) }
            }) else { return .respond(status: 400, body: #"{"error":{"message":"no official call has these messages"}}"#) }
            switch call["answer"] {
            case .string(let s): return .respond(status: 200, body: TestHTTPServer.completion(s))
            default: return call["answer"]["error"].jText == "status" ? .respond(status: 500, body: "error") : .drop
            }
        }
        let task = JudgeTask(rawValue: run["task"].jText)!
        var options = JudgeRunOptions(template: try JudgeTemplate(task: task, humanPrefix: run["human_prefix"].jText,
                                                                   assistantPrefix: run["assistant_prefix"].jText))
        options.seed = UInt64(run["seed"].intValue!)
        options.maxComparisons = run["max_comparisons"].intValue!
        options.bootstrapResamples = 200
        let its = try judgeItems(run["samples"].jList.map { $0.objectValue! }, options: options)
        var api = Self.apiOptions(server)
        api.model = calls[0]["model"].jText
        api.seed = options.seed
        let sink = CollectingSink()
        let (summary, _) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: api), sink: sink)

        // Every request was one of the official ones, with the official parameters, each exactly once.
        let reqs = server.requests
        #expect(reqs.count == calls.count)
        for r in reqs {
            let b = try #require(r.json)
            #expect(b["model"] == .string(calls[0]["model"].jText) && b["temperature"] == .int(calls[0]["temperature"].intValue!))
            #expect(b["max_tokens"] == .int(calls[0]["max_tokens"].intValue!) && b["seed"] == .int(calls[0]["seed"].intValue!))
        }
        // Same per-comparison order and choice, in input order.
        #expect(sink.records.count == calls.count)
        for (rec, call) in zip(sink.records, calls) {
            #expect(rec["id"] == call["id"])
            #expect(rec["order"] == call["order"])
            let want = call["winner"].isNull ? JSON.null : call["winner"]
            #expect(rec["winner"] == want, "\(call["id"].jText): \(String(describing: rec["raw"])) -> \(String(describing: rec["winner"]))")
        }
        // Same totals and win rates (exact divisions), same lengths (len() of the uncleaned texts).
        let res = run["results"]
        #expect(summary.rates.attempts == res["total"].intValue!)
        #expect(summary.rates.candidateWins == res["candidate_wins"].intValue! && summary.rates.baselineWins == res["baseline_wins"].intValue!)
        #expect(summary.rates.winRate == res["candidate_win_rate"].doubleValue && summary.rates.baselineWinRate == res["baseline_win_rate"].doubleValue)
        #expect(its.map { JSON.int($0.candidateChars) } == res["candidate_lengths"].jList)
        #expect(its.map { JSON.int($0.baselineChars) } == res["baseline_lengths"].jList)
        #expect(abs(summary.candidateMeanChars! - res["candidate_mean_length"].doubleValue!) < 1e-9)
        #expect(abs(summary.baselineMeanChars! - res["baseline_mean_length"].doubleValue!) < 1e-9)
        // Failures and unparsed answers are recorded, not dropped.
        #expect(summary.rates.failed + summary.rates.unparsed == calls.filter { $0["winner"].isNull }.count)
        #expect(sink.records.filter { $0["status"] == .string("failed") }.allSatisfy { $0["error"]?.stringValue != nil })
    }

    @Test func outputIsInInputOrderWhateverTheCompletionOrder() async throws {
        // Later comparisons answer sooner: completions arrive out of order.
        let server = try TestHTTPServer { _, r in
            let q = r.contents.first ?? ""
            let i = Int(q.split(separator: " ").last?.dropLast() ?? "0") ?? 0
            if case .respond(let s, let h, let b, _) = Self.prefersPolicy(r) { return .respond(status: s, headers: h, body: b, delay: 0.01 * Double(12 - i % 12)) }
            return .drop
        }
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        options.bootstrapResamples = 100
        let its = try judgeItems(Self.samples(24), options: options)
        let sink = CollectingSink()
        var done: [Int] = []
        let (summary, records) = try await JudgeRun.run(items: its, options: options,
                                                        backend: try APIJudge(options: Self.apiOptions(server, concurrency: 3)),
                                                        sink: sink, progress: { d, _ in done.append(d) })
        #expect(sink.records.map { $0["id"]! } == (0..<24).map { .string("s\($0)") })
        #expect(records.map { $0["id"]! } == sink.records.map { $0["id"]! })
        #expect(server.maxActive <= 3 && server.maxActive >= 2)
        #expect(summary.rates.candidateWins == 24 && summary.rates.winRate == 1)
        #expect(done.first == 0 && done.last == 24 && done == done.sorted())
    }

    @Test func bothOrdersTurnsPositionBiasIntoTies() async throws {
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        options.bothOrders = true
        options.bootstrapResamples = 100
        let its = try judgeItems(Self.samples(6), options: options)
        // A judge that always picks the first text: every comparison's two orders disagree.
        let biased = try TestHTTPServer { _, _ in .respond(status: 200, body: TestHTTPServer.completion("Response 1")) }
        let sink = CollectingSink()
        let (s1, _) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(biased)), sink: sink)
        #expect(biased.requests.count == 12)
        #expect(s1.rates.ties == 6 && s1.disagreements == 6 && s1.bothOrdersDecided == 6)
        #expect(s1.firstPositionWins == 12 && s1.positionDecided == 12)
        #expect(sink.records.allSatisfy { $0["winner"] == .string("tie") && $0["swapped"]?.objectValue?["order"] != nil })
        let r0 = sink.records[0]
        let seeded = judgeRoles(r0["order"]!), swapped = judgeRoles(r0["swapped"]!["order"])
        #expect(swapped == seeded.reversed())
        // A consistent judge: the same side in both orders.
        let fair = try TestHTTPServer { _, r in Self.prefersPolicy(r) }
        let (s2, _) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(fair)), sink: CollectingSink())
        #expect(s2.rates.candidateWins == 6 && s2.disagreements == 0 && s2.json["order_disagreement_rate"] == .double(0))
    }

    @Test func resumingAnInterruptedRunJudgesOnlyWhatIsMissing() async throws {
        let dir = TempDir()
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        options.bootstrapResamples = 100
        let its = try judgeItems(Self.samples(10), options: options)
        let server = try TestHTTPServer { _, r in Self.prefersPolicy(r) }
        let full = CollectingSink()
        let (fullSummary, _) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(server)), sink: full)
        // An interrupted run: four judgments and half of the fifth line.
        let path = dir.file("judged.jsonl")
        var bytes = judgeLines(Array(full.records[0..<4]))
        let fifth = judgeLines([full.records[4]])
        bytes += fifth[0..<(fifth.count / 2)]
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let log = try JudgmentLog(path: path)
        #expect(log.droppedBytes == fifth.count / 2 && log.previous.records.count == 4)
        let second = try TestHTTPServer { _, r in Self.prefersPolicy(r) }
        let (summary, _) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(second)),
                                                  previous: log.previous, sink: log)
        try log.finish()
        #expect(second.requests.count == 6)
        #expect(summary.resumed == 4 && summary.rates == fullSummary.rates && summary.intervals == fullSummary.intervals)
        let reread = try RecordReader(path: path)
        var got: [JSONObject] = []
        while let r = try reread.read() { got.append(judgeTimeless(r)) }
        #expect(got == full.records.map(judgeTimeless))
        // Nothing left to do: no request at all.
        let log2 = try JudgmentLog(path: path)
        let third = try TestHTTPServer { _, r in Self.prefersPolicy(r) }
        let (s3, _) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(third)),
                                             previous: log2.previous, sink: log2)
        try log2.finish()
        #expect(third.requests.isEmpty && s3.resumed == 10 && s3.rates == fullSummary.rates)
    }

    @Test func resumingWithOtherSettingsIsAnError() async throws {
        let dir = TempDir()
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        options.bootstrapResamples = 10
        let its = try judgeItems(Self.samples(4), options: options)
        let server = try TestHTTPServer { _, r in Self.prefersPolicy(r) }
        let path = dir.file("j.jsonl")
        let log = try JudgmentLog(path: path)
        _ = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(server)), previous: log.previous, sink: log)
        try log.finish()
        func expectError(_ options: JudgeRunOptions, _ fragment: String, model: String = "gpt-4-0613") async throws {
            let l = try JudgmentLog(path: path)
            var api = Self.apiOptions(server)
            api.model = model
            let its = try judgeItems(Self.samples(4), options: options)
            do {
                _ = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: api), previous: l.previous, sink: CollectingSink())
                Issue.record("expected an error containing \(fragment)")
            } catch let e as RecordError {
                #expect(e.source == path && e.record == 1 && e.message.contains(fragment), "\(e)")
            }
        }
        var other = options
        other.seed = 1  // seed 1 shows the baseline first in the first comparison (seed 0: the candidate; CPython)
        try await expectError(other, "seeded order")
        try await expectError(options, "judge \"api:gpt-4-0613\" but the run uses \"api:other\"", model: "other")
        other = options; other.bothOrders = true
        try await expectError(other, "one order but the run uses --both-orders")
        other = options; other.maxComparisons = 2
        do {
            let l = try JudgmentLog(path: path)
            _ = try await JudgeRun.run(items: try judgeItems(Self.samples(4), options: other), options: other,
                                       backend: try APIJudge(options: Self.apiOptions(server)), previous: l.previous, sink: CollectingSink())
            Issue.record("expected an error")
        } catch let e as RecordError {
            #expect(e.record == 3 && e.message.contains("not among the 2 comparisons"), "\(e)")
        }
    }

    @Test func retryFailedJudgesFailuresAgainAndRewritesTheFileInOrder() async throws {
        let dir = TempDir()
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        options.bootstrapResamples = 10
        let its = try judgeItems(Self.samples(6), options: options)
        let path = dir.file("j.jsonl")
        // First run: the API fails for comparisons 1 and 4.
        let flaky = try TestHTTPServer { _, r in
            let q = r.contents.first ?? ""
            return q.contains("Question 1?") || q.contains("Question 4?") ? .respond(status: 503, body: "down") : Self.prefersPolicy(r)
        }
        let log = try JudgmentLog(path: path)
        let (s1, _) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(flaky)), previous: log.previous, sink: log)
        try log.finish()
        #expect(s1.rates.failed == 2 && s1.rates.winRate == 4.0 / 6)
        // Second run with retryFailed: only those two are asked again.
        options.retryFailed = true
        let good = try TestHTTPServer { _, r in Self.prefersPolicy(r) }
        let log2 = try JudgmentLog(path: path)
        let (s2, records) = try await JudgeRun.run(items: its, options: options, backend: try APIJudge(options: Self.apiOptions(good)),
                                                   previous: log2.previous, sink: log2)
        #expect(good.requests.count == 2 && s2.rejudged == 2 && s2.rates.failed == 0 && s2.rates.winRate == 1)
        try log2.finish(rewrite: records)
        let reread = try RecordReader(path: path)
        var ids: [JSON] = []
        while let r = try reread.read() {
            ids.append(r["id"]!)
            #expect(r["status"] == .string("ok"))
        }
        #expect(ids == (0..<6).map { .string("s\($0)") })
    }

    @Test func badSampleRecordsAreClearErrorsWithTheRecordNumber() throws {
        let options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        func expectError(_ lines: [String], _ record: Int, _ fragment: String) {
            let r = RecordReader(MemorySource(Array(lines.joined(separator: "\n").utf8), name: "in.jsonl"))
            do {
                _ = try JudgeRun.loadItems(r, options: options)
                Issue.record("expected an error: \(fragment)")
            } catch let e as RecordError {
                #expect(e.source == "in.jsonl" && e.record == record && e.message.contains(fragment), "\(e)")
            } catch { Issue.record("\(error)") }
        }
        let ok = #"{"id":"a","prompt":"p","chosen":"c","policy":"x"}"#
        expectError([ok, #"{"id":"b","prompt":"p","chosen":"c"}"#], 2, #"missing field "policy""#)
        expectError([#"{"prompt":"p","chosen":"c","policy":"x"}"#], 1, #"missing field "id""#)
        expectError([ok, "", ok], 3, #"duplicate id "a" (also at record 1)"#)
        expectError([#"{"id":"a","prompt":3,"chosen":"c","policy":"x"}"#], 1, #"field "prompt" must be a string"#)
        expectError([#"{"id":[1],"prompt":"p","chosen":"c","policy":"x"}"#], 1, #"must be a string or an integer"#)
        expectError([ok, "{not json"], 2, "invalid JSON")
    }
}

/// A judge that answers from a table, for the runner's decisions without HTTP (e.g. label log-probabilities
/// as a local judge gives them).
struct TableJudge: JudgeBackend {
    let name = "table"
    let maxConcurrency = 2
    let reply: @Sendable (JudgeRequest) -> JudgeReply
    func judge(_ request: JudgeRequest) async throws -> JudgeReply { reply(request) }
}

@Suite struct JudgeDecisionTests {
    @Test func labelLogProbsDecideAndEqualScoresTie() async throws {
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .summarization))
        options.bootstrapResamples = 10
        options.bothOrders = true
        let its = try judgeItems(JudgeRunTests.samples(3), options: options)
        // Comparison 0: label 1 always more likely (position bias: a tie over both orders); comparison 1:
        // equal scores (a tie in each order); comparison 2: the text of the candidate more likely in both.
        let judge = TableJudge { r in
            let first = r.messages[1].content.contains("Summary 1: Policy") ? JudgeRole.candidate : .baseline
            switch r.index {
            case 0: return JudgeReply(labelLogProbs: [-0.1, -2.3])
            case 1: return JudgeReply(labelLogProbs: [-0.7, -0.7])
            default: return JudgeReply(labelLogProbs: first == .candidate ? [-0.2, -1.9] : [-1.9, -0.2])
            }
        }
        let sink = CollectingSink()
        let (s, _) = try await JudgeRun.run(items: its, options: options, backend: judge, sink: sink)
        #expect(sink.records.map { $0["winner"]! } == [.string("tie"), .string("tie"), .string("candidate")])
        #expect(s.rates.ties == 2 && s.rates.candidateWins == 1 && s.disagreements == 1)
        #expect(sink.records[0]["logprobs"] == .array([.double(-0.1), .double(-2.3)]))
        #expect(sink.records[1]["swapped"]!["winner"] == .string("tie"))
        // Records with log-probabilities read back to the same verdicts.
        for (k, rec) in sink.records.enumerated() {
            let back = try RPOAlignment.ComparisonResult.read(rec, item: its[k], source: "x", line: k + 1, template: options.template,
                                                 candidateKey: "policy", baselineKey: "chosen", judge: "table", bothOrders: true)
            #expect(back.outcome == RPOAlignment.ComparisonResult(item: its[k], presentations: back.presentations).outcome)
            #expect(back.record(candidateKey: "policy", baselineKey: "chosen", task: .summarization, judge: "table") == rec)
        }
    }

    @Test func calibrationCancelsAConstantPositionPreference() async throws {
        var options = JudgeRunOptions(template: try JudgeTemplate(task: .dialogue))
        options.bootstrapResamples = 10
        options.bothOrders = true
        options.calibrated = true
        let its = try judgeItems(JudgeRunTests.samples(4), options: options)
        // A judge with a position bias of +2 nats for label 1 and a content preference c (nats, + for the
        // candidate): label logits [2 + c/2, -c/2] with the candidate first, [2 - c/2, c/2] with it second.
        // Every presentation picks label 1, so the two orders always disagree; the calibrated margin is
        // (2 + c) + (c - 2) = 2c whatever the bias. Comparisons: c = 0.5, -0.25, 0 (a tie), 3 (no bias can hide).
        let prefs = [0.5, -0.25, 0.0, 3.0]
        let judge = TableJudge { r in
            let c = prefs[r.index]
            let candidateFirst = r.messages[1].content.contains("Response 1: Policy")
            let l = candidateFirst ? [2 + c / 2, -c / 2] : [2 - c / 2, c / 2]
            // log-softmax over the two labels, as a model's next-token log-probs restricted to them
            let lse = log(exp(l[0]) + exp(l[1]))
            return JudgeReply(labelLogProbs: l.map { $0 - lse })
        }
        let sink = CollectingSink()
        let (s, _) = try await JudgeRun.run(items: its, options: options, backend: judge, sink: sink)
        #expect(sink.records.map { $0["winner"]! } == [.string("candidate"), .string("baseline"), .string("tie"), .string("candidate")])
        // the margins are 2c up to the rounding of log-softmax in Double (1e-12)
        for (k, rec) in sink.records.enumerated() {
            let m = rec["calibrated_margin"]?.doubleValue ?? .nan
            #expect(abs(m - 2 * prefs[k]) < 1e-12, "comparison \(k): margin \(m)")
        }
        #expect(s.calibrated && s.disagreements == 3 && s.firstPositionWins == 7)  // c = 3: the second text wins once
        #expect(s.json["calibrated"] == .bool(true))
        // Uncalibrated, the same replies are ties whenever the orders disagree.
        var plain = options
        plain.calibrated = false
        let sink2 = CollectingSink()
        _ = try await JudgeRun.run(items: its, options: plain, backend: judge, sink: sink2)
        #expect(sink2.records.map { $0["winner"]! } == [.string("tie"), .string("tie"), .string("tie"), .string("candidate")])
        #expect(sink2.records.allSatisfy { $0["calibrated_margin"] == nil })
        // Read back: the same verdicts; a calibrated record in an uncalibrated run (and the reverse) is refused.
        for (k, rec) in sink.records.enumerated() {
            let back = try RPOAlignment.ComparisonResult.read(rec, item: its[k], source: "x", line: k + 1, template: options.template,
                                                 candidateKey: "policy", baselineKey: "chosen", judge: "table",
                                                 bothOrders: true, calibrated: true)
            #expect(back.record(candidateKey: "policy", baselineKey: "chosen", task: .dialogue, judge: "table") == rec)
        }
        let e1 = #expect(throws: RecordError.self) {
            try RPOAlignment.ComparisonResult.read(sink.records[0], item: its[0], source: "x", line: 1, template: options.template,
                                      candidateKey: "policy", baselineKey: "chosen", judge: "table", bothOrders: true)
        }
        #expect(e1?.description == "x:1: this judgment was made with --calibrate but the run does not use it")
        let e2 = #expect(throws: RecordError.self) {
            try RPOAlignment.ComparisonResult.read(sink2.records[0], item: its[0], source: "x", line: 1, template: options.template,
                                      candidateKey: "policy", baselineKey: "chosen", judge: "table", bothOrders: true,
                                      calibrated: true)
        }
        #expect(e2?.description == "x:1: this judgment was made without --calibrate but the run uses it")
    }

    @Test func judgmentLogRejectsWhatItCannotResume() throws {
        let dir = TempDir()
        let zst = dir.file("j.jsonl")
        let w = try RecordWriter(path: zst, compression: .zstd)
        try w.write(JSONObject([("id", .string("a"))]))
        try w.finish()
        #expect { _ = try JudgmentLog(path: zst) } throws: { ($0 as? IOError)?.message.contains("zstd-compressed") == true }
        let bad = dir.file("bad.jsonl")
        try Data("{\"id\":\"a\"}\n{oops}\n".utf8).write(to: URL(fileURLWithPath: bad))
        #expect { _ = try JudgmentLog(path: bad) } throws: { ($0 as? RecordError)?.record == 2 }
        let fresh = dir.file("new.jsonl")
        let log = try JudgmentLog(path: fresh)
        #expect(log.previous.records.isEmpty && log.droppedBytes == 0)
        try log.write(JSONObject([("id", .int(1))]))
        try log.finish()
        #expect(try String(contentsOfFile: fresh, encoding: .utf8) == "{\"id\":1}\n")
    }
}
