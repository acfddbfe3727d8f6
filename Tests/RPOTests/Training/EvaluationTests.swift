// Held-out evaluation: the in-training eval metrics against PyTorch float64 re-implementations of the official
// trainers' eval logging (scripts/make_eval_fixtures.py), the starting model's zero margins, evaluation that
// leaves training untouched, rpo-train eval's per-pair statistics and bootstrap intervals (same resample indices
// as the fixture), and a model trained for several epochs on pairs that recognises them.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct EvaluationTests {
    static let reference = Result { try loadJSONFixture("eval/reference.json").objectValue! }

    static func doubles(_ j: JSON?) -> [Double] { (j?.arrayValue ?? []).map { $0.doubleValue! } }

    /// The eval metric means of the first batch record of a tiny training fixture for the fixture's log-probs.
    @Test(arguments: [0, 1, 2]) func heldoutMetricsMatchTheOfficialLogging(_ k: Int) throws {
        let c = try Self.reference.get()["heldout"]!.arrayValue![k].objectValue!
        let run = c["run"]!.stringValue!, loss = LossKind(rawValue: c["loss"]!.stringValue!)!
        let fixture = try TrainFixture(run)
        var conf = TrainerConfiguration(loss: loss)
        conf.parameters.beta = c["beta"]!.doubleValue!
        let trainer = try fixture.trainer(configuration: conf)
        let reader = try RecordReader(path: fixture.batches)
        let b = try TrainBatch(record: try reader.read()!, source: "batches", record: 1, loss: loss,
                               parameters: conf.parameters, vocabSize: trainer.policy.config.vocabSize)
        let lp = c["logps"]!.objectValue!
        var P: [Double] = [], R: [Double] = []
        for s in b.sequences {
            if loss.family == .paired {
                P.append(Self.doubles(lp["policy_\(s.role.rawValue)"])[s.example])
                R.append(Self.doubles(lp["reference_\(s.role.rawValue)"])[s.example])
            } else {
                P.append(Self.doubles(lp["policy"])[s.example])
                R.append(Self.doubles(lp["reference"])[s.example])
            }
        }
        let means = Trainer.evalMeans(try trainer.evalOutputs(b, policy: P, reference: R))
        let expected = c["means"]!.objectValue!
        #expect(Set(means.map(\.0)) == Set(expected.map(\.0)), "the upstream eval names, no more, no fewer")
        for (name, value) in means {
            // Both sides compute the same float64 formulas (log-sigmoid, means) in different orders: 1e-12.
            expectNear([value], [expected[name]!.doubleValue!], atol: 1e-12, rtol: 1e-12, "\(run) \(name)")
        }
    }

    /// Policy = reference: every eval reward and margin is exactly 0 and the DPO loss is ln 2; evaluating does not
    /// change what training does (same metrics, same weights as a run without evaluation).
    @Test func evaluationStartsAtZeroAndLeavesTrainingUntouched() throws {
        let fixture = try TrainFixture("dpo")
        let plain = try fixture.trainer(microBatch: 3)
        let (m0, _) = try TrainFixture.run(plain, fixture.batches)

        let t = try fixture.trainer(microBatch: 3)
        try t.loadEvalBatches(try RecordReader(path: fixture.batches))
        let batchSize = t.evalBatches[0].batchSize
        t.options.evalEvery = 2 * batchSize + 1  // rounded down to 2 batches, as upstream
        let (m1, s) = try TrainFixture.run(t, fixture.batches)
        let evals = m1.filter { $0["mode"]?.stringValue == "eval" }, train = m1.filter { $0["mode"] == nil }
        // Policy and reference are two copies of one model, scored in the same chunks: rewards exactly 0.
        let first = evals[0]
        #expect(first["counters/examples"]?.intValue == 0 && first["step"]?.intValue == 0)
        for key in ["rewards_eval/chosen", "rewards_eval/rejected", "rewards_eval/margins", "rewards_eval/accuracies_elementwise"] {
            #expect(first[key]?.doubleValue == 0, "\(key) at the first evaluation")
        }
        #expect(abs(first["loss/eval"]!.doubleValue! - log(2.0)) < 1e-15)
        let total = train.last!["counters/examples"]!.intValue!
        let expected = stride(from: 0, through: total, by: 2 * batchSize).map { $0 }
        #expect(evals.map { $0["counters/examples"]!.intValue! } == expected)
        #expect(s.evaluations == expected.count)
        #expect(evals.dropFirst().allSatisfy { $0["rewards_eval/margins"]!.doubleValue! != 0 })
        // Training is unchanged: every non-timing metric of every step, and the final weights.
        #expect(train.count == m0.count)
        for (a, b) in zip(train, m0) {
            for (k, v) in b where !["tokens_per_s", "examples_per_s"].contains(k) { #expect(a[k] == v, "step \(b["step"]!) \(k)") }
        }
        let n = t.policy.layout.count
        #expect(Array(UnsafeBufferPointer(start: t.policy.parameters.pointer, count: n))
                == Array(UnsafeBufferPointer(start: plain.policy.parameters.pointer, count: n)))
    }

    /// rpo-train eval's per-pair values, summary and paired comparison against the fixture (same bootstrap draws).
    @Test func pairStatisticsMatchTheReference() throws {
        let c = try Self.reference.get()["pairs"]!.objectValue!
        let beta = c["beta"]!.doubleValue!, resamples = c["resamples"]!.intValue!, seed = UInt64(c["seed"]!.intValue!)
        let rc = Self.doubles(c["reference_chosen"]), rr = Self.doubles(c["reference_rejected"])
        func pairs(_ o: JSONObject) -> [PairEvaluation] {
            let pc = Self.doubles(o["policy_chosen"]), pr = Self.doubles(o["policy_rejected"])
            return (0..<pc.count).map { PairEvaluation(id: "p\($0)", policyChosen: pc[$0], policyRejected: pr[$0],
                                                        referenceChosen: rc[$0], referenceRejected: rr[$0]) }
        }
        let base = pairs(c["base"]!.objectValue!), other = pairs(c["other"]!.objectValue!)
        #expect(base[3].correct(beta: beta) == 0.5, "an exact tie counts half")
        let s = try Evaluation.summarize(base, beta: beta, resamples: resamples, seed: seed)
        let want = c["base"]!.objectValue!["summary"]!.objectValue!
        func check(_ e: Estimate, _ j: JSON?, _ label: String) {
            let o = j!.objectValue!
            // Means: the same sums in another order (1e-12). Percentiles of the same resampled means, summed
            // sequentially here and pairwise by numpy: 1e-12.
            expectNear([e.mean, e.interval.lower, e.interval.upper],
                       [o["mean"]!.doubleValue!, o["lower"]!.doubleValue!, o["upper"]!.doubleValue!], atol: 1e-12, rtol: 1e-12, label)
        }
        check(s.accuracy, want["accuracy"], "accuracy")
        check(s.margin, want["margin"], "margin")
        check(s.chosenChange, want["chosen_logp_change"], "chosen change")
        check(s.rejectedChange, want["rejected_logp_change"], "rejected change")
        #expect(s.ties == 1)
        let (cmp, rows) = try Evaluation.compare(base: base, other: other.reversed(), beta: beta, resamples: resamples, seed: seed)
        #expect(rows.count == base.count)
        // Matched by id whatever the order: the comparison of `other` in reverse is the comparison of `other`.
        let (same, _) = try Evaluation.compare(base: base, other: other, beta: beta, resamples: resamples, seed: seed)
        #expect(same.margin.mean == cmp.margin.mean || abs(same.margin.mean - cmp.margin.mean) < 1e-15)
        let wantC = c["comparison"]!.objectValue!
        check(same.accuracy, wantC["accuracy_difference"], "accuracy difference")
        check(same.margin, wantC["margin_difference"], "margin difference")
        check(same.chosenChange, wantC["chosen_logp_change_difference"], "chosen change difference")
        // A model compared with itself: every difference and interval is 0.
        let (selfC, _) = try Evaluation.compare(base: base, other: base, beta: beta, resamples: 100, seed: 1)
        #expect(selfC.margin == Estimate(mean: 0, interval: Interval(0, 0)) && selfC.accuracy.excludes(0) == false)
        #expect(throws: EvaluationError.self) { try Evaluation.compare(base: base, other: Array(other.dropLast()), beta: beta) }
        #expect(throws: EvaluationError.self) { try Evaluation.compare(base: base, other: other + [other[0]], beta: beta) }
        // Per-pair records read back to the same values.
        let rec = base[5].record(beta: beta)
        #expect(try PairEvaluation(record: rec, source: "t", line: 1) == base[5])
        #expect(rec["margin"]?.doubleValue == base[5].margin(beta: beta))
    }

    /// Example records of the tiny fixture's pairs (the dpo batches' examples), as rpo-tokenize writes them.
    static func tinyExamples(_ dir: TempDir) throws -> (path: String, count: Int) {
        let fixture = try TrainFixture("dpo")
        var seen = Set<String>(), lines: [String] = []
        for r in try RecordReader(path: fixture.batches) {
            for e in r["examples"]!.arrayValue! {
                let o = e.objectValue!
                if seen.insert(o["id"]!.stringValue!).inserted { lines.append(try JSONSerializer.string(.object(o))) }
            }
        }
        let path = dir.file("examples.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (path, lines.count)
    }

    /// The starting model evaluated against itself through the model (no shortcut): margins exactly 0, accuracy 1/2.
    @Test func theStartingModelAgainstItselfHasZeroMargins() throws {
        let dir = TempDir()
        let (path, n) = try Self.tinyExamples(dir)
        let pairs = try Evaluation.evaluate(policy: { try TrainFixture.model() }, reference: try TrainFixture.model(),
                                            input: try RecordReader(path: path), memoryMicroBatch: 4)
        #expect(pairs.count == n)
        #expect(pairs.allSatisfy { $0.margin(beta: 0.1) == 0 && $0.chosenChange == 0 && $0.correct(beta: 0.1) == 0.5 })
        let s = try Evaluation.summarize(pairs, beta: 0.1, resamples: 200)
        #expect(s.accuracy.mean == 0.5 && s.margin == Estimate(mean: 0, interval: Interval(0, 0)) && s.ties == n)
        // Records without reference log-probs and no reference model: a clear error naming the record.
        #expect(throws: RecordError.self) {
            try Evaluation.evaluate(policy: { try TrainFixture.model() }, reference: nil, input: try RecordReader(path: path))
        }
    }

    /// A model trained for several epochs on pairs prefers their chosen responses: held-out accuracy near 1 when
    /// those same pairs are evaluated (they are not held out: the check that evaluation sees what training did).
    @Test func pairsTrainedOnAreRecognised() throws {
        let dir = TempDir()
        let fixture = try TrainFixture("dpo")
        let text = try String(contentsOfFile: fixture.batches, encoding: .utf8)
        let epochs = dir.file("epochs.jsonl")
        try String(repeating: text.hasSuffix("\n") ? text : text + "\n", count: 8).write(toFile: epochs, atomically: true, encoding: .utf8)
        var conf = TrainerConfiguration(loss: .dpo)
        conf.learningRate = 2e-3
        conf.warmupSteps = 0
        let t = try fixture.trainer(microBatch: 8, configuration: conf)
        _ = try TrainFixture.run(t, epochs)
        let (path, n) = try Self.tinyExamples(dir)
        let pairs = try Evaluation.evaluate(policy: { t.policy }, reference: try TrainFixture.model(),
                                            input: try RecordReader(path: path), memoryMicroBatch: 8)
        let s = try Evaluation.summarize(pairs, beta: 0.1, resamples: 200)
        #expect(pairs.count == n)
        #expect(s.accuracy.mean >= 0.9, "accuracy \(s.accuracy.mean) on \(n) trained-on pairs")
        #expect(s.margin.mean > 0 && s.margin.excludes(0))
    }
}

