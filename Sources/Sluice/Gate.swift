import Synchronization

/// An async limiter: at most `limit` permits in use at once, the rest wait in a bounded queue.
///
/// Waiting holds no thread. A request may take several permits (its weight), has a priority
/// (higher classes are admitted first, `critical` is never shed) and draws from a budget:
/// budget 0 is shared, the others are guaranteed shares whose unused permits no other budget
/// may take. Within a budget, waiters are admitted in arrival order, so none starves: a heavy
/// waiter at the head is not overtaken by lighter ones behind it.
///
/// The limit is fixed, or adaptive: a `LatencyLimiter` moves it from the handler latencies
/// that `release(weight:budget:latencyNanos:)` reports, and a newcomer whose expected wait
/// exceeds what the target leaves after the handlers' recent latency is refused at once.
public final class Gate: Sendable {
    /// Why a gate refused to admit.
    public enum Rejection: Error, Sendable, Equatable {
        /// The queue already held `maxQueue` waiters, none of a lower priority.
        case queueFull
        /// The waiter waited longer than its queue timeout.
        case timedOut
        /// The expected wait exceeded the adaptive limit's budget.
        case overBudget
        /// A more important request took this waiter's place in a full queue.
        case displaced
    }

    /// A consistent view of the gate's counters.
    public struct Snapshot: Sendable, Equatable {
        /// The limit now (it moves when adaptive).
        public var limit: Int
        /// Permits in use.
        public var inFlight: Int
        /// The most permits ever in use at once.
        public var maxInFlight: Int
        /// Waiters in the queue.
        public var queued: Int
        /// Requests refused or displaced, by priority (`RequestPriority.rawValue`).
        public var shed: [Int]
        /// The adaptive limit's view; nil for a fixed limit.
        public var adaptive: AdaptiveLimitStats?

        public init(limit: Int, inFlight: Int, maxInFlight: Int, queued: Int, shed: [Int] = [0, 0, 0, 0],
                    adaptive: AdaptiveLimitStats? = nil) {
            self.limit = limit
            self.inFlight = inFlight
            self.maxInFlight = maxInFlight
            self.queued = queued
            self.shed = shed
            self.adaptive = adaptive
        }
    }

    /// The permits: the limit, those in use (in all and per budget).
    private struct Permits {
        var limit: Int
        var inFlight = 0
        var maxInFlight = 0
        var inUse: [Int]
    }

    private struct State {
        var permits: Permits
        var room: WaitingRoom
        var limiter: LatencyLimiter?
        /// Per budget: a guaranteed share's routes may be far faster than the rest.
        var service: [ServiceTime]
        var shed = [Int](repeating: 0, count: RequestPriority.allCases.count)
    }

    private static let waiterIDs = Atomic<UInt64>(0)

    /// A name for stats and logs, such as the route's.
    public let name: String
    public let maxQueue: Int
    /// Guaranteed fractions of budgets 1...n (budget 0 is everyone else's).
    let shares: [Double]
    private let weightCap: Int
    /// The adaptive limit's target, in seconds: what an admitted request should see, wait included.
    private let targetSeconds: Double?
    private let state: Locked<State>

