import CSluiceAPI
import Logging
import Sluice

#if canImport(Glibc)
import Glibc
#endif

// Server entry points of Include/sluice.h. Each is thin: check, convert, call, map errors.

@_cdecl("sluice_version")
public func sluiceVersion() -> UnsafePointer<CChar> {
    StaticString("0.1.0").utf8Start.withMemoryRebound(to: CChar.self, capacity: 6) { $0 }
}

@_cdecl("sluice_strerror")
public func sluiceStrerror(_ error: Int32) -> UnsafePointer<CChar> {
    ErrorCode.message(error).utf8Start.withMemoryRebound(to: CChar.self, capacity: 1) { $0 }
}

@_cdecl("sluice_server_create")
public func sluiceServerCreate(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ options: UnsafePointer<sluice_server_options>?) -> Int32 {
    guard let out else { return ErrorCode.invalid }
    var given = sluice_server_options()
    given.size = 0
    if let options {
        guard let read = readServerOptions(options) else { return ErrorCode.invalid }
        given = read
    }
    guard let configuration = Configuration(cOptions: options == nil ? nil : given) else { return ErrorCode.invalid }
    let poolSize = options == nil ? 4 : Int(given.blocking_pool_size)
    guard poolSize >= 1 && poolSize <= 1024 else { return ErrorCode.invalid }
    let server = CServer(configuration: configuration, blockingPoolSize: poolSize)
    out.pointee = OpaquePointer(Unmanaged.passRetained(server).toOpaque())
    return ErrorCode.ok
}

/// The options as given, from a struct of this header's version or an earlier one: fields
/// past the caller's size take their defaults. nil for a size smaller than any version's.
private func readServerOptions(_ options: UnsafePointer<sluice_server_options>) -> sluice_server_options? {
    let size = options.pointee.size
    if size >= MemoryLayout<sluice_server_options>.size { return options.pointee }
    // The first version ended with retry_after_seconds.
    guard let logLevelOffset = MemoryLayout<sluice_server_options>.offset(of: \.log_level), size >= logLevelOffset
    else { return nil }
    var given = sluice_server_options()
    withUnsafeMutableBytes(of: &given) { copy in
        copy.copyMemory(from: UnsafeRawBufferPointer(start: UnsafeRawPointer(options), count: logLevelOffset))
    }
    given.log_level = SLUICE_LOG_INFO
    return given
}

@_cdecl("sluice_server_destroy")
public func sluiceServerDestroy(_ handle: OpaquePointer?) {
    guard let server = CServer.from(handle) else { return }
    server.stop()
    if !server.isConfiguring { server.waitUntilStopped() }
    Unmanaged.passUnretained(server).release()
}

@_cdecl("sluice_server_add_route")
public func sluiceServerAddRoute(
    _ handle: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ pattern: UnsafePointer<CChar>?,
    _ handler: (@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void)?, _ userData: UnsafeMutableRawPointer?,
    _ options: UnsafePointer<sluice_route_options>?
) -> Int32 {
    guard let server = CServer.from(handle), let method = CString.read(method), let pattern = CString.read(pattern),
        let handler, !method.isEmpty
    else { return ErrorCode.invalid }
    var routeOptions = sluice_route_options(size: MemoryLayout<sluice_route_options>.size, gate_limit: 0, gate_name: nil,
                                            weight: 1, timeout_ms: 0, blocking: 0, monitoring: 0,
                                            priority: SLUICE_PRIORITY_DEFAULT, share_percent: 0, share_name: nil,
                                            stream_body: 0, max_body_bytes: 0)
    if let options {
        guard options.pointee.size >= MemoryLayout<sluice_route_options>.size, options.pointee.gate_limit >= 0,
            options.pointee.weight >= 1, (SLUICE_PRIORITY_DEFAULT...SLUICE_PRIORITY_CRITICAL).contains(options.pointee.priority),
            (0...100).contains(options.pointee.share_percent)
        else { return ErrorCode.invalid }
        routeOptions = options.pointee
    }
    guard method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return ErrorCode.invalid }
    return server.addRoute(method: method, pattern: pattern, handler: handler, userData: userData, options: routeOptions)
}

