/// How readily a request is shed under overload; higher classes are admitted first.
///
/// Waiters are admitted in priority order (FIFO within a class). When the queue is full, a
/// newcomer displaces the newest waiter of a lower class; `critical` requests are never shed:
/// no queue bound, queue timeout or latency budget refuses them.
public enum RequestPriority: Int, Sendable, Comparable, CaseIterable {
    case low = 0
    case normal = 1
    case high = 2
    /// Health checks, admin: never shed (they still wait for a permit, ahead of everyone).
    case critical = 3

    public static func < (lhs: RequestPriority, rhs: RequestPriority) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Picks a request's priority before any handler runs (from its method, path or headers).
public typealias PriorityClassifier = @Sendable (Request) -> RequestPriority?
