// The summary of a judged run: the official win rate with what it hides made visible (ties, unparsed
// answers, failures, decided-only rates, bootstrap intervals, lengths, position bias), as JSON for
// --summary and as lines for standard error.
import Foundation
import RPOCore
import RPOAlignment

public struct JudgeSummary: Sendable {
    public let task: JudgeTask
    public let judge: String
    public let candidateKey: String
    public let baselineKey: String
    public let seed: UInt64
    public let bothOrders: Bool
    /// Decided by balanced position calibration (--calibrate).
    public let calibrated: Bool
    public let rates: WinRates
    public let intervals: BootstrapIntervals
    public let resamples: Int
    /// Mean Python len() of the uncleaned texts over all attempted comparisons (compare.py averages its
    /// token lengths over the same set).
    public let candidateMeanChars: Double?
    public let baselineMeanChars: Double?
    /// The same in tokens, with a length tokenizer.
    public let candidateMeanTokens: Double?
    public let baselineMeanTokens: Double?
    /// Presentations with a side chosen, and how many chose the text shown first.
    public let positionDecided: Int
    public let firstPositionWins: Int
    /// Comparisons judged in both orders with a verdict in each, and how many of them disagree.
    public let bothOrdersDecided: Int
    public let disagreements: Int
    /// Requests made for all presentations (retries included), and presentations that needed a retry.
    public let requests: Int
    public let retriedPresentations: Int
    /// Comparisons read back from the output (--resume), judged again (--retry-failed), and stale records
    /// of an id that a later record replaced.
    public let resumed: Int
    public let rejudged: Int
    public let superseded: Int
    /// A validation run (`JudgeRunOptions.validation`): the candidate is the human-preferred text.
    public let validation: Bool

    public init(results: [RPOAlignment.ComparisonResult], options: JudgeRunOptions, judge: String, resumed: Int = 0,
                retried: Int = 0, superseded: Int = 0) {
        task = options.template.task
        self.judge = judge
        candidateKey = options.candidateKey
        baselineKey = options.baselineKey
        seed = options.seed
        bothOrders = options.bothOrders
        calibrated = options.calibrated
        let outcomes = results.map(\.outcome)
        rates = WinRates(outcomes)
        resamples = options.bootstrapResamples
        intervals = JudgeStatistics.bootstrap(outcomes, resamples: options.bootstrapResamples, seed: options.seed)
        let n = Double(results.count)
        candidateMeanChars = results.isEmpty ? nil : Double(results.reduce(0) { $0 + $1.item.candidateChars }) / n
        baselineMeanChars = results.isEmpty ? nil : Double(results.reduce(0) { $0 + $1.item.baselineChars }) / n
        let ct = results.compactMap(\.item.candidateTokens), bt = results.compactMap(\.item.baselineTokens)
        candidateMeanTokens = ct.isEmpty || ct.count < results.count ? nil : Double(ct.reduce(0, +)) / n
        baselineMeanTokens = bt.isEmpty || bt.count < results.count ? nil : Double(bt.reduce(0, +)) / n
        let ps = results.flatMap(\.presentations)
        let firsts = ps.compactMap(\.firstPositionWon)
        positionDecided = firsts.count
        firstPositionWins = firsts.filter { $0 }.count
        bothOrdersDecided = results.filter { $0.presentations.count == 2 && $0.presentations.allSatisfy { $0.status == .ok } }.count
        disagreements = results.filter(\.ordersDisagree).count
        requests = ps.reduce(0) { $0 + $1.attempts }
        retriedPresentations = ps.filter { $0.attempts > 1 }.count
        self.resumed = resumed
        rejudged = retried
        self.superseded = superseded
        validation = options.validation
    }

    /// A validated judge's agreement with the human labels: (chosen wins + ties / 2) / attempts.
    public var agreement: Double? { rates.scoreAll }

    /// "informative" when the agreement's 95% interval lies above 50%, "uninformative" when it includes 50%,
    /// "worse than chance" when it lies below.
    public var verdict: String? {
        guard validation, let i = intervals.scoreAll else { return nil }
        return i.lower > 0.5 ? "informative" : i.upper < 0.5 ? "worse than chance" : "uninformative"
    }

    // MARK: - Output

