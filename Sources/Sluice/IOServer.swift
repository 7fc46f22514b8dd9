import CSluiceIO

/// Owns the shim's server: its creation, start, stop and destruction, and the callbacks
/// that route its events to the dispatcher.
final class IOServer: @unchecked Sendable {
    // @unchecked: `raw` is a C handle. The calls made on it from several threads
    // (stop_accepting, counters) are documented thread-safe; start, shutdown and
    // destroy are made by the one task that runs the server.
    private let raw: OpaquePointer
    private let dispatcherReference: Unmanaged<Dispatcher>
    let executors: [LoopExecutor]

    init(configuration: Configuration, dispatcher: Dispatcher) throws {
        try Self.validate(configuration)
        dispatcherReference = Unmanaged.passRetained(dispatcher)
        var callbacks = sluice_io_callbacks()
        callbacks.context = dispatcherReference.toOpaque()
        callbacks.on_request = Self.onRequest
        callbacks.on_request_aborted = Self.onRequestAborted
        callbacks.release_request_context = Self.releaseRequestContext
        callbacks.on_loop_drained = Self.onLoopDrained
        callbacks.on_request_timer = Self.onRequestTimer
        callbacks.run_job = LoopExecutor.runJob
        if dispatcher.router.plansBodies { callbacks.plan_body = Self.planBody }
        callbacks.on_body = Self.onBody
        callbacks.on_response_written = Self.onResponseWritten
        callbacks.refusal_id = Self.refusalID
        var created: OpaquePointer?
        let rc = configuration.host.withCString { host in
            var options = sluice_io_options()
            options.host = host
            options.port = Int32(configuration.port)
            options.io_threads = Int32(configuration.ioThreads)
            options.max_request_line = configuration.maxRequestLineBytes
            options.max_header_bytes = configuration.maxHeaderBytes
            options.max_header_fields = configuration.maxHeaderCount
            options.max_body_bytes = UInt64(configuration.maxBodyBytes)
            options.header_timeout_ms = configuration.headerTimeout.milliseconds
            options.idle_timeout_ms = configuration.idleTimeout.milliseconds
            options.max_connections = Int32(configuration.maxConnections)
            options.write_high_water = configuration.writeHighWaterBytes
            return sluice_io_server_create(&created, &options, &callbacks)
        }
        guard rc == 0, let created else {
            dispatcherReference.release()
            throw SluiceError(.io, "cannot create the server: \(Self.message(rc))", ioError: rc)
        }
        raw = created
        executors = (0..<configuration.ioThreads).map { index in
            let executor = LoopExecutor(loop: sluice_io_server_loop(created, Int32(index)))
            // The loop holds its executor until the server is destroyed.
            sluice_io_loop_set_executor_context(executor.loop, Unmanaged.passRetained(executor).toOpaque())
            return executor
        }
    }

    deinit {
        sluice_io_server_destroy(raw)
        for executor in executors { Unmanaged.passUnretained(executor).release() }
        dispatcherReference.release()
    }

