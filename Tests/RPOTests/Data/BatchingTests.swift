// The loader plans against literal transcriptions of the official loaders' loops (same RNG shuffle, then
// upstream's list operations), their invariants on unbalanced data, and the batch record's decoding checks.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct BatchingTests {
    /// SimpleKTODataLoader.__iter__ (dataloader.py:761-789) transcribed: `list.pop(0)` queues, the batch filled
    /// c, r, c, r when both queues reach the quota, yielded when full; what remains at the end is dropped.
    static func upstreamInterleaved(_ isChosen: [Bool], batchSize: Int, seed: UInt64) -> EpochPlan {
        var rng = RNG(seed: seed)
        var order = Array(0..<isChosen.count)
        rng.shuffle(&order)
        var cq: [Int] = [], rq: [Int] = [], batch: [Int] = [], batches: [[Int]] = []
        let quota = batchSize / 2
        for k in order {
            if isChosen[k] { cq.append(k) } else { rq.append(k) }
            if cq.count >= quota && rq.count >= quota {
                while batch.count < batchSize { batch.append(cq.removeFirst()); batch.append(rq.removeFirst()) }
            }
            if batch.count >= batchSize { batches.append(batch); batch = [] }
        }
        return EpochPlan(batches: batches, dropped: cq.count + rq.count + batch.count)
    }

    /// PairedPreferenceDataLoader / SFTDataLoader transcribed (dataloader.py:917-933, 621-641).
    static func upstreamSequential(_ count: Int, batchSize: Int, seed: UInt64) -> EpochPlan {
        var rng = RNG(seed: seed)
        var flat = Array(0..<count)
        rng.shuffle(&flat)
        var batch: [Int] = [], batches: [[Int]] = []
        for e in flat {
            batch.append(e)
            if batch.count >= batchSize { batches.append(batch); batch = [] }
        }
        return EpochPlan(batches: batches, dropped: batch.count)
    }

    @Test(arguments: [(2, 7), (4, 40), (8, 1000), (64, 4624), (6, 33)])
    func interleavedIsSimpleKTODataLoader(_ batchSize: Int, _ items: Int) {
        var gen = RNG(seed: UInt64(items))
        // Balanced (pairs split into items) and unbalanced (item records) status mixes.
        for isChosen in [(0..<items).map { $0 % 2 == 0 }, (0..<items).map { _ in gen.nextDouble() < 0.3 }] {
            var rng = RNG(seed: 5)
            let plan = BatchPlanner.interleaved(isChosen: isChosen, batchSize: batchSize, rng: &rng)
            #expect(plan == Self.upstreamInterleaved(isChosen, batchSize: batchSize, seed: 5))
            // Invariants: alternation, quotas, each item at most once, floor(min(Nc, Nr) / quota) batches.
            let nc = isChosen.filter { $0 }.count, nr = items - nc
            #expect(plan.batches.count == min(nc, nr) / (batchSize / 2))
            for b in plan.batches {
                #expect(b.count == batchSize)
                #expect(b.enumerated().allSatisfy { isChosen[$0.element] == ($0.offset % 2 == 0) })
            }
            let used = plan.batches.flatMap { $0 }
            #expect(Set(used).count == used.count && used.count + plan.dropped == items)
        }
    }

    @Test func leftoversWaitForTheNextBatch() {
        // Items are queued in shuffle order: chosen (and rejected) items appear in the batches in that order,
        // so an item that did not fit one batch is the first of its status in the next.
        var rng = RNG(seed: 3)
        let isChosen = (0..<50).map { $0 % 3 != 0 }
        var shuffle = RNG(seed: 3)
        var order = Array(0..<50)
        shuffle.shuffle(&order)
        let plan = BatchPlanner.interleaved(isChosen: isChosen, batchSize: 4, rng: &rng)
        let chosenSeen = plan.batches.flatMap { $0 }.filter { isChosen[$0] }
        let chosenOrder = order.filter { isChosen[$0] }
        #expect(chosenSeen == Array(chosenOrder.prefix(chosenSeen.count)))
        #expect(plan.dropped > 0)
    }

    @Test func sequentialIsPairedPreferenceDataLoader() {
        for (count, batchSize) in [(0, 4), (3, 4), (2312, 64), (100, 10), (7, 1)] {
            var rng = RNG(seed: 9)
            let plan = BatchPlanner.sequential(count: count, batchSize: batchSize, rng: &rng)
            #expect(plan == Self.upstreamSequential(count, batchSize: batchSize, seed: 9))
            #expect(plan.batches.count == count / batchSize && plan.dropped == count % batchSize)
        }
        // Epochs reshuffle: the same generator continues.
        var rng = RNG(seed: 1)
        let e1 = BatchPlanner.sequential(count: 100, batchSize: 10, rng: &rng)
        let e2 = BatchPlanner.sequential(count: 100, batchSize: 10, rng: &rng)
        #expect(e1.batches != e2.batches && Set(e1.batches.flatMap { $0 }) == Set(e2.batches.flatMap { $0 }))
    }

    @Test func microBatchGroups() {
        #expect(BatchPlanner.groups(batchSize: 8, microBatch: 4) == [[0, 1, 2, 3], [4, 5, 6, 7]])
        #expect(BatchPlanner.groups(batchSize: 3, microBatch: 3) == [[0, 1, 2]])
    }

    @Test func optionCombinations() {
        var o = PairsOptions(layout: .paired, weighting: .embedding)
        #expect((try? o.validate()) != nil)
        o.batchSize = 60; o.microBatch = 8
        #expect(throws: PairsError.self) { try o.validate() }
        o = PairsOptions(layout: .unpaired, weighting: .embedding); o.batchSize = 6; o.microBatch = 3
        #expect(throws: PairsError.self) { try o.validate() }
        o = PairsOptions(layout: .unpaired, weighting: .diagonal)
        #expect(throws: PairsError.self) { try o.validate() }
        o = PairsOptions(layout: .sft, weighting: .uniform)
        #expect(throws: PairsError.self) { try o.validate() }
        o = PairsOptions(layout: .paired, weighting: .embedding); o.tau = 0
        #expect(throws: PairsError.self) { try o.validate() }
        o = PairsOptions(layout: .paired, weighting: .diagonal); o.microBatch = 1; o.batchSize = 4
        #expect(throws: PairsError.self) { try o.validate() }
    }

    // MARK: - Batch records

    static func example(_ id: Int, _ status: String? = nil) -> JSONObject {
        var o = JSONObject([("id", .int(id)), ("prompt_id", .int(id))])
        if let s = status { o["status"] = .string(s) }
        return o
    }

    @Test func batchRecordRoundTrip() throws {
        let w = ContrastMatrix(rows: 1, cols: 1, values: [1])
        let tb = TrainingBatch(step: 3, epoch: 1, layout: .unpaired, weighting: .embedding, tau: 0.5, diagonalWeight: nil,
                               batchSize: 4, microBatch: 2, groups: [[0, 1], [2, 3]], weights: [w, w],
                               stats: ContrastStatistics(meanDiagonalWeight: nil, meanRowEntropy: 0, effectiveBetaMultiplier: 1),
                               examples: [Self.example(0, "chosen"), Self.example(1, "rejected"), Self.example(2, "chosen"), Self.example(3, "rejected")])
        let back = try TrainingBatch(record: tb.record(), source: "t", record: 1)
        #expect(back.step == 3 && back.epoch == 1 && back.layout == .unpaired && back.tau == 0.5 && back.groups == tb.groups)
        #expect(back.weights == [w, w] && back.examples == tb.examples && back.stats == tb.stats)
        #expect(back.statusSplit(group: 1).chosen == [2] && back.statusSplit(group: 1).rejected == [3])
        var uni = back
        uni.weighting = .uniform
        #expect(uni.contrastMatrix(group: 0) == .ones(rows: 1, cols: 1))
    }

    @Test func batchRecordErrorsNameTheProblem() throws {
        let base = TrainingBatch(step: 0, epoch: 0, layout: .paired, weighting: .embedding, tau: 0.5, diagonalWeight: nil,
                                 batchSize: 2, microBatch: 2, groups: [[0, 1]], weights: [.ones(rows: 2, cols: 2)], stats: nil,
                                 examples: [Self.example(0), Self.example(1)]).record()
        func expectError(_ edit: (inout JSONObject) -> Void, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            var r = base
            edit(&r)
            do {
                _ = try TrainingBatch(record: r, source: "b.jsonl", record: 7)
                Issue.record("accepted a bad batch record (\(text))", sourceLocation: sourceLocation)
            } catch {
                #expect(error.description.hasPrefix("b.jsonl:7: ") && error.description.contains(text),
                        "\(error.description)", sourceLocation: sourceLocation)
            }
        }
        expectError({ $0["layout"] = .string("triplets") }, "unknown layout")
        expectError({ $0["groups"] = .array([.array([.int(0), .int(0)])]) }, "exactly once")
        expectError({ $0["groups"] = .array([.array([.int(0)])]) }, "leave example positions out")
        expectError({ $0["weights"] = .array([]) }, "0 weight matrices for 1 groups")
        expectError({ $0["weights"] = .array([.array([.array([.int(1)]), .array([.int(1)])])]) }, "must have 2 values")
        expectError({ $0["tau"] = nil }, "without \"tau\"")
        expectError({ $0["batch_size"] = .int(3) }, "2 examples, batch_size 3")
        expectError({ $0["examples"] = nil }, "missing field \"examples\"")
    }
}
