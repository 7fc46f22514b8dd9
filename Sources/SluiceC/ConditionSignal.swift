#if canImport(Glibc)
import Glibc
#endif

/// A condition variable for C threads that must block (start, run, destroy): they are
/// not tasks, so they wait on a pthread condition rather than on a continuation.
final class ConditionSignal: @unchecked Sendable {
    // @unchecked: a pthread mutex and condition, used only through lock/wait/broadcast.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Blocks until `isDone` is true; it is checked again after every broadcast.
    func wait(until isDone: () -> Bool) {
        pthread_mutex_lock(mutex)
        while !isDone() { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }

    func broadcast() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
