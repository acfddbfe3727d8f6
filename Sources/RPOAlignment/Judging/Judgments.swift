// Judgment records: what one comparison came to, as written by rpo-judge and read back by --resume.
// One record per comparison, in input order. The top level describes the comparison's verdict and its
// seeded (official) presentation; with --both-orders, `swapped` holds the presentation in reverse order.
import Foundation
import RPOCore

/// A presentation's status: a verdict, an answer without a label, or no answer.
public enum JudgmentStatus: String, Sendable {
    case ok, unparsed, failed
}

/// One presentation of a comparison to the judge and what came of it.
public struct Presentation: Sendable {
    /// The order shown: order[0] is labelled labels[0].
    public var order: [JudgeRole]
    public var status: JudgmentStatus
    /// The preferred side, or nil for a tie (status ok) or no verdict.
    public var winner: JudgeRole?
    public var raw: String?
    public var logProbs: [Double]?
    /// The reward judge's rewards of the two texts in label order.
    public var rewards: [Double]?
    public var error: String?
    public var attempts: Int
    public var seconds: Double

    /// Decides a reply: the rewards or label log-probabilities when the judge gave them (equal scores are a tie),
    /// else the answer text by the official parsing.
    public init(order: [JudgeRole], reply: JudgeReply, template: JudgeTemplate) {
        self.order = order
        raw = reply.raw
        logProbs = reply.labelLogProbs
        rewards = reply.rewards
        attempts = reply.attempts
        seconds = reply.seconds
        error = reply.error
        winner = nil
        status = .failed
        if let score = reply.rewards ?? reply.labelLogProbs, score.count == 2, reply.error == nil {
            // A score per label (rewards, or label log-probs): the larger wins, equal scores tie.
            status = .ok
            winner = score[0] > score[1] ? order[0] : score[1] > score[0] ? order[1] : nil
        } else if let text = reply.raw, reply.error == nil {
            switch template.parse(answer: text) {
            case .position(let p):
                status = .ok; winner = order[p]
            case .noMatch:
                status = .unparsed
                error = "the answer names no \(template.task.noun) (no \"\(template.task.noun) X\")"
            case .unknownLabel(let c):
                status = .unparsed
                error = "the answer names \(template.task.noun) \"\(c)\", which is not a label"
            }
        } else if error == nil {
            error = "the judge gave no answer"
        }
    }

    /// True when this presentation preferred the text shown first.
    package var firstPositionWon: Bool? {
        guard status == .ok, let w = winner else { return nil }
        return order[0] == w
    }

    func fields(into o: inout JSONObject, includeVerdict: Bool) {
        o["order"] = .array(order.map { .string($0.rawValue) })
        if includeVerdict {
            o["winner"] = winner.map { .string($0.rawValue) } ?? (status == .ok ? .string("tie") : .null)
            o["status"] = .string(status.rawValue)
        }
        o["raw"] = raw.map { .string($0) } ?? .null
        o["error"] = error.map { .string($0) } ?? .null
        o["attempts"] = .int(attempts)
        o["seconds"] = .double((seconds * 1000).rounded() / 1000)
        if let lp = logProbs { o["logprobs"] = .array(lp.map { .double($0) }) }
        if let r = rewards { o["rewards"] = .array(r.map { .double($0) }) }
    }
}

/// The result of one comparison: one or two presentations and the verdict they come to.
public struct ComparisonResult: Sendable {
    public var item: JudgeItem
    public var presentations: [Presentation]
    /// Both orders decided together by their label log-probabilities (`calibratedMargin`), not by their
    /// separate verdicts (`--calibrate`).
    public var calibrated: Bool

    public init(item: JudgeItem, presentations: [Presentation], calibrated: Bool = false) {
        self.item = item; self.presentations = presentations; self.calibrated = calibrated
    }

    /// Balanced position calibration (Wang et al. 2023, "Large Language Models are not Fair Evaluators",
    /// arXiv 2305.17926, §3.2) with the judge's label log-probabilities as its scores: the candidate's label
    /// log-prob minus the baseline's, summed over the two orders. A preference for a position adds to one
    /// order what it takes from the other, so it cancels; positive favours the candidate. Nil unless both
    /// orders were scored.
    public var calibratedMargin: Double? {
        guard presentations.count == 2 else { return nil }
        var m = 0.0
        for p in presentations {
            guard p.status == .ok, let lp = p.logProbs, lp.count == 2 else { return nil }
            m += p.order[0] == .candidate ? lp[0] - lp[1] : lp[1] - lp[0]
        }
        return m
    }

