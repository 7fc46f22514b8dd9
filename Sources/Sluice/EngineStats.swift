import Metrics
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

    func snapshot(inFlight: Int, maxInFlight: Int, queued: Int, gates: [String: Gate.Snapshot]) -> ServerStats {
        ServerStats(
            inFlight: inFlight, maxInFlight: maxInFlight, queued: queued,
            completed: completed.load(ordering: .relaxed), rejected: rejected.load(ordering: .relaxed),
            timedOut: timedOut.load(ordering: .relaxed), cancelled: cancelled.load(ordering: .relaxed),
            errors: errors.load(ordering: .relaxed), gates: gates)
    }
}
