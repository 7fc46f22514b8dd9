import CSluiceIO

/// The loop side: the shim's callbacks for a request that arrived and for its body (planned
/// when the head arrives, streamed in after the request is handed over). Each runs on the
/// request's loop thread.
extension Dispatcher {
    /// Copies a request out of the shim's buffers, routes it, and queues it for a task.
    func accept(loopIndex: Int, raw: OpaquePointer, view: sluice_io_request_view) {
        let bodyStream = view.body_streamed != 0 ? RequestBodyStream(window: bodyWindowBytes) : nil
        let method = RequestDecoder.method(view)
        let match: Router.Match
        let path: String
        if let plan = view.plan {
            // A request with a body was routed when its head arrived (planBody).
            match = .found(Unmanaged<Route>.fromOpaque(plan).takeUnretainedValue(), [:])
            path = RequestDecoder.path(view)
        } else {
            (match, path) = router.match(method: method, pathBytes: RequestDecoder.pathBytes(view))
        }
        guard case .found(let route, let parameters) = match else {
            refuseUnrouted(match, view: view, method: method, path: path, bodyStream: bodyStream, loopIndex: loopIndex, raw: raw)
            return
        }
        let pending = PendingRequest(raw: raw, view: view, method: method, path: path, bodyStream: bodyStream, route: route,
                                     parameters: parameters, loopIndex: loopIndex)
        pending.priority = priorityClassifier?(pending) ?? route.options.priority ?? .normal
        sluice_io_request_set_context(raw, Unmanaged.passRetained(pending).toOpaque())
        bodyStream?.connect { [weak pending] credit in pending?.grantBody(credit) }
        if !queues[loopIndex].push(pending) {
            respond(pending, unavailable("server is shutting down", requestID: pending.request.id))
        }
    }

    /// Answers a request no route takes: 404, 405, 501, or the server's `OPTIONS` (for `*` or
    /// a path that routes other methods).
    @inline(never)
    private func refuseUnrouted(_ match: Router.Match, view: sluice_io_request_view, method: HTTPMethod, path: String,
                                bodyStream: RequestBodyStream?, loopIndex: Int, raw: OpaquePointer) {
        let request = PendingRequest(raw: raw, view: view, method: method, path: path, bodyStream: bodyStream, route: nil,
                                     parameters: [:], loopIndex: loopIndex)
        let refusal: Response
        switch match {
        case .found:
            preconditionFailure("a routed request is not refused")
        case .methodNotAllowed(let allowed) where request.method == .options:
            refusal = Self.options(allowing: allowed)
        case .methodNotAllowed(let allowed):
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: Self.allowValue(allowed))
            refusal = errorResponse(HTTPError(405, headers: headers), requestID: request.id)
        case .notFound:
            refusal = errorResponse(HTTPError(404), requestID: request.id)
        case .notImplemented:
            refusal = errorResponse(HTTPError(501, message: "method not implemented"), requestID: request.id)
        case .serverOptions(let methods):
            refusal = Self.options(allowing: methods)
        }
        sluice_io_request_set_context(raw, Unmanaged.passRetained(request).toOpaque())
        respond(request, refusal)
    }

    /// The server's answer to `OPTIONS`: 204 with `Allow`.
    private static func options(allowing methods: [HTTPMethod]) -> Response {
        var response = Response(status: 204)
        response.headers.add(name: "Allow", value: allowValue(methods))
        return response
    }

    /// `Allow` for routes taking `methods`: HEAD is served by every GET route, and OPTIONS by
    /// the server itself.
    private static func allowValue(_ methods: [HTTPMethod]) -> String {
        var names = Set(methods.map(\.rawValue)).union(["OPTIONS"])
        if methods.contains(.get) { names.insert("HEAD") }
        return names.sorted().joined(separator: ", ")
    }

    /// A head with a body arrived: its route's body limit, whether the route streams it, and
    /// the route itself when it has no parameters (handed back in the request's view, so that
    /// `accept` does not route the request again). Loop thread.
    func planBody(_ view: sluice_io_request_view) -> (limit: Int, streams: Bool, route: Route?) {
        let method = RequestDecoder.method(view)
        guard case .found(let route, let parameters) = router.match(method: method, pathBytes: RequestDecoder.pathBytes(view)).match else {
            // A client waiting for 100 (Continue) is refused at once rather than invited to
            // send a body that no route takes; its connection then closes (the body's bytes
            // may still come).
            return (configuration.maxBodyBytes, view.awaits_continue != 0, nil)
        }
        return (route.options.maxBodyBytes ?? configuration.maxBodyBytes, route.options.streamsBody,
                parameters.isEmpty ? route : nil)
    }

    /// A piece, the end or the failure of a streamed body. Loop thread.
    func bodyEvent(_ pending: PendingRequest, _ data: UnsafeBufferPointer<UInt8>, status: Int32) {
        guard let stream = pending.request.bodyStream else { return }
        switch status {
        case SLUICE_IO_BODY_DATA:
            stream.receive(Array(data))
        case SLUICE_IO_BODY_END:
            stream.finish()
        default:
            let code = Int(-status)
            let message = switch code {
            case 413: "request body too large"
            case 408: "request body timed out: no byte within the header timeout"
            default: "malformed request body"
            }
            let error = HTTPError(code, message: message)
            stream.fail(error)
            // Answered now, whatever the handler does: the rest of the body cannot be read.
            pending.endStream(trailers: [], abort: true)
            respond(pending, errorResponse(error, requestID: pending.request.id))
        }
    }
}