    /// One presentation: its verdict. Two (both orders): the same side twice wins, different verdicts are a
    /// tie (position bias), and no verdict in either order is no verdict (failed before unparsed).
    /// Calibrated: the sign of `calibratedMargin` (zero is a tie).
    public var outcome: ComparisonOutcome {
        if presentations.contains(where: { $0.status == .failed }) { return .failed }
        if presentations.contains(where: { $0.status == .unparsed }) { return .unparsed }
        if calibrated, let m = calibratedMargin {
            return m > 0 ? .candidate : m < 0 ? .baseline : .tie
        }
        let w = presentations.map { $0.winner }
        if w.dropFirst().contains(where: { $0 != w[0] }) { return .tie }
        switch w[0] {
        case .candidate?: return .candidate
        case .baseline?: return .baseline
        case nil: return .tie
        }
    }

    /// Both orders judged, both with a verdict, and the verdicts differ.
    public var ordersDisagree: Bool {
        presentations.count == 2 && presentations.allSatisfy { $0.status == .ok }
            && presentations[0].winner != presentations[1].winner
    }

    public var error: String? {
        if let e = presentations[0].error { return e }
        if presentations.count > 1, let e = presentations[1].error { return "swapped order: " + e }
        return nil
    }

    /// The judgment record.
    public func record(candidateKey: String, baselineKey: String, task: JudgeTask, judge: String) -> JSONObject {
        var o = JSONObject()
        o["id"] = item.id
        o["candidate"] = .string(candidateKey)
        o["baseline"] = .string(baselineKey)
        o["task"] = .string(task.rawValue)
        o["judge"] = .string(judge)
        o["order"] = .null  // placeholder keeps the documented field order
        let out = outcome
        switch out {
        case .candidate: o["winner"] = .string("candidate")
        case .baseline: o["winner"] = .string("baseline")
        case .tie: o["winner"] = .string("tie")
        case .unparsed, .failed: o["winner"] = .null
        }
        o["status"] = .string(out == .failed ? "failed" : out == .unparsed ? "unparsed" : "ok")
        presentations[0].fields(into: &o, includeVerdict: false)
        o["error"] = error.map { .string($0) } ?? .null
        if presentations.count > 1 {
            var s = JSONObject()
            presentations[1].fields(into: &s, includeVerdict: true)
            o["swapped"] = .object(s)
        }
        if calibrated { o["calibrated_margin"] = calibratedMargin.map { .double($0) } ?? .null }
        o["candidate_chars"] = .int(item.candidateChars)
        o["baseline_chars"] = .int(item.baselineChars)
        if let c = item.candidateTokens, let b = item.baselineTokens {
            o["candidate_tokens"] = .int(c)
            o["baseline_tokens"] = .int(b)
        }
        return o
    }
}

/// One comparison to judge, read from a sample record.
public struct JudgeItem: Sendable {
    /// 0-based position among the comparisons.
    public let index: Int
    /// The record's id, as in the input.
    public let id: JSON
    /// The id as compact JSON text: the key that --resume matches.
    public let key: String
    /// Line number in the input.
    public let line: Int
    public let prompt: String
    public let candidate: String
    public let baseline: String
    /// The seeded order of the official presentation.
    public let order: [JudgeRole]
    /// Token counts of the texts with `JudgeRunOptions.lengthTokenizer` (special tokens added, as
    /// compare.py's `len(tokenizer.encode(text))`); nil without a tokenizer.
    public var candidateTokens: Int? = nil
    public var baselineTokens: Int? = nil

    package init(index: Int, id: JSON, key: String, line: Int, prompt: String, candidate: String, baseline: String,
                 order: [JudgeRole], candidateTokens: Int? = nil, baselineTokens: Int? = nil) {
        self.index = index; self.id = id; self.key = key; self.line = line; self.prompt = prompt
        self.candidate = candidate; self.baseline = baseline; self.order = order
        self.candidateTokens = candidateTokens; self.baselineTokens = baselineTokens
    }

    /// Python `len()` of the uncleaned texts, as compare.py measures lengths.
    public var candidateChars: Int { PythonText.length(candidate) }
    public var baselineChars: Int { PythonText.length(baseline) }

