#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, both in one allocation.
///
/// Used instead of `Synchronization.Mutex` because on Linux that mutex hands ownership over
/// through a futex in the kernel, which ThreadSanitizer cannot see: correct code guarded by
/// it is reported as racy. ThreadSanitizer intercepts pthread mutexes, so the Swift tests
/// can run clean under it. Uncontended, both cost about the same.
///
/// A struct around its buffer, so a lock costs one allocation (one is made per request);
/// copies share the buffer and so the lock.
package struct Locked<Value> {
    private final class Storage: ManagedBuffer<Value, pthread_mutex_t> {
        deinit {
            // Only the mutex: the header is a stored property that the class destroys itself.
            withUnsafeMutablePointerToElements { mutex in
                pthread_mutex_destroy(mutex)
                mutex.deinitialize(count: 1)
            }
        }
    }

    private let storage: Storage

    /// The value is made in place: taken as a parameter, it would be copied into the buffer
    /// and the original destroyed (an outlined copy of a request's state, per request).
    package init(_ value: @autoclosure () -> Value) {
        let buffer = Storage.create(minimumCapacity: 1) { _ in value() }
        buffer.withUnsafeMutablePointerToElements { mutex in
            mutex.initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex, nil)
        }
        // create(minimumCapacity:) returns the dynamic type, a Storage.
        storage = unsafeDowncast(buffer, to: Storage.self)
    }

    /// Runs `body` with exclusive access to the value.
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try storage.withUnsafeMutablePointers { value, mutex in
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body(&value.pointee)
        }
    }
}

// @unchecked: the value is only reached through `withLock`, under the mutex, and it is
// Sendable itself, so nothing non-Sendable can leak out of the lock.
extension Locked: @unchecked Sendable where Value: Sendable {}
