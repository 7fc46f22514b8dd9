/// The adaptive limit's algorithm: a value type fed with handler latencies and the time,
/// deterministic so that tests can drive it without a clock.
///
/// Every `interval` it closes a window, once the window is representative: its samples add
/// up to half the permit-time the window held (peak in flight × interval), so that a window
/// of only fast requests, while slow ones still run, cannot pass for the latency of all
/// (nor set a baseline of microseconds). It looks at the window's 90th
/// percentile, weighted by time held: the latency that 90% of permit-time sees, so that a
/// fast route answering thousands of requests cannot hide a slow route queueing in a
/// dependency (the permits, which the limit counts, are held by the slow one). It compares
/// that against a ceiling: the target, or `tolerance` × the learned no-load latency
/// (the baseline) when that is lower. Above the ceiling the limit shrinks in proportion
/// (at most by half); in the lower half between the baseline and the ceiling, and only if
/// demand pressed on the limit during the window, it grows by √limit; in the upper half it
/// holds. A window in which
/// nothing had to wait brings the limit down to 1.5 × the most in flight plus 2: a limit far
/// above demand would let a burst of requests into a dependency that just slowed, all
/// stuck behind each other before the first of them could report it. This is a latency
/// gradient in the spirit of Vegas and Gradient2: queueing inside handlers shows as latency
/// rising over the baseline before it reaches the target.
///
/// The baseline is the lowest window median seen. A dependency that slows for good would
/// leave it stale and pin the limit at its minimum, so a shrink that does not lower latency
/// (the limit fell by a quarter, latency by less than a tenth) proves the latency is not
/// queueing: the baseline is relearned from the current window. A server that was saturated
/// from its start never saw its no-load latency, so every `probeWindows` windows under
/// pressure the limit drops to a quarter for one window (Vegas's probe): latency then falls
/// to the baseline, or the failed shrink relearns it. A quarter, because with a tolerance of 2
/// a halving probe could find latency halved at every level and never reach the floor.
struct LatencyLimiter {
    struct Snapshot: Sendable, Equatable {
        var limit: Int
        /// The learned no-load latency; zero until measured.
        var baselineNanos: UInt64
        /// The last window's 90th percentile.
        var latencyNanos: UInt64
        var increases: Int
        var decreases: Int
    }

    private static let sampleCapacity = 256
    /// A window closes after this many intervals however few its samples.
    private static let longestWindow: UInt64 = 10
    private static let probeWindows = 100

    let settings: AdaptiveConcurrency
    private(set) var limit: Int
    private var samples: [UInt64] = []
    private var sampleCount = 0
    private var sampledNanos: UInt64 = 0
    private var windowStart: UInt64?
    private var pressed = false
    private var baseline: UInt64 = 0
    private var lastLatency: UInt64 = 0
    /// The limit and latency before the last shrink, until the shrink is judged.
    private var pendingShrink: (limit: Int, latency: UInt64)?
    /// The first probe comes early: a server saturated from its start has not seen its baseline.
    private var windowsSinceProbe = probeWindows - 10
    private var peakInFlight = 0
    /// When the limit last moved: only requests that started after it judge the new limit.
    private var lastChange: UInt64 = 0
    private var increases = 0
    private var decreases = 0
    private let target: UInt64
    private let interval: UInt64

    init(_ settings: AdaptiveConcurrency) {
        precondition(settings.isValid, "invalid adaptive concurrency settings")
        self.settings = settings
        self.limit = settings.initialLimit
        self.target = settings.targetLatency.nanoseconds
        self.interval = settings.interval.nanoseconds
        samples.reserveCapacity(Self.sampleCapacity)
    }

    var snapshot: Snapshot {
        Snapshot(limit: limit, baselineNanos: baseline, latencyNanos: lastLatency, increases: increases, decreases: decreases)
    }

    /// Notes that a request had to wait or was refused: demand exceeds the limit.
    mutating func notePressure() { pressed = true }