    /// Creates a gate with a fixed limit, or an adaptive one.
    /// - Parameters:
    ///   - name: How stats and logs call it.
    ///   - limit: The most permits in use at once; at least 1. Ignored when `adaptive` is set.
    ///   - maxQueue: The most waiters (`critical` ones aside); 0 refuses whenever the gate is full.
    ///   - adaptive: Settings of an adaptive limit; nil for a fixed one.
    ///   - shares: Guaranteed fractions of the limit for budgets 1, 2, …; at most 1 in total.
    public init(name: String = "gate", limit: Int, maxQueue: Int = .max, adaptive: AdaptiveConcurrency? = nil,
                shares: [Double] = []) {
        precondition(limit >= 1, "a gate needs a limit of at least 1")
        precondition(maxQueue >= 0, "a gate's queue bound cannot be negative")
        precondition(GuaranteedShare.fitInOneBudget(shares), "shares add up to at most 1")
        self.name = name
        self.maxQueue = maxQueue
        self.shares = shares
        let limiter = adaptive.map(LatencyLimiter.init)
        self.weightCap = adaptive?.maxLimit ?? limit
        self.targetSeconds = adaptive.map { Double($0.targetLatency.nanoseconds) / 1e9 }
        let permits = Permits(limit: limiter?.limit ?? limit, inUse: Array(repeating: 0, count: shares.count + 1))
        self.state = Locked(State(permits: permits, room: WaitingRoom(budgets: shares.count + 1), limiter: limiter,
                                  service: Array(repeating: ServiceTime(), count: shares.count + 1)))
    }

    /// The limit now.
    public var limit: Int { state.withLock { $0.permits.limit } }

    /// A process-wide unique id for a waiter, so that a timer can find it in the queue.
    static func makeWaiterID() -> UInt64 {
        waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }

    private func clamp(_ weight: Int) -> Int { min(max(weight, 1), weightCap) }

    /// Takes `weight` permits without waiting; returns the permits in use on entry
    /// (these included), or nil when that would mean waiting.
    public func tryAcquire(weight: Int = 1, priority: RequestPriority = .normal) -> Int? {
        tryAcquire(weight: weight, priority: priority, budget: 0)
    }

    func tryAcquire(weight: Int, priority: RequestPriority, budget: Int) -> Int? {
        let weight = clamp(weight)
        return state.withLock { state in
            guard state.room.isClear(budget: budget, atOrAbove: priority),
                Self.fits(weight, budget, state.permits, shares: shares)
            else { return nil }
            return Self.take(weight, budget, &state.permits)
        }
    }

    /// Takes `weight` permits, waiting in order while the gate is full.
    ///
    /// Permits that are free are taken even by a cancelled task; only waiting is cancellable.
    /// - Returns: The permits in use on entry, these included.
    /// - Throws: a `Rejection` when refused, `CancellationError` when the task is cancelled
    ///   while it waits.
    @discardableResult
    public func acquire(weight: Int = 1, priority: RequestPriority = .normal) async throws -> Int {
        if let occupancy = tryAcquire(weight: weight, priority: priority, budget: 0) { return occupancy }
        return try await acquire(weight: weight, priority: priority, budget: 0, waiterID: Self.makeWaiterID())
    }