    /// The text shown at each position of `order`.
    public func texts(_ order: [JudgeRole]) -> (String, String) {
        (order[0] == .candidate ? candidate : baseline, order[1] == .candidate ? candidate : baseline)
    }
}

// MARK: - Reading records back (--resume)

extension ComparisonResult {
    /// Reads a record written by `record(...)` for `item`, checking that it was made with the same settings
    /// (sides, task, judge, seeded order, one or both orders). The verdicts are decided again from the stored
    /// answers, as they were when written.
    public static func read(_ o: JSONObject, item: JudgeItem, source: String, line: Int, template: JudgeTemplate,
                            candidateKey: String, baselineKey: String, judge: String, bothOrders: Bool,
                            calibrated: Bool = false) throws -> ComparisonResult {
        func fail(_ m: String) -> RecordError { RecordError(source: source, record: line, m) }
        let f = { (k: String) in o.field(k, source: source, record: line) }
        for (k, want) in [("candidate", candidateKey), ("baseline", baselineKey), ("task", template.task.rawValue), ("judge", judge)] {
            let have = try f(k).string()
            if have != want {
                throw fail("this judgment has \(k) \"\(have)\" but the run uses \"\(want)\"; resume with the same settings or write a new file")
            }
        }
        let first = try presentation(o, source: source, line: line, template: template)
        guard first.order == item.order else {
            throw fail("this judgment shows the texts in the order \(first.order.map(\.rawValue)), but the seeded order of comparison \(item.index + 1) is \(item.order.map(\.rawValue)); was it made with another --seed or input?")
        }
        var ps = [first]
        switch (o["swapped"], bothOrders) {
        case (.object(let s)?, true):
            ps.append(try presentation(s, source: source, line: line, template: template))
        case (nil, false), (.null?, false):
            break
        default:
            throw fail(bothOrders ? "this judgment has one order but the run uses --both-orders" : "this judgment has both orders but the run does not use --both-orders")
        }
        if f("calibrated_margin").exists != calibrated {
            throw fail(calibrated ? "this judgment was made without --calibrate but the run uses it" : "this judgment was made with --calibrate but the run does not use it")
        }
        let r = ComparisonResult(item: item, presentations: ps, calibrated: calibrated)
        let stored = f("winner")
        let want: JSON = r.record(candidateKey: candidateKey, baselineKey: baselineKey, task: template.task, judge: judge)["winner"]!
        if stored.value != want {
            throw fail("the stored winner \(stored.value.map { (try? JSONSerializer.string($0)) ?? "?" } ?? "missing") does not follow from the stored answer with these labels (\(String(String.UnicodeScalarView(template.labels))))")
        }
        return r
    }

    static func presentation(_ o: JSONObject, source: String, line: Int, template: JudgeTemplate) throws -> Presentation {
        let f = { (k: String) in o.field(k, source: source, record: line) }
        let roles = try f("order").stringArray()
        let order = roles.compactMap(JudgeRole.init(rawValue:))
        guard order.count == 2, order[0] != order[1] else {
            throw RecordError(source: source, record: line, "field \"order\" must be [\"candidate\",\"baseline\"] or [\"baseline\",\"candidate\"]")
        }
        let raw = f("raw").exists ? try f("raw").string() : nil
        func numbers(_ k: String) throws -> [Double]? {
            guard f(k).exists else { return nil }
            return try f(k).array().map { v -> Double in
                guard let d = v.doubleValue else { throw RecordError(source: source, record: line, "field \"\(k)\" must hold numbers") }
                return d
            }
        }
        let lp = try numbers("logprobs"), rewards = try numbers("rewards")
        let error = f("error").exists ? try f("error").string() : nil
        let attempts = f("attempts").exists ? try f("attempts").int() : 1
        let seconds = f("seconds").exists ? try f("seconds").double() : 0
        // A stored error with an answer is the parse error, decided again below; without one it is the failure.
        let failed = raw == nil && lp == nil && rewards == nil
        let reply = JudgeReply(raw: raw, labelLogProbs: lp, rewards: rewards, error: failed ? (error ?? "the judge gave no answer") : nil,
                               attempts: attempts, seconds: seconds)
        return Presentation(order: order, reply: reply, template: template)
    }
}