@Suite struct BradleyTerryTests {
    static var fixture: JSONObject { get throws { try EvaluationTests.reference.get()["bradley_terry"]!.objectValue! } }

    @Test func fitMatchesTheNumPyNewtonSolution() throws {
        let c = try Self.fixture
        let n = c["n"]!.intValue!, d = c["d"]!.intValue!, l2 = c["l2"]!.doubleValue!
        let x = EvaluationTests.doubles(c["x"])
        let w = try BradleyTerry.fit(x: x, n: n, d: d, l2: l2)
        // A strictly convex problem solved to a step below 1e-12 on both sides: the optima agree to 1e-9.
        expectNear(w, EvaluationTests.doubles(c["weights"]), atol: 1e-9, "weights")
        expectNear([BradleyTerry.loss(w, x: x, n: n, l2: l2)], [c["loss_at_optimum"]!.doubleValue!], atol: 1e-12, "loss")
        #expect(BradleyTerry.accuracy(w, x: x, n: n) == c["accuracy"]!.doubleValue!)
        let g = BradleyTerry.gradient(w, x: x, n: n, l2: l2)
        #expect(g.allSatisfy { abs($0) < 1e-10 }, "the gradient vanishes at the optimum: \(g)")
        let probe = EvaluationTests.doubles(c["probe"])
        expectNear([BradleyTerry.loss(probe, x: x, n: n, l2: l2)], [c["loss_at_probe"]!.doubleValue!], atol: 1e-12, "loss at probe")
        expectNear(BradleyTerry.gradient(probe, x: x, n: n, l2: l2), EvaluationTests.doubles(c["gradient_at_probe"]), atol: 1e-12, "gradient at probe")
    }

