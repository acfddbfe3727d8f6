// The logits processors against transformers' (scripts/make_sample_fixtures.py processors): each filter
// alone and in generate's chain, on hand-made rows with ties, exact boundaries, negative scores and -inf;
// greedy decoding; the draw's frequencies; the per-sample random streams.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct TokenSamplerTests {
    static let fixture: JSONObject? = {
        guard case .object(let o)? = try? loadJSONFixture("sample/processors.json") else { return nil }
        return o
    }()

    static func row(_ j: JSON) -> [Float] { j.arrayValue!.map { $0.doubleValue.map(Float.init) ?? -.infinity } }

    static func settings(_ o: JSONObject, greedy: Bool = false) -> SamplingSettings {
        var s = SamplingSettings()
        if let v = o["temperature"]?.doubleValue { s.temperature = v }
        if let v = o["top_k"]?.intValue { s.topK = v }
        if let v = o["top_p"]?.doubleValue { s.topP = v }
        if let v = o["min_p"]?.doubleValue { s.minP = v }
        if let v = o["repetition_penalty"]?.doubleValue { s.repetitionPenalty = v }
        return s
    }

    @Test func generateAppliesTheProcessorsInThisOrder() throws {
        let f = try #require(Self.fixture)
        #expect(f["generate_order"]!.arrayValue!.compactMap(\.stringValue) ==
                ["RepetitionPenaltyLogitsProcessor", "TemperatureLogitsWarper", "TopKLogitsWarper",
                 "TopPLogitsWarper", "MinPLogitsWarper"])
    }

    @Test func everyCaseMatchesTransformers() throws {
        let f = try #require(Self.fixture)
        let rows = f["rows"]!.objectValue!, history = f["history"]!.objectValue!
        let cases = f["cases"]!.arrayValue!
        #expect(cases.count > 200)
        var failures: [String] = []
        for c in cases {
            let o = c.objectValue!
            let name = o["row"]!.stringValue!
            var row = Self.row(rows[name]!)
            let expected = Self.row(o["expected"]!)
            let settingsObject = o["settings"]!.objectValue!
            let s = Self.settings(settingsObject)
            // A processor applied alone in the fixture: turn the others off. temperature 1 keeps sampling on
            // (temperature 0 would mean greedy here).
            var sampler = TokenSampler(settings: s, vocabularySize: row.count)
            row.withUnsafeMutableBufferPointer {
                sampler.process($0.baseAddress!, history: history[name]!.arrayValue!.map { $0.intValue! })
            }
            // Exact: the same float32 operations as torch; the filters' decisions on these rows are exact.
            if row != expected && !(row.elementsEqual(expected) { $0 == $1 || ($0.isNaN && $1.isNaN) }) {
                failures.append("\(name) \(settingsObject): \(row) vs \(expected)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) cases differ: \(failures.prefix(4).joined(separator: "\n"))")
    }

    @Test func greedyIsTheFirstArgmaxAfterTheRepetitionPenalty() {
        var row: [Float] = [1, 5, 2, 5, -1]
        var s = TokenSampler(settings: SamplingSettings(temperature: 0, topK: 1, topP: 0.1), vocabularySize: 5)
        var rng = RNG(seed: 1)
        let before = rng
        #expect(s.next(&row, history: [], rng: &rng) == 1)  // ties: the first index, like torch.argmax
        #expect(rng == before, "greedy decoding draws nothing")
        var pen = TokenSampler(settings: SamplingSettings(temperature: 0, repetitionPenalty: 2), vocabularySize: 5)
        row = [1, 5, 2, 5, -1]
        #expect(pen.next(&row, history: [1, 1, 1], rng: &rng) == 3)  // 5 / 2 = 2.5 < 5: the penalty applies in greedy too
        #expect(row == [1, 2.5, 2, 5, -1], "the penalty applies once per distinct token")
    }

    @Test func drawsFollowTheFilteredDistribution() {
        // probabilities 0.4, 0.3, 0.2, 0.1 (logits are logs); top-k 3 leaves 4/9, 3/9, 2/9.
        let logits: [Float] = [log(0.4), log(0.3), log(0.2), log(0.1)].map(Float.init)
        var s = TokenSampler(settings: SamplingSettings(temperature: 1, topK: 3), vocabularySize: 4)
        var rng = RNG(seed: 77)
        var counts = [0, 0, 0, 0]
        let n = 70_000
        for _ in 0..<n {
            var row = logits
            counts[s.next(&row, history: [], rng: &rng)] += 1
        }
        #expect(counts[3] == 0)
        let p = [4.0 / 9, 3.0 / 9, 2.0 / 9]
        for i in 0..<3 {
            // binomial standard deviation sqrt(n p (1-p)) <= 132 here; 5 sigma: the seed is fixed, so this
            // either always passes or shows a biased draw
            let sd = (Double(n) * p[i] * (1 - p[i])).squareRoot()
            #expect(abs(Double(counts[i]) - Double(n) * p[i]) < 5 * sd, "token \(i): \(counts[i]) of \(n)")
        }
    }

    @Test func settingsAreValidatedAsTransformersDoes() {
        let bad: [SamplingSettings] = [
            SamplingSettings(temperature: -0.1), SamplingSettings(temperature: .infinity), SamplingSettings(topK: -1),
            SamplingSettings(topP: 1.5), SamplingSettings(topP: -0.1), SamplingSettings(minP: 2),
            SamplingSettings(repetitionPenalty: 0),
        ]
        for s in bad { #expect(throws: SamplingError.self) { try s.validate() } }
        #expect(throws: Never.self) { try SamplingSettings(temperature: 0, topK: 0, topP: 0, minP: 0).validate() }
    }

    @Test func sampleStreamsDependOnSeedRecordAndSampleOnly() {
        var a = SampleStreams.rng(seed: 1, record: 5, sample: 0), b = SampleStreams.rng(seed: 1, record: 5, sample: 0)
        #expect(a.next() == b.next())
        let firsts = [(1, 5, 0), (1, 5, 1), (1, 6, 0), (2, 5, 0), (1, 0, 5)].map { (s, r, k) -> UInt64 in
            var g = SampleStreams.rng(seed: UInt64(s), record: r, sample: k)
            return g.next()
        }
        #expect(Set(firsts).count == firsts.count)
    }

    @Test func selectFindsTheKthLargest() {
        var rng = RNG(seed: 4)
        for n in [1, 2, 3, 10, 101] {
            let v = (0..<n).map { _ in Float(rng.below(7)) }  // many ties
            for k in 0..<n {
                var w = v
                #expect(TokenSampler.select(&w, rank: k) == v.sorted(by: >)[k])
            }
        }
    }
}
