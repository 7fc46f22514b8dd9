import Logging

/// Everything a `Server` can be told: where to listen, its I/O threads, limits and timeouts.
public struct Configuration: Sendable {
    /// An IPv4 or IPv6 address to listen on.
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one (see `Server`'s `onServerRunning`).
    public var port: Int = 8080
    /// Event loops, each on its own thread (named `sluice-io-0`, `-1`, …) with its own SO_REUSEPORT listener.
    public var ioThreads: Int = 1

    /// Longest request-line; beyond it, 414.
    public var maxRequestLineBytes: Int = 8192
    /// Largest header section; beyond it, 431.
    public var maxHeaderBytes: Int = 16384
    /// Most header fields; beyond it, 431.
    public var maxHeaderCount: Int = 100
    /// Largest request body; beyond it, 413 (refused from Content-Length before reading).
    public var maxBodyBytes: Int = 1 << 20
    /// Time a client has to send a request head (and between reads of a body); then the connection closes.
    public var headerTimeout: Duration = .seconds(10)
    /// Time a keep-alive connection may stay idle between requests.
    public var idleTimeout: Duration = .seconds(5)
    /// Most open connections; beyond it, new connections are closed at once and counted.
    public var maxConnections: Int = 10_000
    /// Bytes of a streamed request body (`RouteOptions.streamsBody`) read ahead of the
    /// handler: the connection stops reading its socket while this much waits unread.
    public var bodyWindowBytes: Int = 256 * 1024
    /// Unsent response bytes above which a connection stops being read, and a streamed
    /// response's writer suspends.
    public var writeHighWaterBytes: Int = 256 * 1024

    /// Most handlers running at once, over all routes (permits: a route's weight each).
    /// With `adaptiveConcurrency` set, the limit moves instead, within its bounds.
    public var maxConcurrency: Int = 256
    /// An adaptive global limit driven by handler latency; nil (the default) for the fixed `maxConcurrency`.
    public var adaptiveConcurrency: AdaptiveConcurrency?
    /// Picks a request's priority before routing's handler runs; nil, or a nil result, leaves
    /// the route's priority (`RouteOptions.priority`, else `.normal`).
    public var priorityClassifier: PriorityClassifier?
    /// Most requests waiting for a slot when `maxConcurrency` handlers run; beyond, 503.
    public var maxQueue: Int = 1024
    /// Longest wait for a slot (global and route gates together); then 503, counted as rejected.
    public var queueTimeout: Duration = .seconds(5)
    /// A handler's deadline unless its route sets one; then 504 and the handler's task is cancelled.
    public var handlerTimeout: Duration = .seconds(30)
    /// The status of a request shed for capacity: 503 (the server's fault) or 429 (the client should slow down).
    public var overloadStatus: Int = 503
    /// `Retry-After` of a shed request is the time the queue takes to drain (its depth over
    /// the measured service rate), in whole seconds, at least 1; this is the value until
    /// anything was measured, and the one sent while shutting down.
    public var retryAfterSeconds: Int = 1
    /// Time graceful shutdown waits for requests to finish before cancelling them.
    public var drainTimeout: Duration = .seconds(10)
    /// Where the server logs: handler errors, timeouts and lifecycle, with the request id as metadata.
    public var logger = Logger(label: "sluice")

    public init() {}
}

extension Duration {
    var milliseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds)) / 1_000_000_000_000_000
    }
}
