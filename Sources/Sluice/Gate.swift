import DequeModule
import Synchronization

/// An async limiter: at most `limit` permits in use at once, the rest wait in a bounded FIFO queue.
///
/// Waiting holds no thread. A request may take several permits (its weight). A waiter that is
/// cancelled or timed out leaves the queue at once; one that would overflow the queue is
/// refused at once. Permits go to waiters strictly in arrival order, so none starves: a heavy
/// waiter at the head is not overtaken by lighter ones behind it.
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
        /// Permits in use.
        public var inFlight: Int
        /// The most permits ever in use at once.
        public var maxInFlight: Int
        /// Waiters in the queue.
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
        var weight: Int
        var continuation: UnsafeContinuation<Int, any Error>
    }

    private struct State {
        var inFlight = 0
        var maxInFlight = 0
        var waiters = Deque<Waiter>()

        /// Takes `weight` permits; returns the permits in use afterwards.
        mutating func admit(_ weight: Int) -> Int {
            inFlight += weight
            if inFlight > maxInFlight { maxInFlight = inFlight }
            return inFlight
        }
    }

    private static let waiterIDs = Atomic<UInt64>(0)

    /// A name for stats and logs, such as the route's.
    public let name: String
    public let limit: Int
    public let maxQueue: Int
    private let state = Locked(State())

    /// Creates a gate.
    /// - Parameters:
    ///   - name: How stats and logs call it.
    ///   - limit: The most permits in use at once; at least 1.
    ///   - maxQueue: The most waiters; 0 refuses whenever the gate is full.
    public init(name: String = "gate", limit: Int, maxQueue: Int = .max) {
        precondition(limit >= 1, "a gate needs a limit of at least 1")
        precondition(maxQueue >= 0, "a gate's queue bound cannot be negative")
        self.name = name
        self.limit = limit
        self.maxQueue = maxQueue
    }

    /// A process-wide unique id for a waiter, so that a timer can find it in the queue.
    static func makeWaiterID() -> UInt64 {
        waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }

    private func clamp(_ weight: Int) -> Int { min(max(weight, 1), limit) }

    /// Takes `weight` permits without waiting; returns the permits in use on entry
    /// (these included), or nil when that would mean waiting.
    public func tryAcquire(weight: Int = 1) -> Int? {
        let weight = clamp(weight)
        return state.withLock { state in
            guard state.inFlight + weight <= limit, state.waiters.isEmpty else { return nil }
            return state.admit(weight)
        }
    }

    /// Takes `weight` permits (at most `limit`), waiting in FIFO order while the gate is full.
    ///
    /// Permits that are free are taken even by a cancelled task; only waiting is cancellable.
    /// - Returns: The permits in use on entry, these included.
    /// - Throws: `Rejection.queueFull` when the queue is full, `CancellationError` when the
    ///   task is cancelled while it waits.
    @discardableResult
    public func acquire(weight: Int = 1) async throws -> Int {
        if let occupancy = tryAcquire(weight: weight) { return occupancy }
        return try await acquire(weight: weight, waiterID: Self.makeWaiterID())
    }

    /// Like `acquire(weight:)`, under an id that `leave(id:with:)` can name.
    func acquire(weight: Int, waiterID id: UInt64) async throws -> Int {
        let weight = clamp(weight)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
                let outcome: Result<Int, any Error>? = state.withLock { state in
                    if state.inFlight + weight <= limit && state.waiters.isEmpty { return .success(state.admit(weight)) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.waiters.count >= maxQueue { return .failure(Rejection.queueFull) }
                    state.waiters.append(Waiter(id: id, weight: weight, continuation: continuation))
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
        let (waiter, admitted) = state.withLock { state -> (Waiter?, [(Waiter, Int)]) in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return (nil, []) }
            let waiter = state.waiters.remove(at: index)
            // A heavy waiter that left the head may unblock lighter ones behind it.
            return (waiter, Self.admitWaiting(&state, limit: limit))
        }
        waiter?.continuation.resume(throwing: error)
        for (next, occupancy) in admitted { next.continuation.resume(returning: occupancy) }
    }

    /// Returns `weight` permits; the waiters at the head that now fit take them over.
    public func release(weight: Int = 1) {
        let weight = clamp(weight)
        let admitted = state.withLock { state -> [(Waiter, Int)] in
            precondition(state.inFlight >= weight, "Gate.release() of permits not held")
            state.inFlight -= weight
            return Self.admitWaiting(&state, limit: limit)
        }
        for (next, occupancy) in admitted { next.continuation.resume(returning: occupancy) }
    }

    private static func admitWaiting(_ state: inout State, limit: Int) -> [(Waiter, Int)] {
        var admitted: [(Waiter, Int)] = []
        while let head = state.waiters.first, state.inFlight + head.weight <= limit {
            state.waiters.removeFirst()
            admitted.append((head, state.admit(head.weight)))
        }
        return admitted
    }

    /// The gate's counters at one instant.
    public var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(limit: limit, inFlight: state.inFlight, maxInFlight: state.maxInFlight, queued: state.waiters.count)
        }
    }
}

extension Gate {
    /// Runs `body` holding `weight` permits, and returns them on every path.
    public func withPermit<T: Sendable>(weight: Int = 1, _ body: () async throws -> T) async throws -> T {
        try await acquire(weight: weight)
        defer { release(weight: weight) }
        return try await body()
    }
}
