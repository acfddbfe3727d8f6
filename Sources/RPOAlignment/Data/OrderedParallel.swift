// An order-keeping parallel map for work items of uneven cost (tokenising texts of any length): workers
// (one per core, `Parallel.threads`) take the next index from a shared counter, results land at their index.
import Foundation
import Synchronization
import RPOCore

public enum OrderedParallel {
    /// `(0..<count).map(body)`, computed on `Parallel.threads` threads. The first error thrown (lowest index
    /// among those that failed) is rethrown after all workers stop.
    public static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        if count == 0 { return [] }
        let workers = min(Parallel.threads, count)
        if workers <= 1 { return try (0..<count).map(body) }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let errors = Mutex<[(Int, any Error)]>([])
        let next = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let out = UncheckedSendable(results)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while !stop.load(ordering: .relaxed) {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= count { break }
                do {
                    out.value[i] = try body(i)
                } catch {
                    errors.withLock { $0.append((i, error)) }
                    stop.store(true, ordering: .relaxed)
                }
            }
        }
        if let first = errors.withLock({ $0.min(by: { $0.0 < $1.0 }) }) { throw first.1 }
        return results.map { $0! }
    }
}
