@testable import Sluice
import Testing

/// Drives a limiter window by window against a model of the server, with no clock.
private struct Simulation {
    var limiter: LatencyLimiter
    var now: UInt64 = 1_000_000_000
    let interval: UInt64

    init(_ settings: AdaptiveConcurrency) {
        limiter = LatencyLimiter(settings)
        interval = settings.interval.nanoseconds
    }

    /// One window of ten samples, each `latency(limit)` long; demand presses on the limit when `pressed`.
    /// One interval of completions: under pressure the limit is full, without it `inFlight`
    /// requests run; by Little's law that many in flight complete inFlight × interval / latency
    /// requests per interval (at least one: a slow window closes on its first completion).
    mutating func window(pressed: Bool = true, inFlight: Int = 1, latency: (Int) -> UInt64) {
        let running = pressed ? limiter.limit : inFlight
        let value = latency(running)
        let count = max(1, Int(UInt64(running) * interval / value))
        let step = max(interval, value) / UInt64(count) + 1
        for _ in 0..<count {
            if pressed { limiter.notePressure() }
            now += step
            _ = limiter.record(latencyNanos: value, now: now, inFlight: running)
        }
    }

    /// `count` windows under pressure; returns the limit after each.
    mutating func limits(over count: Int, latency: (Int) -> UInt64) -> [Int] {
        (0..<count).map { _ in
            window(latency: latency)
            return limiter.limit
        }
    }
}

private let ms: UInt64 = 1_000_000

/// A dependency serving `capacity` calls at once, each `serviceMs` long: above its capacity,
/// calls queue and latency grows with the limit.
private func dependency(capacity: Int, serviceMs: UInt64) -> (Int) -> UInt64 {
    { limit in serviceMs * ms * UInt64(max(limit, capacity)) / UInt64(capacity) }
}

@Suite("LatencyLimiter")
struct LatencyLimiterTests {
    private let settings = AdaptiveConcurrency(minLimit: 1, maxLimit: 200, initialLimit: 16, targetLatency: .milliseconds(500))

    @Test("grows to its maximum while latency stays flat and demand presses")
    func growsWhenLatencyIsFlat() {
        var simulation = Simulation(settings)
        let limits = simulation.limits(over: 100) { _ in 10 * ms }
        #expect(limits.suffix(30).max() == 200)
        #expect(simulation.limiter.snapshot.baselineNanos == 10 * ms)
        // Only probes shrank it: latency never rose.
        #expect(simulation.limiter.snapshot.decreases <= 2)
    }

    @Test("without pressure, falls to 1.5 × the demand plus 2, and does not grow")
    func followsDemandWithoutPressure() {
        var simulation = Simulation(settings)
        for _ in 0..<50 { simulation.window(pressed: false, inFlight: 4) { _ in 10 * ms } }
        #expect(simulation.limiter.limit == 8)
        for _ in 0..<50 { simulation.window(pressed: false, inFlight: 0) { _ in 10 * ms } }
        #expect(simulation.limiter.limit == 2)
    }

    @Test("shrinks in proportion, at most by half, when latency passes the target")
    func shrinksAboveTarget() {
        var simulation = Simulation(settings)
        simulation.window { _ in 2000 * ms }
        #expect(simulation.limiter.limit == 8)
        simulation.window { _ in 600 * ms }
        // The target is also the ceiling here (the first window set the baseline): 8 × 500/600.
        #expect(simulation.limiter.limit == 6)
        #expect(simulation.limiter.snapshot.decreases == 2)
    }

    @Test("settles just above a saturated dependency's capacity, not at the target")
    func settlesNearDependencyCapacity() {
        var simulation = Simulation(settings)
        // Light load first, one call at a time: the no-load latency.
        for _ in 0..<5 { simulation.window(pressed: false) { _ in 10 * ms } }
        let limits = simulation.limits(over: 200, latency: dependency(capacity: 4, serviceMs: 10))
        // Latency at the limit may reach about max(2 × 10 ms, 10 ms + 25 ms): 3.5 × capacity.
        let settled = limits.suffix(100)
        #expect(settled.filter { $0 >= 4 }.count >= 90, "the limit fell below the dependency's capacity: \(settled)")
        #expect(settled.max()! <= 16, "the limit let calls queue far past the baseline: \(settled)")
    }

    @Test("relearns its baseline when the dependency slows for good, instead of pinning the minimum")
    func relearnsAfterSlowdown() {
        var simulation = Simulation(settings)
        for _ in 0..<5 { simulation.window(pressed: false) { _ in 10 * ms } }
        for _ in 0..<100 { simulation.window(latency: dependency(capacity: 4, serviceMs: 10)) }
        let limits = simulation.limits(over: 100, latency: dependency(capacity: 4, serviceMs: 200))
        #expect(simulation.limiter.snapshot.baselineNanos == 200 * ms)
        let settled = limits.suffix(80)
        // Probes aside, the dependency stays saturated: goodput is kept.
        #expect(settled.filter { $0 >= 4 }.count >= 72, "the limit stayed under the dependency's capacity: \(settled)")
        // At 200 ms the target (500 ms) caps latency: at most 2.5 × capacity in flight.
        #expect(settled.max()! <= 10, "latency over the target was tolerated: \(settled)")
    }

    @Test("a server saturated from its start finds the no-load latency by probing")
    func probesForBaseline() {
        var simulation = Simulation(settings)
        let limits = simulation.limits(over: 300, latency: dependency(capacity: 4, serviceMs: 10))
        #expect(simulation.limiter.snapshot.baselineNanos == 10 * ms, "\(limits)")
        #expect(limits.suffix(100).max()! <= 16, "\(limits)")
    }

    @Test("never leaves its bounds")
    func bounds() {
        var simulation = Simulation(AdaptiveConcurrency(minLimit: 3, maxLimit: 5, initialLimit: 4, targetLatency: .milliseconds(100)))
        for _ in 0..<20 { simulation.window { _ in 10 * ms } }
        #expect(simulation.limiter.limit == 5)
        for _ in 0..<20 { simulation.window { _ in 5000 * ms } }
        #expect(simulation.limiter.limit == 3)
    }

    @Test("service time turns queue depth into a drain time")
    func serviceTime() {
        var service = ServiceTime()
        #expect(service.seconds(toServe: 10, limit: 2) == nil)
        for _ in 0..<100 { service.record(latencyNanos: 200 * ms) }
        let seconds = service.seconds(toServe: 10, limit: 2) ?? 0
        #expect(abs(seconds - 1.0) < 0.001)
    }
}