    private static func validate(_ c: Configuration) throws {
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw SluiceError(.invalidConfiguration, "invalid configuration: \(what)") }
        }
        try check((0...65535).contains(c.port), "port must be 0...65535")
        try check((1...64).contains(c.ioThreads), "ioThreads must be 1...64")
        try check(c.maxRequestLineBytes >= 16, "maxRequestLineBytes must be at least 16")
        try check(c.maxHeaderBytes >= 64, "maxHeaderBytes must be at least 64")
        try check(c.maxHeaderCount >= 1, "maxHeaderCount must be at least 1")
        try check(c.maxBodyBytes >= 0, "maxBodyBytes cannot be negative")
        try check(c.bodyWindowBytes >= 1, "bodyWindowBytes must be at least 1")
        try check(c.writeHighWaterBytes >= 1, "writeHighWaterBytes must be at least 1")
        try check(c.maxConnections >= 1 && c.maxConnections <= Int(Int32.max), "maxConnections must be at least 1")
        try check(c.maxConcurrency >= 1, "maxConcurrency must be at least 1")
        try check(c.maxQueue >= 0, "maxQueue cannot be negative")
        try check(c.headerTimeout > .zero && c.idleTimeout > .zero, "timeouts must be positive")
        try check(c.queueTimeout > .zero && c.handlerTimeout > .zero, "queueTimeout and handlerTimeout must be positive")
        try check(c.retryAfterSeconds >= 0, "retryAfterSeconds cannot be negative")
        try check(c.overloadStatus == 503 || c.overloadStatus == 429, "overloadStatus must be 503 or 429")
        try check(c.adaptiveConcurrency?.isValid ?? true,
                  "adaptiveConcurrency needs 1 <= minLimit <= initialLimit <= maxLimit, a positive target and interval, tolerance >= 1")
    }

    static func message(_ code: Int32) -> String {
        String(cString: sluice_io_strerror(code))
    }

    func start() throws {
        let rc = sluice_io_server_start(raw)
        if rc != 0 { throw SluiceError(.listenFailed, "cannot listen: \(Self.message(rc))", ioError: rc) }
    }

    var port: Int { Int(sluice_io_server_port(raw)) }

    func stopAccepting() { sluice_io_server_stop_accepting(raw) }

    func shutdown() { sluice_io_server_shutdown(raw) }

    // MARK: Callbacks from the loop threads

    private static let onRequest: @convention(c) (
        UnsafeMutableRawPointer?, Int32, OpaquePointer?, UnsafePointer<sluice_io_request_view>?
    ) -> Void = { context, loopIndex, request, view in
        guard let context, let request, let view else { return }
        let dispatcher = Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue()
        dispatcher.accept(loopIndex: Int(loopIndex), raw: request, view: view.pointee)
    }

    private static let onRequestAborted: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = {
        _, requestContext in
        guard let requestContext else { return }
        Unmanaged<PendingRequest>.fromOpaque(requestContext).takeUnretainedValue().markClientLeft()
    }

    private static let releaseRequestContext: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = {
        _, requestContext in
        guard let requestContext else { return }
        Unmanaged<PendingRequest>.fromOpaque(requestContext).release()
    }

    private static let onRequestTimer: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = {
        context, requestContext in
        guard let context, let requestContext else { return }
        let pending = Unmanaged<PendingRequest>.fromOpaque(requestContext).takeUnretainedValue()
        Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue().timerExpired(pending)
    }

    private static let planBody: @convention(c) (
        UnsafeMutableRawPointer?, Int32, UnsafePointer<sluice_io_request_view>?, UnsafeMutablePointer<Int32>?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> UInt64 = { context, _, view, stream, planned in
        guard let context, let view else { return 0 }
        let plan = Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue().planBody(view.pointee)
        stream?.pointee = plan.streams ? 1 : 0
        // Unretained: the router holds its routes for as long as the server lives.
        planned?.pointee = plan.route.map { Unmanaged.passUnretained($0).toOpaque() }
        return UInt64(max(0, plan.limit))
    }

    private static let onBody: @convention(c) (
        UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, Int32
    ) -> Void = { context, requestContext, data, count, status in
        guard let context, let requestContext else { return }
        let pending = Unmanaged<PendingRequest>.fromOpaque(requestContext).takeUnretainedValue()
        Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue()
            .bodyEvent(pending, UnsafeBufferPointer(start: data, count: data == nil ? 0 : count), status: status)
    }

    private static let onResponseWritten: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int) -> Void = {
        _, requestContext, count in
        guard let requestContext else { return }
        Unmanaged<PendingRequest>.fromOpaque(requestContext).takeUnretainedValue().streamWritten(count)
    }

    /// The id of an answer the shim gives by itself (a parse refusal, a 408, a 413): the
    /// client's own when it is safe to echo, else a fresh one, as for any other answer.
    private static let refusalID: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int,
                                                  UnsafeMutablePointer<CChar>?, Int) -> Int = {
        _, client, clientLength, out, capacity in
        guard let out else { return 0 }
        /// Writes id into out when it fits; its length, else 0 (no id).
        func give(_ id: UnsafeBufferPointer<UInt8>) -> Int {
            guard let base = id.baseAddress, id.count <= capacity else { return 0 }
            UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: id.count)
            return id.count
        }
        if let client {
            let bytes = UnsafeRawPointer(client).bindMemory(to: UInt8.self, capacity: clientLength)
            let clientID = UnsafeBufferPointer(start: bytes, count: clientLength)
            if RequestID.isAcceptable(clientID) {
                let given = give(clientID)
                if given > 0 { return given }  // too long for out: a fresh one instead
            }
        }
        var id = RequestID.make()
        return id.withUTF8(give)
    }

    private static let onLoopDrained: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Void = { context, _ in
        guard let context else { return }
        Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue().loopDrained()
    }
}
