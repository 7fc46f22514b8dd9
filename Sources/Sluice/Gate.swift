import DequeModule
import Synchronization

/// An async limiter: at most `limit` holders at once, the rest wait in a bounded FIFO queue.
///
/// Waiting holds no thread. A waiter that is cancelled leaves the queue at once; a waiter
/// that would overflow the queue is refused at once. Permits are handed to waiters in
/// arrival order, so no waiter starves.
public final class Gate: Sendable {
    /// Why a gate refused to admit.
    public enum Rejection: Error, Sendable, Equatable {
        /// The queue already held `maxQueue` waiters.
        case queueFull
        /// The waiter waited longer than its queue timeout.
        case timedOut
    }

    /// A consistent view of the gate's counters.
    public struct Snapshot: Sendable, Equatable {
        public var limit: Int
        public var inFlight: Int
        public var maxInFlight: Int
        public var queued: Int

        public init(limit: Int, inFlight: Int, maxInFlight: Int, queued: Int) {
            self.limit = limit
            self.inFlight = inFlight
            self.maxInFlight = maxInFlight
            self.queued = queued
        }
    }

    private struct Waiter {
        var id: UInt64
        var continuation: UnsafeContinuation<Void, any Error>
    }

    private struct State {
        var inFlight = 0
        var maxInFlight = 0
        var waiters = Deque<Waiter>()
        var nextWaiterID: UInt64 = 0

        mutating func admit() {
            inFlight += 1
            if inFlight > maxInFlight { maxInFlight = inFlight }
        }
    }

    public let limit: Int
    public let maxQueue: Int
    private let state = Mutex(State())

    /// Creates a gate.
    /// - Parameters:
    ///   - limit: The most holders at once; at least 1.
    ///   - maxQueue: The most waiters; 0 refuses whenever the gate is full.
    public init(limit: Int, maxQueue: Int = .max) {
        precondition(limit >= 1, "a gate needs a limit of at least 1")
        precondition(maxQueue >= 0, "a gate's queue bound cannot be negative")
        self.limit = limit
        self.maxQueue = maxQueue
    }

    /// Takes a permit without waiting, or returns false.
    public func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.inFlight < limit, state.waiters.isEmpty else { return false }
            state.admit()
            return true
        }
    }

    /// Takes a permit, waiting in FIFO order while the gate is full.
    ///
    /// A permit that is free is taken even by a cancelled task; only waiting is cancellable.
    /// - Throws: `Rejection.queueFull` when the queue is full, `CancellationError` when the
    ///   task is cancelled while it waits.
    public func acquire() async throws {
        if tryAcquire() { return }
        let id = state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if state.inFlight < limit && state.waiters.isEmpty {
                        state.admit()
                        return .success(())
                    }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.waiters.count >= maxQueue { return .failure(Rejection.queueFull) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            leave(id: id, with: CancellationError())
        }
    }

    /// Removes a waiter that is still queued and resumes it with `error`; a no-op otherwise.
    func leave(id: UInt64, with error: any Error) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    /// Returns a permit; the longest waiter, if any, takes it over.
    public func release() {
        let next: Waiter? = state.withLock { state in
            precondition(state.inFlight > 0, "Gate.release() without a permit")
            if let next = state.waiters.popFirst() { return next }
            state.inFlight -= 1
            return nil
        }
        next?.continuation.resume()
    }

    /// The gate's counters at one instant.
    public var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(limit: limit, inFlight: state.inFlight, maxInFlight: state.maxInFlight, queued: state.waiters.count)
        }
    }
}

extension Gate {
    /// Runs `body` holding a permit, and returns the permit on every path.
    public func withPermit<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }
}