    /// Adds one handler latency, with the permits in flight when it ended (its own included);
    /// returns true when the limit moved.
    mutating func record(latencyNanos: UInt64, now: UInt64, inFlight: Int) -> Bool {
        peakInFlight = max(peakInFlight, inFlight)
        // A request admitted under an earlier limit says nothing of this one; judging by it
        // would shrink again and again while the old requests drain, and grow before the
        // last increase showed its effect.
        if now &- latencyNanos < lastChange { return false }
        // The first window starts when its first request did; later ones where the last closed.
        let start = windowStart ?? (now &- latencyNanos)
        windowStart = start
        if samples.count < Self.sampleCapacity {
            samples.append(latencyNanos)
        } else {
            samples[sampleCount % Self.sampleCapacity] = latencyNanos
        }
        sampleCount += 1
        sampledNanos &+= latencyNanos
        let elapsed = now &- start
        let representative = sampledNanos >= UInt64(max(1, peakInFlight)) * interval / 2
        guard (elapsed >= interval && representative) || elapsed >= Self.longestWindow * interval else { return false }
        return closeWindow(now: now)
    }

    private mutating func closeWindow(now: UInt64) -> Bool {
        samples.sort()
        let p90 = Self.timeWeightedQuantile(samples, 0.9)
        let median = Self.timeWeightedQuantile(samples, 0.5)
        let wasPressed = pressed
        let peak = peakInFlight
        peakInFlight = 0
        samples.removeAll(keepingCapacity: true)
        sampleCount = 0
        sampledNanos = 0
        windowStart = now
        pressed = false
        relearnBaselineIfShrinkFailed(latency: p90, median: median)
        if baseline == 0 || median < baseline { baseline = median }
        lastLatency = p90
        let moved = adjust(latency: p90, pressed: wasPressed, peakInFlight: peak)
        if moved { lastChange = now }
        return moved
    }

    /// The smallest sample at which the running sum of sorted samples reaches `fraction` of their total.
    private static func timeWeightedQuantile(_ sorted: [UInt64], _ fraction: Double) -> UInt64 {
        let total = sorted.reduce(0.0) { $0 + Double($1) }
        var sum = 0.0
        for sample in sorted {
            sum += Double(sample)
            if sum >= total * fraction { return sample }
        }
        return sorted[sorted.count - 1]
    }

    private mutating func relearnBaselineIfShrinkFailed(latency: UInt64, median: UInt64) {
        guard let shrink = pendingShrink else { return }
        pendingShrink = nil
        if limit * 4 <= shrink.limit * 3 && latency * 10 > shrink.latency * 9 { baseline = median }
    }

    private mutating func shrank(from before: Int, latency: UInt64) {
        guard limit < before else { return }
        decreases += 1
        pendingShrink = (before, latency)
    }

    /// The latency above which handlers are taken to be queueing. Below 5% of the target,
    /// a rise over the baseline is noise (a 50 µs handler seen at 120 µs), not queueing.
    private var ceiling: UInt64 {
        guard baseline > 0 else { return target }
        let fromBaseline = max(UInt64(Double(baseline) * settings.tolerance), baseline + target / 20)
        return min(target, fromBaseline)
    }

    private mutating func adjust(latency: UInt64, pressed: Bool, peakInFlight: Int) -> Bool {
        let before = limit
        let ceiling = self.ceiling
        windowsSinceProbe += 1
        if pressed && windowsSinceProbe >= Self.probeWindows {
            windowsSinceProbe = 0
            limit = max(settings.minLimit, limit / 4)
            shrank(from: before, latency: latency)
        } else if latency > ceiling {
            let factor = max(0.5, Double(ceiling) / Double(latency))
            limit = max(settings.minLimit, min(limit - 1, Int(Double(limit) * factor)))
            shrank(from: before, latency: latency)
        } else if pressed && latency <= baseline + (ceiling - min(ceiling, baseline)) / 2 {
            // Grow only in the lower half between the baseline and the ceiling; the upper half
            // is a dead band, so that the limit settles below the ceiling instead of bouncing
            // off it (each bounce lets a round of requests queue in the dependency).
            limit = min(settings.maxLimit, limit + max(1, Int(Double(limit).squareRoot())))
            if limit > before { increases += 1 }
        } else if limit > peakInFlight * 3 / 2 + 2 {
            limit = max(settings.minLimit, peakInFlight * 3 / 2 + 2)
            if limit < before { decreases += 1 }
        }
        return limit != before
    }
}