    /// Central finite differences of the loss (step 1e-6 in float64) against the analytic gradient.
    @Test func gradientMatchesFiniteDifferences() throws {
        let c = try Self.fixture
        let n = c["n"]!.intValue!, l2 = c["l2"]!.doubleValue!, x = EvaluationTests.doubles(c["x"])
        let w = EvaluationTests.doubles(c["probe"])
        let g = BradleyTerry.gradient(w, x: x, n: n, l2: l2)
        for j in w.indices {
            var a = w, b = w
            a[j] += 1e-6; b[j] -= 1e-6
            let fd = (BradleyTerry.loss(a, x: x, n: n, l2: l2) - BradleyTerry.loss(b, x: x, n: n, l2: l2)) / 2e-6
            // Truncation O(h²) ≈ 1e-12 and cancellation ≈ 1e-16 / 1e-6: 1e-8 absolute is ample.
            #expect(abs(fd - g[j]) < 1e-8, "d/dw[\(j)]: finite difference \(fd), analytic \(g[j])")
        }
    }

    @Test func badInputIsAnError() {
        #expect(throws: RewardModelError.self) { try BradleyTerry.fit(x: [1, 2], n: 1, d: 2, l2: 0) }
        #expect(throws: RewardModelError.self) { try BradleyTerry.fit(x: [], n: 0, d: 2, l2: 0.1) }
    }

    @Test func headRoundTripsThroughJSON() throws {
        let h = RewardHead(weights: [0.5, -0.25, 1e-3], l2: 0.01, encoder: "enc", encoderFingerprint: "sha256:00", trainPairs: 10,
                           trainAccuracy: 0.7, validationPairs: 4, validationAccuracy: 0.75, grid: [(0.01, 0.75), (0.1, 0.5)])
        let text = try JSONSerializer.string(.object(h.json))
        guard case .object(let o) = try JSONParser.parse(text) else { Issue.record("not an object"); return }
        #expect(try RewardHead(json: o, source: "h") == h)
        var bad = o
        bad["weights"] = .array([.double(1)])
        #expect(throws: IOError.self) { try RewardHead(json: bad, source: "h") }
    }
}
