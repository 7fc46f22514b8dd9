/// Settings of the adaptive global limit: it moves between `minLimit` and `maxLimit` from
/// measured handler latency, against `targetLatency`.
///
/// The target is what an admitted request should see, wait included: handlers' latency is
/// held under it (the limit shrinks above, grows below while demand presses on it), and a
/// request is refused at once when its expected wait exceeds what the target leaves after the
/// handlers' recent latency (at most a quarter of it), and none waits longer than a quarter of
/// it. See `LatencyLimiter`.
public struct AdaptiveConcurrency: Sendable, Equatable {
    public var minLimit: Int
    public var maxLimit: Int
    /// The limit before anything was measured.
    public var initialLimit: Int
    /// Latency admitted requests should stay under.
    public var targetLatency: Duration
    /// How far above the learned no-load latency handler latency may rise before the limit
    /// shrinks (2: twice the baseline), as long as it also stays under the target.
    public var tolerance: Double
    /// How often the limit may move.
    public var interval: Duration

    /// The part of the target a request may spend waiting for a permit: a dependency that slows
    /// after a request was admitted can still make its handler take most of the rest.
    static let waitShare = 0.25

    public init(
        minLimit: Int = 1, maxLimit: Int = 1000, initialLimit: Int? = nil, targetLatency: Duration = .milliseconds(500),
        tolerance: Double = 2, interval: Duration = .milliseconds(100)
    ) {
        self.minLimit = minLimit
        self.maxLimit = maxLimit
        self.initialLimit = initialLimit ?? min(maxLimit, max(minLimit, 16))
        self.targetLatency = targetLatency
        self.tolerance = tolerance
        self.interval = interval
    }

    /// Whether the settings make sense: 1 ≤ min ≤ initial ≤ max, a positive target and interval, tolerance ≥ 1.
    public var isValid: Bool {
        minLimit >= 1 && minLimit <= initialLimit && initialLimit <= maxLimit && targetLatency > .zero
            && interval > .zero && tolerance >= 1
    }
}