@_cdecl("sluice_server_set_classifier")
public func sluiceServerSetClassifier(
    _ handle: OpaquePointer?, _ classify: (@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32)?,
    _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let server = CServer.from(handle) else { return ErrorCode.invalid }
    return server.setClassifier(classify, userData: userData)
}

@_cdecl("sluice_server_set_hooks")
public func sluiceServerSetHooks(
    _ handle: OpaquePointer?, _ before: (@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32)?,
    _ after: (@convention(c) (OpaquePointer?, Int32, Int, UInt64, UnsafeMutableRawPointer?) -> Void)?,
    _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let server = CServer.from(handle) else { return ErrorCode.invalid }
    return server.setHooks(Hooks(before: before, after: after, userData: userData))
}

@_cdecl("sluice_server_start")
public func sluiceServerStart(_ handle: OpaquePointer?, _ outPort: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let server = CServer.from(handle) else { return ErrorCode.invalid }
    let (code, port) = server.start()
    if code == ErrorCode.ok { outPort?.pointee = Int32(port) }
    return code
}

@_cdecl("sluice_server_run")
public func sluiceServerRun(_ handle: OpaquePointer?) -> Int32 {
    guard let server = CServer.from(handle) else { return ErrorCode.invalid }
    if server.isConfiguring {
        let (code, _) = server.start()
        if code != ErrorCode.ok { return code }
    }
    server.waitUntilStopped()
    return ErrorCode.ok
}

@_cdecl("sluice_server_stop")
public func sluiceServerStop(_ handle: OpaquePointer?) -> Int32 {
    guard let server = CServer.from(handle) else { return ErrorCode.invalid }
    server.stop()
    return ErrorCode.ok
}

@_cdecl("sluice_server_stats")
public func sluiceServerStats(_ out: UnsafeMutablePointer<sluice_stats>?, _ handle: OpaquePointer?) -> Int32 {
    guard let out, let server = CServer.from(handle), out.pointee.size >= MemoryLayout<sluice_stats>.size else {
        return ErrorCode.invalid
    }
    let stats = server.stats
    out.pointee.in_flight = UInt64(stats?.inFlight ?? 0)
    out.pointee.max_in_flight = UInt64(stats?.maxInFlight ?? 0)
    out.pointee.queued = UInt64(stats?.queued ?? 0)
    out.pointee.completed = UInt64(stats?.completed ?? 0)
    out.pointee.rejected = UInt64(stats?.rejected ?? 0)
    out.pointee.timed_out = UInt64(stats?.timedOut ?? 0)
    out.pointee.cancelled = UInt64(stats?.cancelled ?? 0)
    out.pointee.errors = UInt64(stats?.errors ?? 0)
    out.pointee.limit = UInt64(stats?.limit ?? server.configuredLimit)
    out.pointee.baseline_latency_us = stats?.adaptive?.baselineLatency.microseconds ?? 0
    out.pointee.latency_us = stats?.adaptive?.latency.microseconds ?? 0
    out.pointee.limit_increases = UInt64(stats?.adaptive?.increases ?? 0)
    out.pointee.limit_decreases = UInt64(stats?.adaptive?.decreases ?? 0)
    let shed = RequestPriority.allCases.map { UInt64(stats?.shed[$0] ?? 0) }
    out.pointee.shed = (shed[0], shed[1], shed[2], shed[3])
    return ErrorCode.ok
}

extension Duration {
    /// Whole microseconds, for the C structs' `_us` fields; 0 for a negative duration.
    var microseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds)) / 1_000_000_000_000
    }
}

