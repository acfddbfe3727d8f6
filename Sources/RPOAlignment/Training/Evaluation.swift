// Held-out preference metrics of a model (rpo-train eval, the official eval.py's `mode=eval`): on scored
// preference pairs that the model has not trained on, the implicit rewards of the DPO family against the
// frozen reference, β·(π − ρ) for the chosen and the rejected response, their margin, whether the margin is
// positive, and how far the policy moved each response's log-prob. One record per pair, a summary with
// percentile-bootstrap 95% intervals, and the paired comparison of two models on the same pairs.
//
// Accuracy here counts a pair 1 when the chosen reward is the larger, 0 when the rejected one is, and 1/2 on an
// exact tie, so that the starting model (policy = reference: every margin exactly 0) scores 50% rather than the
// 0% of upstream's strict `>`, and "moved from start" is a difference of two meaningful rates. Trained models
// essentially never tie, so for them it is the standard element-wise accuracy.
import Foundation
import RPOCore

/// One held-out pair under a policy and its reference.
public struct PairEvaluation: Sendable, Equatable {
    public var id: String
    public var promptId: String?
    public var policyChosen: Double
    public var policyRejected: Double
    public var referenceChosen: Double
    public var referenceRejected: Double
    public var chosenTokens: Int
    public var rejectedTokens: Int

    public init(id: String, promptId: String? = nil, policyChosen: Double, policyRejected: Double,
                referenceChosen: Double, referenceRejected: Double, chosenTokens: Int = 0, rejectedTokens: Int = 0) {
        self.id = id; self.promptId = promptId
        self.policyChosen = policyChosen; self.policyRejected = policyRejected
        self.referenceChosen = referenceChosen; self.referenceRejected = referenceRejected
        self.chosenTokens = chosenTokens; self.rejectedTokens = rejectedTokens
    }

    /// π − ρ of the chosen response (the change of its log-prob since the reference).
    public var chosenChange: Double { policyChosen - referenceChosen }
    public var rejectedChange: Double { policyRejected - referenceRejected }
    public func rewardChosen(beta: Double) -> Double { beta * chosenChange }
    public func rewardRejected(beta: Double) -> Double { beta * rejectedChange }
    /// β·Δc − β·Δr, computed as upstream does (the difference of the two rewards).
    public func margin(beta: Double) -> Double { rewardChosen(beta: beta) - rewardRejected(beta: beta) }
    /// 1 when the chosen reward is the larger, 0 when the rejected one is, 1/2 on a tie.
    public func correct(beta: Double) -> Double {
        let c = rewardChosen(beta: beta), r = rewardRejected(beta: beta)
        return c > r ? 1 : c < r ? 0 : 0.5
    }

    /// The per-pair record of rpo-train eval.
    public func record(beta: Double) -> JSONObject {
        var o = JSONObject()
        o["id"] = .string(id)
        if let p = promptId { o["prompt_id"] = .string(p) }
        o["policy_chosen_logp"] = .double(policyChosen)
        o["policy_rejected_logp"] = .double(policyRejected)
        o["reference_chosen_logp"] = .double(referenceChosen)
        o["reference_rejected_logp"] = .double(referenceRejected)
        o["chosen_logp_change"] = .double(chosenChange)
        o["rejected_logp_change"] = .double(rejectedChange)
        o["reward_chosen"] = .double(rewardChosen(beta: beta))
        o["reward_rejected"] = .double(rewardRejected(beta: beta))
        o["margin"] = .double(margin(beta: beta))
        o["correct"] = .double(correct(beta: beta))
        o["chosen_tokens"] = .int(chosenTokens)
        o["rejected_tokens"] = .int(rejectedTokens)
        return o
    }

    /// Reads a per-pair record back (for comparisons).
    public init(record o: JSONObject, source: String, line: Int) throws {
        func num(_ k: String) throws -> Double { try o.field(k, source: source, record: line).double() }
        id = try o.field("id", source: source, record: line).string()
        promptId = o["prompt_id"]?.stringValue
        policyChosen = try num("policy_chosen_logp")
        policyRejected = try num("policy_rejected_logp")
        referenceChosen = try num("reference_chosen_logp")
        referenceRejected = try num("reference_rejected_logp")
        chosenTokens = o["chosen_tokens"]?.intValue ?? 0
        rejectedTokens = o["rejected_tokens"]?.intValue ?? 0
    }
}

/// A mean with its percentile-bootstrap 95% interval.
public struct Estimate: Sendable, Equatable {
    public var mean: Double
    public var interval: Interval
    public init(mean: Double, interval: Interval) { self.mean = mean; self.interval = interval }

