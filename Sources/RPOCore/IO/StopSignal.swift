// SIGINT / SIGTERM as a request to stop cleanly: the handler only sets a flag (an atomic store is
// async-signal-safe) that a long-running tool polls at safe points (rpo-train: optimizer-step boundaries, then a
// checkpoint and exit 0). The handler restores the default action, so a second signal ends the process at once.
import Foundation
import Synchronization

public enum StopSignal {
    static let requested = Atomic<Bool>(false)

    /// Installs the handler for SIGINT and SIGTERM, and unblocks them on the calling thread (a process started
    /// from a thread that blocks them, as Dispatch worker threads do, inherits the blocked mask).
    public static func install() {
        unblock()
        for s in [SIGINT, SIGTERM] {
            signal(s) { sig in
                StopSignal.requested.store(true, ordering: .relaxed)
                signal(sig, SIG_DFL)
            }
        }
    }

    /// Unblocks SIGINT and SIGTERM on the calling thread: a process started from a thread that blocks them (as
    /// Dispatch's threads do) inherits the blocked mask, and a handler of a blocked signal never runs.
    static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// True once SIGINT or SIGTERM has arrived.
    public static var isRequested: Bool { requested.load(ordering: .relaxed) }
}
