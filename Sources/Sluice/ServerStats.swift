/// A snapshot of a server's request accounting.
///
/// Every request that reaches a handler's route ends in exactly one of: `completed` (its
/// handler returned or threw, so `errors` is a subset), `rejected` (shed for capacity: queue full,
/// queue timeout, over the latency budget, displaced), `timedOut` (504), or `cancelled` (its client left, or shutdown cut it short).
public struct ServerStats: Sendable, Equatable {
    /// Handlers running now (permits of the global gate in use).
    public var inFlight: Int
    public var maxInFlight: Int
    /// Requests waiting for a gate, global or per route.
    public var queued: Int
    public var completed: Int
    public var rejected: Int
    public var timedOut: Int
    public var cancelled: Int
    /// Handlers that threw (counted in `completed` too).
    public var errors: Int
    /// The per-route gates by name.
    public var gates: [String: Gate.Snapshot]
    /// The global limit now (it moves when adaptive).
    public var limit: Int
    /// The adaptive limit's baseline, latency and adjustments; nil for a fixed limit.
    public var adaptive: AdaptiveLimitStats?
    /// Requests the global gate shed (refused, timed out or displaced), by priority; `critical` stays 0.
    public var shed: [RequestPriority: Int]
}
