// The trainer's state: checkpoints written atomically and read back exactly, a resumed run bit-identical to an
// uninterrupted one, precomputed reference log-probs (--score) giving the same training without the reference
// model, stopping on request, and NaN/infinity stopping the run with the batch and the quantity named.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct TrainerStateTests {
    static func weights(_ m: CausalLM) -> [Float] {
        Array(UnsafeBufferPointer(start: m.parameters.pointer, count: m.layout.count))
    }

    /// Metrics records without the wall-clock fields.
    static func stable(_ ms: [JSONObject]) -> [JSONObject] {
        ms.map { m in var o = m; o["tokens_per_s"] = nil; o["examples_per_s"] = nil; return o }
    }

    @Test(arguments: [OptimizerKind.rmsprop, .adamw])
    func resumedRunIsBitIdenticalToAnUninterruptedOne(_ optimizer: OptimizerKind) throws {
        let fx = try TrainFixture("dpo")
        var c = fx.configuration
        c.gradientAccumulation = 1  // 10 records: one step each
        c.optimizer = optimizer
        let dir = TempDir()
        // 6 steps at once.
        let full = try fx.trainer(configuration: c)
        full.options.maxSteps = 6
        full.runDirectory = try RunDirectory(newRun: dir.file("full"))
        let (fm, fs) = try TrainFixture.run(full, fx.batches)
        #expect(fm.count == 6 && fs.reachedMaxSteps)
        // 3 steps, a checkpoint, then a new process's worth of state: weights and rpo_state from the checkpoint.
        let first = try fx.trainer(configuration: c)
        first.options.maxSteps = 3
        first.runDirectory = try RunDirectory(newRun: dir.file("split"))
        let (m1, s1) = try TrainFixture.run(first, fx.batches)
        #expect(m1.count == 3 && s1.lastCheckpoint?.hasSuffix("step-000003") == true)
        let run = try RunDirectory(resuming: dir.file("split"))
        let ckpt = try #require(try run.latestCheckpoint())
        let policy = try ModelFiles.load(ckpt)
        #expect(Self.weights(policy) == Self.weights(first.policy), "the checkpoint holds the exact weights")
        let state = try SavedTrainingState.read(checkpoint: ckpt, model: policy)
        #expect(state.progress == first.progress && state.configuration == c)
        var o = TrainerOptions()
        o.maxSteps = 6
        let second = try Trainer(policy: policy, resuming: state, options: o, referenceLoader: { try TrainFixture.model() })
        second.runDirectory = run
        let (m2, _) = try TrainFixture.run(second, fx.batches)
        #expect(m2.count == 3)
        #expect(Self.stable(m1 + m2) == Self.stable(fm), "the metrics of 3 + 3 steps equal those of 6")
        #expect(Self.weights(second.policy) == Self.weights(full.policy), "bit-identical weights after 6 steps")
        #expect(second.progress == full.progress)
        switch optimizer {
        case .rmsprop: #expect(second.optimizerState.rmsprop!.squareAvg == full.optimizerState.rmsprop!.squareAvg)
        case .adamw:
            #expect(second.optimizerState.adamw!.expAvg == full.optimizerState.adamw!.expAvg)
            #expect(second.optimizerState.adamw!.expAvgSq == full.optimizerState.adamw!.expAvgSq)
        }
        // Only the newest complete checkpoint is kept, and latest points at it.
        #expect(try run.checkpoints().map(\.step) == [6])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("split/latest")) == "step-000006")
    }

    @Test func resumeRefusesAnotherBatchStream() throws {
        let fx = try TrainFixture("rpo-paired")
        let dir = TempDir()
        let t = try fx.trainer()
        t.options.maxSteps = 2
        t.runDirectory = try RunDirectory(newRun: dir.path)
        _ = try TrainFixture.run(t, fx.batches)
        let ckpt = try #require(try RunDirectory(resuming: dir.path).latestCheckpoint())
        let policy = try ModelFiles.load(ckpt)
        let resumed = try Trainer(policy: policy, resuming: try SavedTrainingState.read(checkpoint: ckpt, model: policy),
                                  referenceLoader: { try TrainFixture.model() })
        // The dpo fixture's records carry other step numbers at that position? Both start at 0: use a stream whose
        // second record has another step.
        let lines = try String(contentsOfFile: fx.batches, encoding: .utf8).split(separator: "\n")
        var second = try JSONParser.parse(String(lines[1])).objectValue!
        second["step"] = .int(41)
        let other = dir.file("other.jsonl")
        try ([String(lines[0]), try JSONSerializer.string(.object(second))] + lines[2...].map(String.init))
            .joined(separator: "\n").write(toFile: other, atomically: true, encoding: .utf8)
        expectFailure("other.jsonl:2: resuming", "had step 1, this input has 41 there (not the same batch stream)") {
            _ = try TrainFixture.run(resumed, other)
        }
        // The same length and step numbers, another example in the first record: the records digest differs.
        var first = try JSONParser.parse(String(lines[0])).objectValue!
        var examples = first["examples"]!.arrayValue!
        examples.swapAt(0, 1)
        first["examples"] = .array(examples)
        let swapped = dir.file("swapped.jsonl")
        try ([try JSONSerializer.string(.object(first))] + lines[1...].map(String.init))
            .joined(separator: "\n").write(toFile: swapped, atomically: true, encoding: .utf8)
        let again = try Trainer(policy: policy, resuming: try SavedTrainingState.read(checkpoint: ckpt, model: policy),
                                referenceLoader: { try TrainFixture.model() })
        expectFailure("swapped.jsonl:", ": resuming: the first ", "batch records differ from those the run consumed (not the same batch stream)") {
            _ = try TrainFixture.run(again, swapped)
        }
        // A checkpoint written before the digest was kept resumes as before (the digest taken from its input).
        var old = try SavedTrainingState.read(checkpoint: ckpt, model: policy)
        #expect(old.progress.recordsDigest?.count == 64)
        old.progress.recordsDigest = nil
        let legacy = try Trainer(policy: policy, resuming: old, referenceLoader: { try TrainFixture.model() })
        legacy.options.maxSteps = 3
        _ = try TrainFixture.run(legacy, fx.batches)
        #expect(legacy.progress.updates == 3 && legacy.progress.recordsDigest?.count == 64)
    }

    @Test func newRunRefusesADirectoryWithCheckpointsAndWritesAtomically() throws {
        let dir = TempDir()
        let run = try RunDirectory(newRun: dir.path)
        _ = try run.save(step: 1) { d in try "a".write(toFile: d + "/f", atomically: false, encoding: .utf8) }
        expectFailure("already holds a run (step-000001)") { _ = try RunDirectory(newRun: dir.path) }
        // A checkpoint whose writing fails leaves nothing behind and the previous one intact.
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            _ = try run.save(step: 2) { d in try "b".write(toFile: d + "/f", atomically: false, encoding: .utf8); throw Boom() }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["latest", "step-000001"], "\(names)")
        #expect(try String(contentsOfFile: dir.file("latest/f"), encoding: .utf8) == "a")
        // Leftovers of a crashed writer are removed when the directory is opened: the checkpoint directory, the
        // model directory written beside it (killed during the model's write) and the link's temporary name.
        let leftovers = [".tmp-step-000002-99999", "..tmp-step-000002-99999.tmp-99999", "..tmp-step-000002-99999.old-99999"]
        for l in leftovers { try FileManager.default.createDirectory(atPath: dir.file(l), withIntermediateDirectories: false) }
        try FileManager.default.createSymbolicLink(atPath: dir.file("latest.tmp-99999"), withDestinationPath: "step-000002")
        _ = try RunDirectory(resuming: dir.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["latest", "step-000001"])
        expectFailure("no such run directory") { _ = try RunDirectory(resuming: dir.file("nothing")) }
    }

    @Test func stopRequestEndsAtAStepBoundaryWithACheckpoint() throws {
        let fx = try TrainFixture("dpo")  // gradient accumulation 2: a stop is honoured only between steps
        let dir = TempDir()
        let t = try fx.trainer()
        t.runDirectory = try RunDirectory(newRun: dir.path)
        var polls = 0
        let (m, s) = try TrainFixture.run(t, fx.batches, shouldStop: { polls += 1; return t.progress.updates >= 2 })
        #expect(m.count == 2 && s.stoppedBySignal && s.recordsRead == 4)
        #expect(s.lastCheckpoint?.hasSuffix("step-000002") == true)
        let state = try SavedTrainingState.readState(checkpoint: s.lastCheckpoint!)
        #expect(state.progress.recordsConsumed == 4 && state.progress.lastRecordStep == 3 && state.progress.examples == 16)
    }

    /// --score's log-probs train exactly as the reference model does, and the model is never loaded.
    @Test(arguments: [("rpo-paired", LossKind.rpoPaired), ("rpo-unpaired", .rpoUnpaired), ("rpo-unpaired", .kto)])
    func precomputedReferenceLogProbsTrainIdentically(_ name: String, _ loss: LossKind) throws {
        let fx = try TrainFixture(name)
        var conf = fx.configuration
        conf.loss = loss
        let fingerprint = try ModelFiles.fingerprint(TrainFixture.modelDir)
        let sink = MemorySink()
        let writer = RecordWriter(sink)
        var so = ScoreOptions()
        so.kl = loss == .kto
        let s = try ReferenceScorer.run(model: try TrainFixture.model(), fingerprint: fingerprint,
                                        input: try RecordReader(path: fx.batches), output: writer, options: so)
        try writer.finish()
        #expect(s.records == 5)
        let dir = TempDir()
        let scored = dir.file("scored.jsonl")
        try Data(sink.data).write(to: URL(fileURLWithPath: scored))
        let first = try JSONParser.parse(String(decoding: sink.data.prefix { $0 != 0x0A }, as: UTF8.self)).objectValue!
        let ex0 = first["examples"]!.arrayValue![0].objectValue!
        #expect(ex0["reference_model"]?.stringValue == fingerprint)
        #expect(ex0[name == "rpo-paired" ? "reference_chosen_logp" : "reference_logp"]?.doubleValue != nil)
        #expect((ex0["reference_kl_logp"]?.doubleValue != nil) == (loss == .kto))

        let withModel = try fx.trainer(configuration: conf)
        let (mA, _) = try TrainFixture.run(withModel, fx.batches)
        var loaded = false
        let precomputed = try Trainer(policy: try TrainFixture.model(), configuration: conf,
                                      provenance: withModel.provenance, referenceLoader: { loaded = true; return try TrainFixture.model() })
        let (mB, sB) = try TrainFixture.run(precomputed, scored)
        #expect(!loaded && !sB.referenceModelLoaded && sB.precomputedReferenceRecords == 5)
        #expect(Self.stable(mA) == Self.stable(mB), "same metrics with the reference model and with its scored log-probs")
        #expect(Self.weights(withModel.policy) == Self.weights(precomputed.policy))

        // Log-probs of another model are refused, unless allowed.
        let other = try Trainer(policy: try TrainFixture.model(), configuration: conf,
                                provenance: RunProvenance(model: "x", reference: "x", referenceFingerprint: "sha256:other"),
                                referenceLoader: nil)
        expectFailure("its reference log-probs come from \(fingerprint)", "is sha256:other") { _ = try TrainFixture.run(other, scored) }
        other.options.allowReferenceMismatch = true
        let (mC, _) = try TrainFixture.run(other, scored)
        #expect(mC.count == 5)
    }

    @Test func aPartlyScoredBatchIsAnError() throws {
        let fx = try TrainFixture("dpo")
        var rec = try JSONParser.parse(String(contentsOfFile: fx.batches, encoding: .utf8).split(separator: "\n")[0].description).objectValue!
        var exs = rec["examples"]!.arrayValue!
        var e0 = exs[0].objectValue!
        e0["reference_chosen_logp"] = .double(-3)
        e0["reference_rejected_logp"] = .double(-4)
        exs[0] = .object(e0)
        rec["examples"] = .array(exs)
        expectFailure("b:1: batch record: examples[1] (tiny:train:1:0) has no reference log-prob for its chosen sequence") {
            _ = try TrainBatch(record: rec, source: "b", record: 1, loss: .dpo, parameters: LossParameters(), vocabSize: 64)
        }
    }

    /// A NaN weight reached only by batch 2's token stops the run there, naming the example; no step is taken.
    @Test func nonFiniteLogProbStopsTheRunNamingTheExample() throws {
        let fx = try TrainFixture("rpo-paired")
        let lines = try String(contentsOfFile: fx.batches, encoding: .utf8).split(separator: "\n").map(String.init)
        func tokens(_ line: String) -> Set<Int> {
            var s = Set<Int>()
            for e in try! JSONParser.parse(line).objectValue!["examples"]!.arrayValue! {
                for k in ["chosen_input_ids", "rejected_input_ids"] { s.formUnion(e.objectValue![k]!.arrayValue!.map { $0.intValue! }) }
            }
            return s
        }
        let early = tokens(lines[0]).union(tokens(lines[1]))
        let token = try #require(tokens(lines[2]).subtracting(early).sorted().first, "batch 2 has a token of its own")
        let t = try fx.trainer()
        let emb = t.policy.parameter("embed")!
        emb.pointer[token * t.policy.config.hiddenSize] = .nan
        var telemetry: [JSONObject] = []
        expectFailure("batches.jsonl:3: batch 2: the policy log-prob of example tiny:train:", "is nan",
                      "stopped without taking the step") {
            _ = try TrainFixture.run(t, fx.batches, perExample: { telemetry.append($0) })
        }
        #expect(t.progress.updates == 2, "steps 1 and 2 were taken, not the one of batch 2")
        let flagged = telemetry.filter { $0["nonfinite"] != nil }
        #expect(!flagged.isEmpty && flagged.allSatisfy { $0["batch"]?.intValue == 2 }, "the NaN hunt sees which examples")
    }

    @Test func nonFiniteGradientIsNamed() throws {
        let fx = try TrainFixture("sft")
        let t = try fx.trainer()
        t.policy.zeroGrad()
        let e = try #require(t.policy.layout.entry("layers.1.down.weight"))
        t.policy.gradients!.pointer[e.offset + 7] = .infinity
        var acc = Trainer.StepAccumulator()
        acc.location = "b:3"
        expectFailure("b:3: batch 0: the gradient norm is inf", "layers.1.down.weight[7] = inf") {
            try t.optimizerStep(acc, sinks: TrainerSinks(metrics: { _ in }))
        }
        #expect(t.progress.updates == 0)
    }

    @Test func stateRoundTripsExactly() throws {
        let fx = try TrainFixture("sft")
        let t = try fx.trainer()
        _ = try TrainFixture.run(t, fx.batches)
        let dir = TempDir()
        let s = SavedTrainingState(configuration: t.configuration, progress: t.progress, provenance: t.provenance,
                                   rmsprop: t.optimizerState.rmsprop, adamw: t.optimizerState.adamw)
        try ModelFiles.save(t.policy, to: dir.path, companionsFrom: nil)  // first: it replaces the directory
        try s.write(to: dir.file("rpo_state"), model: t.policy)
        let back = try SavedTrainingState.read(checkpoint: dir.path, model: t.policy)
        #expect(back.configuration == t.configuration && back.progress == t.progress && back.provenance == t.provenance)
        #expect(back.adamw!.expAvg == t.optimizerState.adamw!.expAvg && back.adamw!.expAvgSq == t.optimizerState.adamw!.expAvgSq)
        #expect(back.adamw!.stepCount == 5)
        #expect(Self.weights(try ModelFiles.load(dir.path)) == Self.weights(t.policy))
    }

    /// Every loss trains end to end on its layout, with finite metrics of its family.
    @Test(arguments: LossKind.allCases)
    func everyLossTrains(_ loss: LossKind) throws {
        let run = loss.family == .sft ? "sft" : loss.family == .paired ? "rpo-paired" : "rpo-unpaired"
        let fx = try TrainFixture(run)
        var c = TrainerConfiguration(loss: loss)
        c.learningRate = 1e-3
        c.warmupSteps = 0
        let t = try fx.trainer(configuration: c)
        t.options.maxSteps = 2
        let (m, s) = try TrainFixture.run(t, fx.batches)
        #expect(m.count == 2 && s.steps == 2)
        for o in m { for (k, v) in o { #expect(v.doubleValue?.isFinite ?? false, "\(loss.rawValue): \(k) = \(v)") } }
        let keys = Set(m[0].keys)
        #expect(keys.contains("loss/train") && keys.contains("grad_norm") && keys.contains("lr"))
        switch loss.family {
        case .sft: #expect(keys.contains("logps_train/chosen") && !keys.contains("rewards_train/chosen"))
        case .paired: #expect(keys.contains("rewards_train/accuracies_elementwise") && keys.contains("logps_train/rejected"))
        case .unpaired: #expect(keys.contains("rewards_train/accuracies") && keys.contains("rewards_train/margins"))
        case .kto: #expect(keys.contains("rewards_train/KL_estimate"))
        }
    }

    /// Upstream's skips: a record of one status is skipped whole; an RPO-unpaired group without both statuses is
    /// left out of the step (the others are averaged); an incomplete last accumulation is not stepped.
    @Test func skipsAsUpstream() throws {
        let fx = try TrainFixture("rpo-unpaired")
        let lines = try String(contentsOfFile: fx.batches, encoding: .utf8).split(separator: "\n").map(String.init)
        func edited(_ k: Int, statuses: [String]) throws -> String {
            var o = try JSONParser.parse(lines[k]).objectValue!
            o["weighting"] = .string("uniform")
            o["weights"] = nil
            o["tau"] = nil
            var exs = o["examples"]!.arrayValue!
            for (i, st) in statuses.enumerated() {
                var e = exs[i].objectValue!
                e["status"] = .string(st)
                exs[i] = .object(e)
            }
            o["examples"] = .array(exs)
            return try JSONSerializer.string(.object(o))
        }
        let dir = TempDir()
        let path = dir.file("skips.jsonl")
        let allChosen = try edited(0, statuses: Array(repeating: "chosen", count: 8))
        let oneGroup = try edited(1, statuses: ["chosen", "chosen", "chosen", "chosen", "chosen", "rejected", "chosen", "rejected"])
        let normal = try edited(2, statuses: [])
        try [allChosen, oneGroup, normal].joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var c = fx.configuration
        c.gradientAccumulation = 2
        let t = try fx.trainer(configuration: c)
        var telemetry: [JSONObject] = []
        let (m, s) = try TrainFixture.run(t, path, perExample: { telemetry.append($0) })
        #expect(s.recordsRead == 3 && s.skippedRecords == 1 && s.droppedGroups == 1 && s.steps == 1 && s.leftoverRecords == 0)
        #expect(m.count == 1 && m[0]["counters/examples"]?.intValue == 16, "two records of 8 examples in the step")
        #expect(Set(telemetry.compactMap { $0["batch"]?.intValue }) == [1, 2])
        // The same with gradient accumulation 3: the two usable records never complete a step.
        c.gradientAccumulation = 3
        let u = try fx.trainer(configuration: c)
        let (m2, s2) = try TrainFixture.run(u, path)
        #expect(m2.isEmpty && s2.leftoverRecords == 2 && u.progress.updates == 0 && u.progress.recordsConsumed == 0)
    }
}
