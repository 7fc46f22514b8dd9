import DequeModule
import Sluice

#if canImport(Glibc)
import Glibc
#endif

/// Threads for handlers that may block: never a loop thread, never Swift's cooperative pool,
/// so plain blocking C code cannot stall the server. Threads start as jobs need them (one
/// per job that finds none idle), up to the pool's size, and then stay; so a large size
/// (streams that each hold a thread for long) costs nothing until it is used.
final class BlockingPool: @unchecked Sendable {
    // @unchecked: the queue, the counts, the flag and `threads` are guarded by `mutex`.
    typealias Job = @Sendable () -> Void

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let ready = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs = Deque<Job>()
    private var stopping = false
    private var threads: [pthread_t] = []
    private var idle = 0
    private let maxThreads: Int

    init(threadCount: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(ready, nil)
        maxThreads = max(1, threadCount)
    }

    /// Starts one more thread. Under `mutex`.
    private func spawn() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        if pthread_create(&thread, nil, { context in
            let pool = Unmanaged<BlockingPool>.fromOpaque(context!).takeRetainedValue()
            pool.work()
            return nil
        }, context) == 0 {
            threads.append(thread)
        } else {
            // The jobs wait for a thread that exists (there is one unless none could ever start).
            Unmanaged<BlockingPool>.fromOpaque(context).release()
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
        if jobs.count > idle && threads.count < maxThreads { spawn() }
        pthread_cond_signal(ready)
        return true
    }

    private func work() {
        while let job = next() { job() }
    }

    private func next() -> Job? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        idle += 1
        while jobs.isEmpty && !stopping { pthread_cond_wait(ready, mutex) }
        idle -= 1
        return jobs.popFirst()
    }

    /// Lets the queued jobs finish, then joins the threads. Owning thread only.
    func stopAndJoin() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(ready)
        let started = threads
        threads.removeAll()
        pthread_mutex_unlock(mutex)
        for thread in started { pthread_join(thread, nil) }
    }
}