    public var json: JSONObject {
        func num(_ x: Double?) -> JSON { x.map { .double($0) } ?? .null }
        func ci(_ i: Interval?) -> JSON { i.map { .array([.double($0.lower), .double($0.upper)]) } ?? .null }
        var o = JSONObject()
        o["task"] = .string(task.rawValue)
        o["judge"] = .string(judge)
        o["seed"] = seed <= UInt64(Int.max) ? .int(Int(seed)) : .string(String(seed))
        o["both_orders"] = .bool(bothOrders)
        o["calibrated"] = .bool(calibrated)
        o["attempts"] = .int(rates.attempts)
        o["candidate"] = .object(JSONObject([("name", .string(candidateKey)), ("wins", .int(rates.candidateWins)),
                                             ("win_rate", num(rates.winRate)), ("mean_chars", num(candidateMeanChars)),
                                             ("mean_tokens", num(candidateMeanTokens))]))
        o["baseline"] = .object(JSONObject([("name", .string(baselineKey)), ("wins", .int(rates.baselineWins)),
                                            ("win_rate", num(rates.baselineWinRate)), ("mean_chars", num(baselineMeanChars)),
                                            ("mean_tokens", num(baselineMeanTokens))]))
        o["ties"] = .int(rates.ties)
        o["unparsed"] = .int(rates.unparsed)
        o["failed"] = .int(rates.failed)
        o["decided"] = .int(rates.decided)
        o["win_rate"] = num(rates.winRate)
        o["win_rate_ci95"] = ci(intervals.winRate)
        o["win_rate_decided"] = num(rates.winRateDecided)
        o["win_rate_decided_ci95"] = ci(intervals.winRateDecided)
        o["score_decided"] = num(rates.scoreDecided)
        o["score_decided_ci95"] = ci(intervals.scoreDecided)
        o["bootstrap"] = .object(JSONObject([("method", .string("percentile")), ("resamples", .int(resamples)),
                                             ("unit", .string("comparison"))]))
        o["first_position_rate"] = positionDecided > 0 ? .double(Double(firstPositionWins) / Double(positionDecided)) : .null
        o["first_position_decided"] = .int(positionDecided)
        if bothOrders {
            o["order_disagreements"] = .int(disagreements)
            o["order_disagreement_rate"] = bothOrdersDecided > 0 ? .double(Double(disagreements) / Double(bothOrdersDecided)) : .null
        }
        if validation {
            o["validation"] = .object(JSONObject([("agreement", num(agreement)), ("agreement_ci95", ci(intervals.scoreAll)),
                                                  ("verdict", verdict.map { .string($0) } ?? .null),
                                                  ("definition", .string("(\(candidateKey) wins + ties / 2) / attempts: the judge's agreement with the human label"))]))
        }
        o["requests"] = .int(requests)
        o["retried_presentations"] = .int(retriedPresentations)
        o["resumed"] = .int(resumed)
        o["rejudged"] = .int(rejudged)
        return o
    }

    /// A few lines for standard error.
    public var lines: [String] {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.2f%%", $0 * 100) } ?? "n/a" }
        func ci(_ i: Interval?) -> String { i.map { String(format: " [%.2f%%, %.2f%%]", $0.lower * 100, $0.upper * 100) } ?? "" }
        func mean(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "n/a" }
        var l: [String] = []
        l.append("\(candidateKey) vs \(baselineKey): \(rates.attempts) comparisons (\(task.rawValue), judge \(judge), seed \(seed)\(calibrated ? ", both orders calibrated" : bothOrders ? ", both orders" : ""))")
        l.append("win rate of \(candidateKey): \(pct(rates.winRate)) (\(rates.candidateWins)/\(rates.attempts))\(intervals.winRate == nil ? "" : ", 95% CI")\(ci(intervals.winRate)); of \(baselineKey): \(pct(rates.baselineWinRate)) (\(rates.baselineWins)/\(rates.attempts))")
        l.append("decided \(rates.decided) (ties \(rates.ties)), unparsed \(rates.unparsed), failed \(rates.failed); \(candidateKey) wins \(pct(rates.winRateDecided)) of decided\(ci(intervals.winRateDecided)), ties as half \(pct(rates.scoreDecided))\(ci(intervals.scoreDecided))")
        var len = "mean length: \(candidateKey) \(mean(candidateMeanChars)) chars, \(baselineKey) \(mean(baselineMeanChars)) chars"
        if let c = candidateMeanTokens, let b = baselineMeanTokens {
            len += "; \(candidateKey) \(mean(c)) tokens, \(baselineKey) \(mean(b)) tokens"
        }
        l.append(len)
        var pos = "position: the text shown first won \(positionDecided > 0 ? pct(Double(firstPositionWins) / Double(positionDecided)) : "n/a") of \(positionDecided) decided judgments"
        if bothOrders {
            pos += "; the two orders disagree in \(disagreements) of \(bothOrdersDecided) comparisons"
        }
        l.append(pos)
        if validation, let a = agreement {
            l.append("validation: the judge agrees with the human label (\(candidateKey) over \(baselineKey)) on \(pct(a))\(ci(intervals.scoreAll)) of \(rates.attempts) pairs, ties as half: \(verdict ?? "n/a")")
        }
        var req = "requests: \(requests) (\(retriedPresentations) judgments retried)"
        if resumed > 0 { req += "; \(resumed) comparisons resumed from the output\(rejudged > 0 ? ", \(rejudged) judged again" : "")" }
        l.append(req)
        return l
    }
}
