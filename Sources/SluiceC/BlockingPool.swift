import DequeModule
import Sluice

#if canImport(Glibc)
import Glibc
#endif

/// A fixed set of threads for handlers that may block: never a loop thread, never Swift's
/// cooperative pool, so plain blocking C code cannot stall the server.
final class BlockingPool: @unchecked Sendable {
    // @unchecked: the queue and the flag are guarded by `mutex`; `threads` is written only
    // by init and join, from the owning thread.
    typealias Job = @Sendable () -> Void

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let ready = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs = Deque<Job>()
    private var stopping = false
    private var threads: [pthread_t] = []

    init(threadCount: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(ready, nil)
        for _ in 0..<max(1, threadCount) {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            if pthread_create(&thread, nil, { context in
                let pool = Unmanaged<BlockingPool>.fromOpaque(context!).takeRetainedValue()
                pool.work()
                return nil
            }, context) == 0 {
                threads.append(thread)
            } else {
                Unmanaged<BlockingPool>.fromOpaque(context).release()
            }
        }
    }

    deinit {
        pthread_cond_destroy(ready)
        pthread_mutex_destroy(mutex)
        ready.deallocate()
        mutex.deallocate()
    }

    /// Queues a job; false once the pool is stopping.
    func submit(_ job: @escaping Job) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if stopping { return false }
        jobs.append(job)
        pthread_cond_signal(ready)
        return true
    }

    private func work() {
        while let job = next() { job() }
    }

    private func next() -> Job? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while jobs.isEmpty && !stopping { pthread_cond_wait(ready, mutex) }
        return jobs.popFirst()
    }

    /// Lets the queued jobs finish, then joins the threads. Owning thread only.
    func stopAndJoin() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(ready)
        pthread_mutex_unlock(mutex)
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }
}
