// Parallel loops over the machine's cores (or RPO_THREADS) for the kernels and sgemm's panels (BLAS.swift), on
// CKernels' worker team: helpers that spin briefly between regions instead of being woken for each one.
import CKernels
import Foundation

/// How many worker threads the kernels split their work over. Defaults to the number of active cores;
/// `RPO_THREADS` overrides it (useful for one-core measurements).
public enum Parallel {
    public nonisolated(unsafe) static var threads: Int = configuredThreads
    static let configuredThreads: Int = {
        if let s = ProcessInfo.processInfo.environment["RPO_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body` on disjoint contiguous sub-ranges covering `0..<count`, in parallel when the work is
    /// large enough (`count * costPerItem >= minWork`). Each sub-range is given to exactly one call.
    @inline(__always)
    public static func forRanges(_ count: Int, costPerItem: Int = 1, minWork: Int = 32_768,
                                 _ body: (Range<Int>) -> Void) {
        let t = threads
        if t <= 1 || count < 2 || count &* costPerItem < minWork {
            if count > 0 { body(0..<count) }
            return
        }
        forRanges(count, parts: t, body)
    }

    /// Calls `body` on min(parts, team size, count) disjoint contiguous sub-ranges covering `0..<count`, in
    /// parallel on the team (whatever the amount of work).
    @inline(__always)
    public static func forRanges(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(teamSize, count, parts)
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = RangeJob(count: count, body: body)
            withUnsafeMutablePointer(to: &job) { p in
                rpo_team_run({ ctx, part, parts in
                    let job = ctx!.assumingMemoryBound(to: RangeJob.self)
                    let n = job.pointee.count, lo = n * part / parts, hi = n * (part + 1) / parts
                    if lo < hi { job.pointee.body(lo..<hi) }
                }, p, chunks)
            }
        }
    }

    /// The worker team, the caller included: as many threads as cores (or RPO_THREADS if larger), whatever
    /// `threads` is when it starts (a caller may lower `threads` for a while; loops then use fewer parts).
    static let teamSize: Int = rpo_team_size(max(configuredThreads, ProcessInfo.processInfo.activeProcessorCount))

    private struct RangeJob {
        let count: Int
        let body: (Range<Int>) -> Void
    }
}

/// Wraps a value that is shared across threads under a discipline the compiler cannot check
/// (e.g. pointers whose disjoint ranges each thread writes).
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