    /// True when the interval excludes `value` (the estimate differs from it at the 5% level).
    public func excludes(_ value: Double) -> Bool { interval.lower > value || interval.upper < value }

    /// "mean [lower, upper]", each times `scale`, with `digits` decimals (and a sign when `signed`).
    public func formatted(scale: Double = 1, digits: Int = 3, signed: Bool = false) -> String {
        let f = "%\(signed ? "+" : "").\(digits)f"
        return String(format: "\(f) [\(f), \(f)]", mean * scale, interval.lower * scale, interval.upper * scale)
    }

    public var json: JSON {
        var o = JSONObject()
        o["mean"] = .double(mean)
        o["lower"] = .double(interval.lower)
        o["upper"] = .double(interval.upper)
        return .object(o)
    }
}

public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case empty(String)
    case mismatch(String)
    public var description: String {
        switch self { case .empty(let m), .mismatch(let m): return m }
    }
}

public enum Evaluation {
    /// The means of `columns` (each n values, the same n pairs) with percentile-bootstrap 95% intervals: pairs
    /// are resampled jointly for all columns (`RNG(seed).below(n)`, n draws per resample), the mean of each
    /// column taken per resample, and the 2.5th / 97.5th percentiles interpolated as numpy.percentile does.
    public static func bootstrapMeans(_ columns: [[Double]], resamples: Int, seed: UInt64) -> [Estimate] {
        let n = columns.first?.count ?? 0
        precondition(n > 0 && columns.allSatisfy { $0.count == n } && resamples > 0)
        var rng = RNG(seed: seed)
        var draws = [[Double]](repeating: [], count: columns.count)
        for c in columns.indices { draws[c].reserveCapacity(resamples) }
        var sums = [Double](repeating: 0, count: columns.count)
        for _ in 0..<resamples {
            for c in sums.indices { sums[c] = 0 }
            for _ in 0..<n {
                let k = rng.below(n)
                for c in columns.indices { sums[c] += columns[c][k] }
            }
            for c in columns.indices { draws[c].append(sums[c] / Double(n)) }
        }
        return columns.indices.map { c in
            let s = draws[c].sorted()
            return Estimate(mean: columns[c].reduce(0, +) / Double(n),
                            interval: Interval(JudgeStatistics.percentile(sorted: s, 2.5), JudgeStatistics.percentile(sorted: s, 97.5)))
        }
    }

    /// The summary of one model's per-pair results.
    public struct Summary: Sendable {
        public var pairs: Int
        public var beta: Double
        public var ties: Int
        public var accuracy: Estimate
        public var margin: Estimate
        public var chosenChange: Estimate
        public var rejectedChange: Estimate
        public var rewardChosen: Double
        public var rewardRejected: Double
        public var resamples: Int
        public var seed: UInt64

        public var json: JSONObject {
            var o = JSONObject()
            o["pairs"] = .int(pairs)
            o["beta"] = .double(beta)
            o["accuracy"] = accuracy.json
            o["margin"] = margin.json
            o["chosen_logp_change"] = chosenChange.json
            o["rejected_logp_change"] = rejectedChange.json
            o["reward_chosen"] = .double(rewardChosen)
            o["reward_rejected"] = .double(rewardRejected)
            o["ties"] = .int(ties)
            o["interval"] = .string("percentile bootstrap 95%, \(resamples) resamples of the pairs, seed \(seed)")
            return o
        }

        /// Lines for standard error.
        public var lines: [String] {
            func f(_ e: Estimate, _ scale: Double, _ digits: Int) -> String { e.formatted(scale: scale, digits: digits) }
            var l = ["\(pairs) pairs (beta \(beta)): accuracy \(f(accuracy, 100, 1))%" + (ties > 0 ? " (\(ties) ties counted 1/2)" : ""),
                     "mean margin \(f(margin, 1, 4)), chosen log-prob change \(f(chosenChange, 1, 2)), rejected \(f(rejectedChange, 1, 2))"]
            l.append("95% percentile-bootstrap intervals over pairs (\(resamples) resamples, seed \(seed))")
            return l
        }
    }

