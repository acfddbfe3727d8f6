// Parallel.forRanges on CKernels' worker team: every index visited exactly once, whether the helpers are
// spinning or asleep, with regions nested in a part and regions started by several threads at once.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct ParallelTests {
    /// How often forRanges visits each index of 0..<count (all 1 when correct).
    static func visits(_ count: Int, nested: Bool = false) -> [Int] {
        var hits = [Int](repeating: 0, count: count)
        hits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            Parallel.forRanges(count, minWork: 1) { r in
                for i in r {
                    if nested {  // a region inside a part runs inline on that thread
                        var inner = 0
                        Parallel.forRanges(3, minWork: 1) { ir in inner += ir.count }
                        p[i] += inner / 3
                    } else {
                        p[i] += 1
                    }
                }
            }
        }
        return hits
    }

    @Test func everyIndexOnce() {
        for count in [0, 1, 2, 3, 7, 1000] {
            #expect(Self.visits(count) == [Int](repeating: 1, count: count), "count \(count)")
        }
        #expect(Self.visits(101, nested: true) == [Int](repeating: 1, count: 101))
    }

    @Test func helpersAsleepAreWoken() {
        for _ in 0..<5 {
            usleep(2_000)  // longer than the helpers' spin (100 us): they sleep and must be woken
            #expect(Self.visits(64) == [Int](repeating: 1, count: 64))
        }
    }

    @Test func severalCallingThreads() {
        let bad = UncheckedSendable(UnsafeMutablePointer<Int>.allocate(capacity: 4))
        bad.value.initialize(repeating: 0, count: 4)
        defer { bad.value.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for round in 0..<200 {
                if Self.visits(17 + round % 5) != [Int](repeating: 1, count: 17 + round % 5) { bad.value[t] += 1 }
            }
        }
        #expect((0..<4).map { bad.value[$0] } == [0, 0, 0, 0])
    }
}
