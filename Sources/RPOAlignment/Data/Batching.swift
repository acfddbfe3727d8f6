// Batch formation of the official loaders (docs/method.md §13; dataloader.py at c1b5163: SFTDataLoader 603-649,
// SimpleKTODataLoader 729-796, PairedPreferenceDataLoader 892-940) over element indices, one epoch at a time, with
// the project's RNG. Seeds do not reproduce Python's `random`; the composition rules are upstream's exactly:
// full batches only (the partial tail is dropped), a fresh shuffle each epoch, and for the unpaired layout two
// FIFO queues emptied in chosen/rejected alternation with quota batch/2, leftovers carried to the next batch
// and discarded at the end of the epoch.
import Foundation
import RPOCore

/// The batches of one epoch as element indices, and the number of elements left out (the partial tail, or the
/// items still queued at the end of an unpaired epoch).
public struct EpochPlan: Equatable, Sendable {
    public var batches: [[Int]]
    public var dropped: Int
}

public enum BatchPlanner {
    /// SFTDataLoader and PairedPreferenceDataLoader: shuffle the `count` elements, cut consecutive batches of
    /// `batchSize`, drop the partial tail.
    public static func sequential(count: Int, batchSize: Int, rng: inout RNG) -> EpochPlan {
        precondition(batchSize > 0)
        var order = Array(0..<count)
        rng.shuffle(&order)
        let full = count / batchSize
        let batches = (0..<full).map { Array(order[($0 * batchSize)..<(($0 + 1) * batchSize)]) }
        return EpochPlan(batches: batches, dropped: count - full * batchSize)
    }

    /// SimpleKTODataLoader: shuffle the items (`isChosen[k]` gives item k's status), stream them into a chosen
    /// and a rejected FIFO queue; whenever both hold at least `batchSize/2`, pop one chosen then one rejected until
    /// the batch is full. `batchSize` must be even (upstream pops past its quota otherwise).
    public static func interleaved(isChosen: [Bool], batchSize: Int, rng: inout RNG) -> EpochPlan {
        precondition(batchSize > 0 && batchSize % 2 == 0, "the unpaired layout needs an even batch size")
        var order = Array(0..<isChosen.count)
        rng.shuffle(&order)
        let quota = batchSize / 2
        var chosen: [Int] = [], rejected: [Int] = []
        var ch = 0, rh = 0  // queue heads
        var batches: [[Int]] = []
        for k in order {
            if isChosen[k] { chosen.append(k) } else { rejected.append(k) }
            if chosen.count - ch >= quota && rejected.count - rh >= quota {
                var batch: [Int] = []
                batch.reserveCapacity(batchSize)
                while batch.count < batchSize {
                    batch.append(chosen[ch]); ch += 1
                    batch.append(rejected[rh]); rh += 1
                }
                batches.append(batch)
            }
        }
        return EpochPlan(batches: batches, dropped: (chosen.count - ch) + (rejected.count - rh))
    }

    /// The contrast scopes of a batch: contiguous micro-batches of `microBatch` positions (the per-device
    /// slices `[rank·B/W, (rank+1)·B/W)` of utils.py:86-93).
    public static func groups(batchSize: Int, microBatch: Int) -> [[Int]] {
        precondition(microBatch > 0 && batchSize % microBatch == 0)
        return stride(from: 0, to: batchSize, by: microBatch).map { Array($0..<($0 + microBatch)) }
    }
}