    public static func summarize(_ pairs: [PairEvaluation], beta: Double, resamples: Int = 10_000, seed: UInt64 = 0) throws -> Summary {
        guard !pairs.isEmpty else { throw EvaluationError.empty("no pairs to evaluate") }
        let cols = [pairs.map { $0.correct(beta: beta) }, pairs.map { $0.margin(beta: beta) },
                    pairs.map(\.chosenChange), pairs.map(\.rejectedChange)]
        let e = bootstrapMeans(cols, resamples: resamples, seed: seed)
        let n = Double(pairs.count)
        return Summary(pairs: pairs.count, beta: beta, ties: pairs.filter { $0.correct(beta: beta) == 0.5 }.count,
                       accuracy: e[0], margin: e[1], chosenChange: e[2], rejectedChange: e[3],
                       rewardChosen: pairs.reduce(0) { $0 + $1.rewardChosen(beta: beta) } / n,
                       rewardRejected: pairs.reduce(0) { $0 + $1.rewardRejected(beta: beta) } / n,
                       resamples: resamples, seed: seed)
    }

    /// The paired comparison of two models on the same pairs: per pair, `other` minus `base` of accuracy,
    /// margin and the two log-prob changes; means with percentile-bootstrap intervals over pairs.
    public struct Comparison: Sendable {
        public var pairs: Int
        public var beta: Double
        public var accuracy: Estimate
        public var margin: Estimate
        public var chosenChange: Estimate
        public var rejectedChange: Estimate
        /// Pairs where `other` is right and `base` wrong, and the reverse (ties count 1/2 each way).
        public var otherOnlyCorrect: Double
        public var baseOnlyCorrect: Double
        public var resamples: Int
        public var seed: UInt64

        public var json: JSONObject {
            var o = JSONObject()
            o["pairs"] = .int(pairs)
            o["beta"] = .double(beta)
            o["accuracy_difference"] = accuracy.json
            o["margin_difference"] = margin.json
            o["chosen_logp_change_difference"] = chosenChange.json
            o["rejected_logp_change_difference"] = rejectedChange.json
            o["other_only_correct"] = .double(otherOnlyCorrect)
            o["base_only_correct"] = .double(baseOnlyCorrect)
            o["interval"] = .string("paired percentile bootstrap 95%, \(resamples) resamples of the pairs, seed \(seed)")
            return o
        }

        public var lines: [String] {
            func f(_ e: Estimate, _ scale: Double, _ digits: Int) -> String { e.formatted(scale: scale, digits: digits, signed: true) }
            return ["\(pairs) pairs, other - base: accuracy \(f(accuracy, 100, 1)) points, margin \(f(margin, 1, 4)), chosen log-prob change \(f(chosenChange, 1, 2))",
                    "95% paired percentile-bootstrap intervals over pairs (\(resamples) resamples, seed \(seed))"]
        }
    }

    /// Matches the pairs of `base` and `other` by id; both must hold the same ids.
    public static func compare(base: [PairEvaluation], other: [PairEvaluation], beta: Double, resamples: Int = 10_000,
                               seed: UInt64 = 0) throws -> (Comparison, [JSONObject]) {
        guard !base.isEmpty else { throw EvaluationError.empty("no pairs to compare") }
        var index: [String: Int] = [:]
        for (k, p) in base.enumerated() {
            if index[p.id] != nil { throw EvaluationError.mismatch("the base evaluation holds pair \(p.id) twice") }
            index[p.id] = k
        }
        var seen = Set<String>()
        var rows: [(PairEvaluation, PairEvaluation)] = []
        for p in other {
            guard let k = index[p.id] else { throw EvaluationError.mismatch("pair \(p.id) is in the other evaluation only") }
            if !seen.insert(p.id).inserted { throw EvaluationError.mismatch("the other evaluation holds pair \(p.id) twice") }
            rows.append((base[k], p))
        }
        if rows.count != base.count {
            let missing = base.first { !seen.contains($0.id) }!.id
            throw EvaluationError.mismatch("pair \(missing) is in the base evaluation only (\(base.count) pairs against \(rows.count))")
        }
        let d = [rows.map { $1.correct(beta: beta) - $0.correct(beta: beta) },
                 rows.map { $1.margin(beta: beta) - $0.margin(beta: beta) },
                 rows.map { $1.chosenChange - $0.chosenChange },
                 rows.map { $1.rejectedChange - $0.rejectedChange }]
        let e = bootstrapMeans(d, resamples: resamples, seed: seed)
        var records: [JSONObject] = []
        for (k, (a, b)) in rows.enumerated() {
            var o = JSONObject()
            o["id"] = .string(b.id)
            o["base_margin"] = .double(a.margin(beta: beta))
            o["other_margin"] = .double(b.margin(beta: beta))
            o["margin_difference"] = .double(d[1][k])
            o["correct_difference"] = .double(d[0][k])
            o["chosen_logp_change_difference"] = .double(d[2][k])
            records.append(o)
        }
        let c = Comparison(pairs: rows.count, beta: beta, accuracy: e[0], margin: e[1], chosenChange: e[2], rejectedChange: e[3],
                           otherOnlyCorrect: d[0].reduce(0) { $0 + max($1, 0) }, baseOnlyCorrect: d[0].reduce(0) { $0 + max(-$1, 0) },
                           resamples: resamples, seed: seed)
        return (c, records)
    }

