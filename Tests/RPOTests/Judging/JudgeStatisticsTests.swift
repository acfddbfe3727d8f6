// Win rates and bootstrap intervals against numpy (fixture bootstrap.json, scripts/make_judge_fixtures.py):
// exactly, with the same resample indices (rpo's RNG re-implemented in Python), and statistically, against
// numpy's own generator.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct JudgeStatisticsTests {
    static let cases = Result { try judgingFixture("bootstrap.json")["cases"]!.jList }

    static func outcomes(_ c: JSON) -> [ComparisonOutcome] {
        c["outcomes"].jList.map { o in
            switch o.jText {
            case "candidate": return .candidate
            case "baseline": return .baseline
            case "tie": return .tie
            case "unparsed": return .unparsed
            default: return .failed
            }
        }
    }

    static func interval(_ j: JSON) -> Interval? {
        j.isNull ? nil : Interval(j.jList[0].doubleValue!, j.jList[1].doubleValue!)
    }

    @Test func pointEstimatesAndDenominators() throws {
        for c in try Self.cases.get() {
            let w = WinRates(Self.outcomes(c))
            let p = c["point"]
            // Exact: the same divisions in double precision.
            #expect(w.winRate == p["win_rate"].doubleValue, "\(c["name"].jText)")
            #expect(w.winRateDecided == p["win_rate_decided"].doubleValue, "\(c["name"].jText)")
            #expect(w.scoreDecided == p["score_decided"].doubleValue, "\(c["name"].jText)")
        }
        // Ties, unparsed answers and failures: all in the official denominator; only ties in the decided one.
        let w = WinRates([.candidate, .candidate, .baseline, .tie, .unparsed, .failed, .failed])
        #expect(w.attempts == 7 && w.decided == 4)
        #expect(w.winRate == 2.0 / 7 && w.baselineWinRate == 1.0 / 7)
        #expect(w.winRateDecided == 2.0 / 4 && w.scoreDecided == 2.5 / 4)
        #expect(WinRates([]).winRate == nil && WinRates([.failed]).winRateDecided == nil)
    }

    @Test func bootstrapEqualsNumpyOnTheSameResamples() throws {
        for c in try Self.cases.get() {
            let b = JudgeStatistics.bootstrap(Self.outcomes(c), resamples: c["resamples"].intValue!,
                                              seed: UInt64(c["seed"].intValue!))
            let e = c["exact"]
            // 1e-12: the same resample counts and divisions; numpy's lerp reproduced, so only rounding of the
            // interpolation could differ.
            for (mine, want, name) in [(b.winRate, Self.interval(e["win_rate"]), "win_rate"),
                                       (b.winRateDecided, Self.interval(e["win_rate_decided"]), "win_rate_decided"),
                                       (b.scoreDecided, Self.interval(e["score_decided"]), "score_decided")] {
                #expect((mine == nil) == (want == nil), "\(c["name"].jText) \(name)")
                if let m = mine, let w = want {
                    #expect(abs(m.lower - w.lower) <= 1e-12 && abs(m.upper - w.upper) <= 1e-12,
                            "\(c["name"].jText) \(name): \(m) vs \(w)")
                }
            }
        }
    }

    @Test func bootstrapAgreesWithNumpysGenerator() throws {
        let c = try Self.cases.get().first { $0["name"].jText == "n256" }!
        let b = JudgeStatistics.bootstrap(Self.outcomes(c), resamples: 10_000, seed: 0)
        let e = c["numpy_rng"]
        // Another generator gives another Monte Carlo estimate: with 10,000 resamples of 256 comparisons the
        // percentile's standard error is about 0.003, so 0.012 (about four standard errors, three steps of
        // 1/256) separates noise from a wrong method.
        for (mine, want) in [(b.winRate!, Self.interval(e["win_rate"])!), (b.winRateDecided!, Self.interval(e["win_rate_decided"])!),
                             (b.scoreDecided!, Self.interval(e["score_decided"])!)] {
            #expect(abs(mine.lower - want.lower) <= 0.012 && abs(mine.upper - want.upper) <= 0.012, "\(mine) vs \(want)")
        }
    }

    /// numpy.percentile([1, 2, 3, 4], q) for q = 0, 2.5, 50, 97.5, 100: 1.0, 1.075, 2.5, 3.925, 4.0.
    @Test func percentileIsNumpysLinearMethod() {
        let a: [Double] = [1, 2, 3, 4]
        let want = [1.0, 1.075, 2.5, 3.925, 4.0]
        for (q, w) in zip([0.0, 2.5, 50, 97.5, 100], want) {
            #expect(abs(JudgeStatistics.percentile(sorted: a, q) - w) <= 1e-15, "q \(q)")
        }
    }
}