@_cdecl("sluice_server_gate_stats")
public func sluiceServerGateStats(_ out: UnsafeMutablePointer<sluice_gate_stats>?, _ handle: OpaquePointer?,
                                  _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let out, let server = CServer.from(handle), let name = CString.read(name),
        out.pointee.size >= MemoryLayout<sluice_gate_stats>.size
    else { return ErrorCode.invalid }
    guard let gate = server.gate(named: name) else { return ErrorCode.notFound }
    let snapshot = gate.snapshot
    out.pointee.limit = UInt64(snapshot.limit)
    out.pointee.in_flight = UInt64(snapshot.inFlight)
    out.pointee.max_in_flight = UInt64(snapshot.maxInFlight)
    out.pointee.queued = UInt64(snapshot.queued)
    return ErrorCode.ok
}

extension Configuration {
    /// The configuration of C options; nil when one is out of range.
    init?(cOptions options: sluice_server_options?) {
        self.init()
        // C programs cannot bootstrap swift-log: the server logs to stderr itself, never blocking.
        guard let o = options else {
            logger = Self.stderrLogger(.info)
            return
        }
        guard let host = CString.read(o.host), o.port >= 0, o.port <= 65535, o.io_threads >= 1, o.io_threads <= 64,
            o.max_connections >= 1, o.max_concurrency >= 1, o.max_queue >= 0, o.max_request_line >= 16,
            o.max_header_bytes >= 64, o.max_header_count >= 1, o.header_timeout_ms > 0, o.idle_timeout_ms > 0,
            o.queue_timeout_ms > 0, o.handler_timeout_ms > 0, o.max_body_bytes <= UInt64(Int.max),
            o.overload_status == 503 || o.overload_status == 429, o.retry_after_seconds >= 1,
            let level = CLogLevel.from(o.log_level),
            o.adaptive == 0 || (o.adaptive_min_limit >= 1 && o.adaptive_min_limit <= o.max_concurrency && o.adaptive_target_ms > 0)
        else { return nil }
        self.host = host
        port = Int(o.port)
        ioThreads = Int(o.io_threads)
        maxConnections = Int(o.max_connections)
        maxRequestLineBytes = o.max_request_line
        maxHeaderBytes = o.max_header_bytes
        maxHeaderCount = o.max_header_count
        maxBodyBytes = Int(o.max_body_bytes)
        headerTimeout = .milliseconds(Int64(clamping: o.header_timeout_ms))
        idleTimeout = .milliseconds(Int64(clamping: o.idle_timeout_ms))
        maxConcurrency = Int(o.max_concurrency)
        maxQueue = Int(o.max_queue)
        queueTimeout = .milliseconds(Int64(clamping: o.queue_timeout_ms))
        handlerTimeout = .milliseconds(Int64(clamping: o.handler_timeout_ms))
        drainTimeout = .milliseconds(Int64(clamping: o.drain_timeout_ms))
        overloadStatus = Int(o.overload_status)
        retryAfterSeconds = Int(o.retry_after_seconds)
        logger = Self.stderrLogger(level)
        if o.adaptive != 0 {
            let minLimit = Int(o.adaptive_min_limit)
            adaptiveConcurrency = AdaptiveConcurrency(
                minLimit: minLimit, maxLimit: maxConcurrency, initialLimit: min(maxConcurrency, max(minLimit, 16)),
                targetLatency: .milliseconds(Int64(clamping: o.adaptive_target_ms)))
        }
    }
}

extension Configuration {
    /// The server's logger for C programs: StderrLogHandler at `level`, or no output at all.
    fileprivate static func stderrLogger(_ level: Logger.Level?) -> Logger {
        guard let level else { return Logger(label: "sluice") { _ in SwiftLogNoOpLogHandler() } }
        var logger = Logger(label: "sluice") { label in StderrLogHandler(label: label, logLevel: level) }
        logger.logLevel = level
        return logger
    }
}
