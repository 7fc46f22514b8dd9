import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A lock that lives inside the object it guards: no allocation, nothing to initialize.
///
/// Every request has state that its loop, its task and its answer's writer share, locked a
/// few times per request and almost never contended. A pthread mutex must not move, so it
/// needed a buffer of its own: an allocation, an initialization and a free per request.
/// This lock is one atomic word; a thread that finds it held yields the CPU and tries again,
/// as nginx's shared-memory mutex does. That suits only short critical sections that never
/// block or suspend (they may take another short lock, as cancelling a task takes its
/// handlers' locks): every user must keep to that.
///
/// ThreadSanitizer sees the acquiring exchange and the releasing store, so the state it
/// guards is checked like any other.
package struct InlineLock: ~Copyable, Sendable {
    private let held = Atomic<Bool>(false)

    package init() {}

    package func lock() {
        while held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged == false {
            sched_yield()
        }
    }

    package func unlock() {
        held.store(false, ordering: .releasing)
    }
}