    /// Like `acquire(weight:priority:)`, from `budget`, under an id that `leave(id:with:)` can name.
    func acquire(weight: Int, priority: RequestPriority = .normal, budget: Int = 0, waiterID id: UInt64) async throws -> Int {
        let weight = clamp(weight)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
                let arrival = state.withLock { state -> Arrival in
                    if state.room.isClear(budget: budget, atOrAbove: priority) && Self.fits(weight, budget, state.permits, shares: shares) {
                        return .admitted(Self.take(weight, budget, &state.permits))
                    }
                    state.limiter?.notePressure()
                    if let refusal = refusal(weight, priority, budget, state) {
                        if !(refusal is CancellationError) { state.shed[priority.rawValue] += 1 }
                        return .refused(refusal)
                    }
                    var displaced: WaitingRoom.Waiter?
                    if state.room.count >= maxQueue && priority != .critical {
                        displaced = state.room.removeNewest(below: priority)
                        if let displaced { state.shed[displaced.priority.rawValue] += 1 }
                    }
                    state.room.append(id: id, weight: weight, budget: budget, priority: priority, continuation: continuation)
                    return .queued(displaced: displaced, admitted: Self.admitWaiting(&state, shares: shares))
                }
                switch arrival {
                case .admitted(let occupancy):
                    continuation.resume(returning: occupancy)
                case .refused(let error):
                    continuation.resume(throwing: error)
                case .queued(let displaced, let admitted):
                    displaced?.continuation.resume(throwing: Rejection.displaced)
                    for (next, occupancy) in admitted { next.continuation.resume(returning: occupancy) }
                }
            }
        } onCancel: {
            leave(id: id, with: CancellationError())
        }
    }

    private enum Arrival {
        case admitted(Int)
        case refused(any Error)
        case queued(displaced: WaitingRoom.Waiter?, admitted: [(WaitingRoom.Waiter, Int)])
    }

    /// Why a newcomer that would have to wait is refused at once; nil when it may queue.
    /// `critical` requests are refused only when cancelled.
    private func refusal(_ weight: Int, _ priority: RequestPriority, _ budget: Int, _ state: State) -> (any Error)? {
        if Task.isCancelled { return CancellationError() }
        if priority == .critical { return nil }
        let ahead = state.room.permits(atOrAbove: priority, budget: budget)
        if let allowed = waitBudget(state), let wait = state.service[budget].seconds(toServe: ahead + weight, limit: state.permits.limit),
            wait > allowed {
            return Rejection.overBudget
        }
        // A full queue takes a newcomer only in place of a waiter of a lower priority.
        if state.room.count >= maxQueue && state.room.permits(atOrAbove: .low) == state.room.permits(atOrAbove: priority) {
            return Rejection.queueFull
        }
        return nil
    }

    /// How long a newcomer may expect to wait: what the target leaves after the handlers'
    /// recent latency, and never more than a quarter of the target (the rest is for handlers
    /// that slow down after it was admitted). Nil for a fixed limit.
    private func waitBudget(_ state: State) -> Double? {
        guard let targetSeconds else { return nil }
        let handlerSeconds = Double(state.limiter?.snapshot.latencyNanos ?? 0) / 1e9
        return min(targetSeconds * AdaptiveConcurrency.waitShare, max(0, targetSeconds - handlerSeconds))
    }

    /// Removes a waiter that is still queued and resumes it with `error`; a no-op otherwise.
    func leave(id: UInt64, with error: any Error) {
        let (waiter, admitted) = state.withLock { state -> (WaitingRoom.Waiter?, [(WaitingRoom.Waiter, Int)]) in
            guard let waiter = state.room.remove(id: id) else { return (nil, []) }
            if error is Rejection { state.shed[waiter.priority.rawValue] += 1 }
            // A heavy waiter that left the head may unblock lighter ones behind it.
            return (waiter, Self.admitWaiting(&state, shares: shares))
        }
        waiter?.continuation.resume(throwing: error)
        for (next, occupancy) in admitted { next.continuation.resume(returning: occupancy) }
    }

    /// Returns `weight` permits; the waiters at the head that now fit take them over.
    public func release(weight: Int = 1) {
        release(weight: weight, budget: 0, latencyNanos: nil)
    }

    /// Returns `weight` permits of `budget`, with the handler's latency (which feeds the
    /// adaptive limit, and the service time unless `heldNanos` says how long the permits were
    /// held beyond it, as for a streamed answer) and the monotonic time now.
    /// - Returns: The adaptive limit's view when this moved the limit, else nil.
    @discardableResult
    func release(weight: Int, budget: Int, latencyNanos: UInt64?, heldNanos: UInt64? = nil, now: UInt64 = 0) -> AdaptiveLimitStats? {
        let weight = clamp(weight)
        var moved: AdaptiveLimitStats?
        let admitted = state.withLock { state -> [(WaitingRoom.Waiter, Int)] in
            precondition(state.permits.inUse[budget] >= weight, "Gate.release() of permits not held")
            let inFlight = state.permits.inFlight
            state.permits.inFlight -= weight
            state.permits.inUse[budget] -= weight
            if let latencyNanos {
                state.service[budget].record(latencyNanos: heldNanos ?? latencyNanos)
                if state.limiter?.record(latencyNanos: latencyNanos, now: now, inFlight: inFlight) == true, let limiter = state.limiter {
                    state.permits.limit = limiter.limit
                    moved = AdaptiveLimitStats(limiter.snapshot)
                }
            }
            return Self.admitWaiting(&state, shares: shares)
        }
        for (next, occupancy) in admitted { next.continuation.resume(returning: occupancy) }
        return moved
    }

    /// Whether `weight` more permits of `budget` fit: under the limit once the other budgets'
    /// unused guarantees are set aside. A request heavier than that runs alone.
    private static func fits(_ weight: Int, _ budget: Int, _ permits: Permits, shares: [Double]) -> Bool {
        if permits.inFlight == 0 { return true }
        // Within its guarantee a share always fits, even while others overshoot a limit that
        // just shrank: the guarantee is what keeps it going when the rest is saturated.
        if budget > 0 && permits.inUse[budget] + weight <= guaranteed(shares[budget - 1], permits.limit) { return true }
        var setAside = 0
        for (index, share) in shares.enumerated() where index + 1 != budget {
            setAside += max(0, guaranteed(share, permits.limit) - permits.inUse[index + 1])
        }
        return permits.inFlight + weight + setAside <= permits.limit
    }

    /// A share's permits under `limit`: rounded down, but at least 1, so that a share
    /// survives an adaptive limit that shrank.
    private static func guaranteed(_ share: Double, _ limit: Int) -> Int { max(1, Int(Double(limit) * share)) }

    private static func take(_ weight: Int, _ budget: Int, _ permits: inout Permits) -> Int {
        permits.inFlight += weight
        permits.inUse[budget] += weight
        if permits.inFlight > permits.maxInFlight { permits.maxInFlight = permits.inFlight }
        return permits.inFlight
    }

    private static func admitWaiting(_ state: inout State, shares: [Double]) -> [(WaitingRoom.Waiter, Int)] {
        guard !state.room.isEmpty else { return [] }
        // Moved out (not copied) so that admitting does not copy the per-budget counts.
        var permits = state.permits
        state.permits.inUse = []
        defer { state.permits = permits }
        var occupancies: [Int] = []
        let admitted = state.room.admit { waiter in
            guard fits(waiter.weight, waiter.budget, permits, shares: shares) else { return false }
            occupancies.append(take(waiter.weight, waiter.budget, &permits))
            return true
        }
        return admitted.isEmpty ? [] : Array(zip(admitted, occupancies))
    }

    /// The estimated seconds until the shared budget's queue drains, from its depth and the
    /// measured service time; nil before anything was measured.
    public var secondsToDrain: Double? {
        state.withLock { state in
            state.service[0].seconds(toServe: state.room.permits(atOrAbove: .low, budget: 0) + 1, limit: state.permits.limit)
        }
    }

    /// The gate's counters at one instant.
    public var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(limit: state.permits.limit, inFlight: state.permits.inFlight, maxInFlight: state.permits.maxInFlight,
                     queued: state.room.count,
                     shed: state.shed, adaptive: state.limiter.map { AdaptiveLimitStats($0.snapshot) })
        }
    }
}

/// What the adaptive limit has learned and done.
public struct AdaptiveLimitStats: Sendable, Equatable {
    /// The limit now.
    public var limit: Int
    /// The learned no-load handler latency.
    public var baselineLatency: Duration
    /// The last measured 90th-percentile handler latency.
    public var latency: Duration
    /// Times the limit grew, and shrank.
    public var increases: Int
    public var decreases: Int

    init(_ snapshot: LatencyLimiter.Snapshot) {
        limit = snapshot.limit
        baselineLatency = .nanoseconds(Int64(snapshot.baselineNanos))
        latency = .nanoseconds(Int64(snapshot.latencyNanos))
        increases = snapshot.increases
        decreases = snapshot.decreases
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
