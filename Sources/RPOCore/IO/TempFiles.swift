// Temporary output files removed when the process is ended by SIGINT or SIGTERM: a stream tool interrupted
// while writing `-o FILE` leaves neither FILE nor its `.FILE.PID.tmp`. The paths are held as C strings in
// fixed atomic slots, so that the handler (which only reads the slots, calls unlink, restores the default
// action and re-raises the signal) is async-signal-safe. A process that already handles or ignores these
// signals (rpo-train's clean stop, nohup) keeps its own disposition.
import Foundation
import Synchronization

public enum TempFiles {
    static let capacity = 16
    /// Each slot holds a `strdup`ed path (as its address) or 0.
    static let slots: InlineArray<16, Atomic<Int>> = InlineArray { _ in Atomic<Int>(0) }
    static let installed = Atomic<Bool>(false)

    /// Registers `path` for removal on SIGINT/SIGTERM; returns its slot (nil when all are taken: the file is
    /// then only removed by its writer).
    static func register(_ path: String) -> Int? {
        installHandlers()
        guard let copy = strdup(path) else { return nil }
        let address = Int(bitPattern: copy)
        for i in 0..<capacity {
            if slots[i].compareExchange(expected: 0, desired: address, ordering: .sequentiallyConsistent).exchanged {
                return i
            }
        }
        free(copy)
        return nil
    }

    /// Forgets the registration (the file was renamed into place or removed). The string is not freed: a
    /// handler running on another thread may be reading it; a few bytes per output file are kept.
    static func unregister(_ slot: Int?) {
        guard let i = slot else { return }
        slots[i].store(0, ordering: .sequentiallyConsistent)
    }

    /// Removes every registered file (async-signal-safe).
    package static func removeAll() {
        for i in 0..<capacity {
            let address = slots[i].load(ordering: .sequentiallyConsistent)
            if address != 0, let p = UnsafePointer<CChar>(bitPattern: address) { unlink(p) }
        }
    }

    /// Installs the removing handler for SIGINT and SIGTERM where their action is the default one.
    static func installHandlers() {
        if installed.exchange(true, ordering: .sequentiallyConsistent) { return }
        StopSignal.unblock()
        for s in [SIGINT, SIGTERM] {
            var current = sigaction()
            guard sigaction(s, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil else { continue }
            signal(s) { sig in
                TempFiles.removeAll()
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }
}
