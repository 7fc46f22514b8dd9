/// The mean time a permit is held, smoothed over recent requests: with the limit, how fast a
/// full gate serves (Little's law), for the expected wait and for Retry-After.
///
/// Measuring served requests per second instead would measure demand whenever the gate is
/// not full, and after an idle spell would claim the gate is slow.
struct ServiceTime {
    /// Weight of the newest sample: about the last 30 requests count.
    private static let smoothing = 1.0 / 32
    /// Mean seconds per request; zero until measured.
    private(set) var meanSeconds: Double = 0

    mutating func record(latencyNanos: UInt64) {
        let seconds = Double(latencyNanos) / 1e9
        meanSeconds = meanSeconds == 0 ? seconds : meanSeconds + (seconds - meanSeconds) * Self.smoothing
    }

    /// Seconds until `permits` more permits are served by `limit` permits working at once;
    /// nil before anything was measured.
    func seconds(toServe permits: Int, limit: Int) -> Double? {
        meanSeconds > 0 ? Double(permits) * meanSeconds / Double(max(1, limit)) : nil
    }
}
