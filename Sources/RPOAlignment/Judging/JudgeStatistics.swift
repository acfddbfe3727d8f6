// Win-rate statistics of a judged run: the official rate (candidate wins / attempted comparisons,
// compare.py:318, failures and unparsed answers counted in the denominator), the rate over decided
// comparisons, ties counted half, and percentile-bootstrap 95% intervals over comparisons (resampled with
// rpo's seeded RNG; percentiles interpolated linearly, as numpy.percentile does).
import Foundation
import RPOCore

/// What one comparison came to.
public enum ComparisonOutcome: Int, Sendable, CaseIterable {
    /// The judge preferred the candidate (in both orders, with --both-orders).
    case candidate = 0
    case baseline = 1
    /// The two orders disagreed (--both-orders), or a local judge scored the labels exactly equal.
    case tie = 2
    /// The judge answered but named no label (upstream's None / ValueError).
    case unparsed = 3
    /// No answer: HTTP error, timeout, connection failure, malformed response.
    case failed = 4
}

/// A 95% interval.
public struct Interval: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public init(_ lower: Double, _ upper: Double) { self.lower = lower; self.upper = upper }
}

/// Counts and rates over a list of comparison outcomes.
public struct WinRates: Sendable, Equatable {
    public var attempts = 0
    public var candidateWins = 0
    public var baselineWins = 0
    public var ties = 0
    public var unparsed = 0
    public var failed = 0

    public init(_ outcomes: [ComparisonOutcome]) {
        var c = [Int](repeating: 0, count: 5)
        for o in outcomes { c[o.rawValue] += 1 }
        self.init(counts: c)
    }

    init(counts c: [Int]) {
        candidateWins = c[0]; baselineWins = c[1]; ties = c[2]; unparsed = c[3]; failed = c[4]
        attempts = c.reduce(0, +)
    }

    /// Comparisons with a verdict (either side won, or a tie).
    public var decided: Int { candidateWins + baselineWins + ties }

    /// The official win rate: candidate wins / attempts (nil with no attempts).
    public var winRate: Double? { attempts > 0 ? Double(candidateWins) / Double(attempts) : nil }
    /// The baseline's official win rate.
    public var baselineWinRate: Double? { attempts > 0 ? Double(baselineWins) / Double(attempts) : nil }
    /// Candidate wins / decided comparisons (ties stay in the denominator as non-wins).
    public var winRateDecided: Double? { decided > 0 ? Double(candidateWins) / Double(decided) : nil }
    /// (wins + ties / 2) / decided.
    public var scoreDecided: Double? { decided > 0 ? (Double(candidateWins) + 0.5 * Double(ties)) / Double(decided) : nil }
    /// (wins + ties / 2) / attempts: a judge validated on (chosen, rejected) pairs agrees with the human label on
    /// this share of them (failures and unparsed answers count as disagreement).
    public var scoreAll: Double? { attempts > 0 ? (Double(candidateWins) + 0.5 * Double(ties)) / Double(attempts) : nil }
}

/// Percentile-bootstrap intervals of the three rates.
public struct BootstrapIntervals: Sendable, Equatable {
    public var winRate: Interval?
    public var winRateDecided: Interval?
    public var scoreDecided: Interval?
    public var scoreAll: Interval?
}

public enum JudgeStatistics {
    /// Resamples the comparisons `resamples` times with replacement (index draws `RNG(seed).below(n)`, n per
    /// resample, resample after resample) and takes the 2.5th and 97.5th percentiles of each rate; resamples
    /// in which a rate is undefined (no decided comparison) are left out of that rate's interval.
    public static func bootstrap(_ outcomes: [ComparisonOutcome], resamples: Int, seed: UInt64) -> BootstrapIntervals {
        let n = outcomes.count
        guard n > 0, resamples > 0 else { return BootstrapIntervals() }
        let codes = outcomes.map { $0.rawValue }
        var rng = RNG(seed: seed)
        var rate = [Double](), decided = [Double](), score = [Double](), all = [Double]()
        rate.reserveCapacity(resamples); decided.reserveCapacity(resamples); score.reserveCapacity(resamples)
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<resamples {
            for k in 0..<5 { counts[k] = 0 }
            for _ in 0..<n { counts[codes[rng.below(n)]] += 1 }
            let w = WinRates(counts: counts)
            rate.append(w.winRate!)
            if let d = w.winRateDecided { decided.append(d) }
            if let s = w.scoreDecided { score.append(s) }
            all.append(w.scoreAll!)
        }
        return BootstrapIntervals(winRate: interval(rate), winRateDecided: interval(decided), scoreDecided: interval(score),
                                  scoreAll: interval(all))
    }

    static func interval(_ values: [Double]) -> Interval? {
        if values.isEmpty { return nil }
        let s = values.sorted()
        return Interval(percentile(sorted: s, 2.5), percentile(sorted: s, 97.5))
    }

    /// numpy.percentile(a, q) with the default 'linear' method on sorted values: virtual index
    /// (n - 1) · q / 100, and numpy's _lerp (which interpolates from the upper end when gamma >= 0.5).
    public static func percentile(sorted a: [Double], _ q: Double) -> Double {
        precondition(!a.isEmpty)
        let v = (q / 100) * Double(a.count - 1)
        let lo = Int(v.rounded(.down))
        let gamma = v - Double(lo)
        let hi = min(lo + 1, a.count - 1)
        let x = a[lo], y = a[hi]
        let diff = y - x
        return gamma >= 0.5 ? y - diff * (1 - gamma) : x + diff * gamma
    }
}
