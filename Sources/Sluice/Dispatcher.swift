import CSluiceIO
import Synchronization

/// The engine's side of the shim: turns requests from the loops into child tasks that pass
/// the gate, run their handler, and answer.
///
/// The C callbacks land here on a loop thread. Requests go to that loop's queue, whose
/// consumer task (preferring the loop's executor) starts one child task per request.
final class Dispatcher: Sendable {
    let configuration: Configuration
    let router: Router
    let gate: Gate
    let queues: [RequestQueue]
    let stats = EngineStats()
    let drained: OneShotSignal
    private let drainedLoops = Atomic<Int>(0)

    init(configuration: Configuration, router: Router) {
        self.configuration = configuration
        self.router = router
        self.gate = Gate(limit: configuration.maxConcurrency, maxQueue: configuration.maxQueue)
        self.queues = (0..<configuration.ioThreads).map { _ in RequestQueue() }
        self.drained = OneShotSignal()
    }

    // MARK: Loop-side intake

    /// Copies a request out of the shim's buffers, routes it, and queues it for a task.
    func accept(loopIndex: Int, raw: OpaquePointer, view: sluice_io_request_view) {
        let request = RequestDecoder.decode(view)
        let route: Route?
        let parameters: [String: String]
        var refusal: Response?
        switch router.match(method: request.method, path: request.path) {
        case .found(let found, let foundParameters):
            (route, parameters) = (found, foundParameters)
        case .methodNotAllowed(let allowed):
            (route, parameters) = (nil, [:])
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: Set(allowed.map(\.rawValue)).sorted().joined(separator: ", "))
            refusal = errorResponse(HTTPError(405, headers: headers), requestID: request.id)
        case .notFound:
            (route, parameters) = (nil, [:])
            refusal = errorResponse(HTTPError(404), requestID: request.id)
        }
        let pending = PendingRequest(raw: raw, request: request, route: route, parameters: parameters, loopIndex: loopIndex)
        sluice_io_request_set_context(raw, Unmanaged.passRetained(pending).toOpaque())
        if let refusal {
            respond(pending, refusal)
        } else if !queues[loopIndex].push(pending) {
            respond(pending, errorResponse(HTTPError(503, message: "server is shutting down"), requestID: request.id))
        }
    }

    // MARK: Handling, in a child task

    /// Passes the gate, runs the handler and answers; every path answers exactly once.
    func handle(_ pending: PendingRequest) async {
        guard let route = pending.route else { return }
        pending.attachCurrentTask()
        defer { pending.detachTask() }
        do {
            try await gate.acquire()
        } catch {
            stats.rejected.add(1, ordering: .relaxed)
            answerRefused(pending, error: error)
            return
        }
        let response = await runHandler(route, pending)
        gate.release()
        if let response {
            respond(pending, response)
        } else {
            respondDrop(pending)
        }
    }

    /// Runs the handler; nil when the client left and the handler gave up because of it.
    private func runHandler(_ route: Route, _ pending: PendingRequest) async -> Response? {
        let request = pending.request
        let context = RequestContext(requestID: request.id, parameters: pending.parameters)
        do {
            let response = try await route.handler(request, context)
            stats.completed.add(1, ordering: .relaxed)
            return response
        } catch let error as HTTPError {
            stats.completed.add(1, ordering: .relaxed)
            return errorResponse(error, requestID: request.id)
        } catch {
            if pending.clientLeft {
                stats.cancelled.add(1, ordering: .relaxed)
                return nil
            }
            stats.errors.add(1, ordering: .relaxed)
            return errorResponse(HTTPError(500), requestID: request.id)
        }
    }

    private func answerRefused(_ pending: PendingRequest, error: any Error) {
        if pending.clientLeft {
            respondDrop(pending)
            return
        }
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "1")
        let message = error is CancellationError ? "server is shutting down" : "server over capacity"
        respond(pending, errorResponse(HTTPError(503, message: message, headers: headers), requestID: pending.request.id))
    }

    // MARK: Answers

    func errorResponse(_ error: HTTPError, requestID: String) -> Response {
        var response = Response.json(JSON.errorBody(message: error.message, requestID: requestID), status: error.status)
        for field in error.headers { response.headers.add(name: field.name, value: field.value) }
        return response
    }

    func respond(_ pending: PendingRequest, _ response: Response) {
        guard let raw = pending.takeRaw() else { return }
        let encoded = ResponseHeadEncoder.encode(response, requestID: pending.request.id)
        let (status, flags) = encoded.valid ? (Int32(response.status), encoded.flags) : (500, 0)
        let body = encoded.valid ? response.body : Array(JSON.errorBody(message: "internal server error", requestID: pending.request.id).utf8)
        encoded.bytes.withUnsafeBufferPointer { head in
            body.withUnsafeBytes { body in
                head.withMemoryRebound(to: CChar.self) { head in
                    sluice_io_respond(raw, status, head.baseAddress, head.count, body.baseAddress, body.count, flags)
                }
            }
        }
    }

    func respondDrop(_ pending: PendingRequest) {
        guard let raw = pending.takeRaw() else { return }
        sluice_io_respond(raw, 0, nil, 0, nil, 0, SLUICE_IO_RESPOND_DROP)
    }

    // MARK: Draining

    func loopDrained() {
        let count = drainedLoops.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        if count == queues.count { drained.fire() }
    }

    func finishQueues() {
        for queue in queues { queue.finish() }
    }
}