    /// Scores the pairs of `input` (rpo-tokenize example records, or records already carrying reference
    /// log-probs from `rpo-train score`) with the policy, `memoryMicroBatch` sequences at a time, and returns one
    /// evaluation per pair in input order. Reference log-probs come from the records when they carry them,
    /// else from `reference` (which must then be given). When `policyFingerprint` is the `reference_model` of every
    /// record, the policy is the model that scored them: its log-probs are the records' reference log-probs and
    /// `policy` is never called (`reusedReference` tells).
    public static func evaluate(policy: () throws -> CausalLM, policyFingerprint: String? = nil, reference: CausalLM?,
                                input: RecordReader, memoryMicroBatch: Int = 8, reusedReference: ((Bool) -> Void)? = nil,
                                progress: ((Int) -> Void)? = nil) throws -> [PairEvaluation] {
        var records: [(JSONObject, Int)] = []
        while let r = try input.read() {
            if r["chosen_input_ids"] == nil || r["rejected_input_ids"] == nil {
                throw input.error("not a paired example record (chosen_input_ids and rejected_input_ids are needed)")
            }
            records.append((r, input.recordNumber))
        }
        if records.isEmpty { throw IOError(input.name, "no example records to evaluate") }
        var options = ScoreOptions()
        options.memoryMicroBatch = memoryMicroBatch
        func scored(_ model: CausalLM, prefix: String) throws -> [JSONObject] {
            options.prefix = prefix
            var out: [JSONObject] = []
            out.reserveCapacity(records.count)
            _ = try ReferenceScorer.run(model: model, fingerprint: "", records: records, source: input.name, options: options,
                                        write: { out.append($0) }, progress: progress)
            return out
        }
        let reuse = policyFingerprint != nil && records.allSatisfy {
            $0.0["reference_model"]?.stringValue == policyFingerprint && $0.0["reference_chosen_logp"] != nil
                && $0.0["reference_rejected_logp"] != nil
        }
        reusedReference?(reuse)
        let withPolicy = reuse ? records.map { r -> JSONObject in
            var o = r.0
            o["policy_chosen_logp"] = r.0["reference_chosen_logp"]
            o["policy_rejected_logp"] = r.0["reference_rejected_logp"]
            return o
        } : try scored(try policy(), prefix: "policy")
        let needsReference = records.contains { $0.0["reference_chosen_logp"] == nil || $0.0["reference_rejected_logp"] == nil }
        var withReference: [JSONObject]?
        if needsReference {
            guard let ref = reference else {
                let line = records.first { $0.0["reference_chosen_logp"] == nil || $0.0["reference_rejected_logp"] == nil }!.1
                throw RecordError(source: input.name, record: line, "no reference log-probs (score the records with rpo-train score, or give --reference)")
            }
            withReference = try scored(ref, prefix: "reference")
        }
        return try records.indices.map { k in
            let (r, line) = records[k]
            let p = withPolicy[k], ref = withReference?[k] ?? r
            func num(_ o: JSONObject, _ key: String) throws -> Double {
                let v = try o.field(key, source: input.name, record: line).double()
                guard v.isFinite else { throw RecordError(source: input.name, record: line, "\(key) is \(v)") }
                return v
            }
            let id: String
            switch r["id"] {
            case .string(let s)?: id = s
            case .int(let i)?: id = String(i)
            default: id = "\(input.name):\(line)"
            }
            let cl = try r.field("chosen_label_start", source: input.name, record: line).int()
            let rl = try r.field("rejected_label_start", source: input.name, record: line).int()
            let cn = try r.field("chosen_input_ids", source: input.name, record: line).array().count
            let rn = try r.field("rejected_input_ids", source: input.name, record: line).array().count
            return PairEvaluation(id: id, promptId: r["prompt_id"]?.stringValue,
                                  policyChosen: try num(p, "policy_chosen_logp"), policyRejected: try num(p, "policy_rejected_logp"),
                                  referenceChosen: try num(ref, "reference_chosen_logp"),
                                  referenceRejected: try num(ref, "reference_rejected_logp"),
                                  chosenTokens: cn - cl, rejectedTokens: rn - rl)
        }
    }
}
