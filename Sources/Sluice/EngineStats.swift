import CoreMetrics
import Synchronization

/// The engine's request counters, exact (atomics), and mirrored to swift-metrics.
final class EngineStats: Sendable {
    enum Outcome {
        case completed
        case rejected
        case timedOut
        case cancelled
    }

    private let completed = Atomic<Int>(0)
    private let rejected = Atomic<Int>(0)
    private let timedOut = Atomic<Int>(0)
    private let cancelled = Atomic<Int>(0)
    private let errors = Atomic<Int>(0)

    private let completedMetric = Counter(label: "sluice_requests_total", dimensions: [("outcome", "completed")])
    private let rejectedMetric = Counter(label: "sluice_requests_total", dimensions: [("outcome", "rejected")])
    private let timedOutMetric = Counter(label: "sluice_requests_total", dimensions: [("outcome", "timed_out")])
    private let cancelledMetric = Counter(label: "sluice_requests_total", dimensions: [("outcome", "cancelled")])
    private let errorsMetric = Counter(label: "sluice_handler_errors_total")
    private let inFlightMetric = Meter(label: "sluice_requests_in_flight")
    private let limitMetric = Gauge(label: "sluice_concurrency_limit")
    private let baselineMetric = Gauge(label: "sluice_baseline_latency_seconds")
    private let latencyMetric = Gauge(label: "sluice_handler_latency_p90_seconds")
    private let increasesMetric = Counter(label: "sluice_limit_adjustments_total", dimensions: [("direction", "up")])
    private let decreasesMetric = Counter(label: "sluice_limit_adjustments_total", dimensions: [("direction", "down")])
    private let lastAdjustments = Locked((increases: 0, decreases: 0))

    func record(_ outcome: Outcome, error: Bool = false) {
        switch outcome {
        case .completed:
            completed.add(1, ordering: .relaxed)
            completedMetric.increment()
        case .rejected:
            rejected.add(1, ordering: .relaxed)
            rejectedMetric.increment()
        case .timedOut:
            timedOut.add(1, ordering: .relaxed)
            timedOutMetric.increment()
        case .cancelled:
            cancelled.add(1, ordering: .relaxed)
            cancelledMetric.increment()
        }
        if error {
            errors.add(1, ordering: .relaxed)
            errorsMetric.increment()
        }
    }

    func handlerStarted() { inFlightMetric.increment() }
    func handlerEnded() { inFlightMetric.decrement() }

    /// Mirrors a move of the adaptive limit to the metrics.
    func limitMoved(_ adaptive: AdaptiveLimitStats) {
        limitMetric.record(adaptive.limit)
        baselineMetric.record(Double(adaptive.baselineLatency.nanoseconds) / 1e9)
        latencyMetric.record(Double(adaptive.latency.nanoseconds) / 1e9)
        let (up, down) = lastAdjustments.withLock { last in
            defer { last = (adaptive.increases, adaptive.decreases) }
            return (max(0, adaptive.increases - last.increases), max(0, adaptive.decreases - last.decreases))
        }
        if up > 0 { increasesMetric.increment(by: up) }
        if down > 0 { decreasesMetric.increment(by: down) }
    }

    func snapshot(global: Gate.Snapshot, queued: Int, gates: [String: Gate.Snapshot]) -> ServerStats {
        var shed: [RequestPriority: Int] = [:]
        for priority in RequestPriority.allCases { shed[priority] = global.shed[priority.rawValue] }
        return ServerStats(
            inFlight: global.inFlight, maxInFlight: global.maxInFlight, queued: queued,
            completed: completed.load(ordering: .relaxed), rejected: rejected.load(ordering: .relaxed),
            timedOut: timedOut.load(ordering: .relaxed), cancelled: cancelled.load(ordering: .relaxed),
            errors: errors.load(ordering: .relaxed), gates: gates, limit: global.limit, adaptive: global.adaptive,
            shed: shed)
    }
}
