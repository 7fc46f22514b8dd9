import CSluiceIO
import Logging
import Synchronization

/// The engine's side of the shim: turns requests from the loops into child tasks that pass
/// the gates, run their handler under a deadline, and answer.
///
/// The C callbacks land here on a loop thread. Requests go to that loop's queue, whose
/// consumer task (preferring the loop's executor) starts one child task per request. Those
/// tasks stay on the loop's thread; a route that runs off the loop hops only for its handler.
final class Dispatcher: StatsSource {
    let configuration: Configuration
    let router: Router
    let gate: Gate
    let routeGates: [Gate]
    /// Budget of each guaranteed share in the global gate (budget 0 is the shared rest).
    private let budgets: [ObjectIdentifier: Int]
    private let queueTimeout: Duration
    /// The routes' guaranteed shares add up to more than the whole budget.
    let sharesExceedBudget: Bool
    let shared: SharedState
    let queues: [RequestQueue]
    let stats = EngineStats()
    let drained = OneShotSignal()
    private let drainedLoops = Atomic<Int>(0)
    let logger: Logger
    /// Read on every request: kept here rather than read out of `configuration` each time.
    let bodyWindowBytes: Int
    let priorityClassifier: PriorityClassifier?

    init(configuration: Configuration, router: Router, shared: SharedState) {
        self.configuration = configuration
        self.router = router
        self.shared = shared
        self.logger = configuration.logger
        self.bodyWindowBytes = configuration.bodyWindowBytes
        self.priorityClassifier = configuration.priorityClassifier
        // Invalid settings build a working gate here; `run()` then refuses them with an error.
        var shares = router.shares
        self.sharesExceedBudget = !GuaranteedShare.fitInOneBudget(shares.map(\.fraction))
        if sharesExceedBudget { shares = [] }
        self.budgets = Dictionary(uniqueKeysWithValues: shares.enumerated().map { (ObjectIdentifier($1), $0 + 1) })
        self.gate = Gate(name: "global", limit: max(1, configuration.maxConcurrency), maxQueue: max(0, configuration.maxQueue),
                         adaptive: configuration.adaptiveConcurrency.flatMap { $0.isValid ? $0 : nil },
                         shares: shares.map(\.fraction))
        // An adaptive gate promises admitted requests their target: none waits past its share of it.
        if let adaptive = configuration.adaptiveConcurrency {
            self.queueTimeout = min(configuration.queueTimeout, adaptive.targetLatency * AdaptiveConcurrency.waitShare)
        } else {
            self.queueTimeout = configuration.queueTimeout
        }
        self.routeGates = router.gates
        self.queues = (0..<configuration.ioThreads).map { _ in RequestQueue() }
    }

    // MARK: Handling, in a child task

    private enum Outcome {
        case response(Response)
        /// Answered as it was written (`Response.stream`), with this status; its head went out at `headAt`.
        case streamed(Int, headAt: UInt64)
        case thrown(any Error)
    }

    /// The permits a request holds while its handler runs.
    private struct Admission {
        let weight: Int
        let budget: Int
        /// The route gate's occupancy when the request entered it; nil without a route gate.
        let occupancyOnEntry: Int?
    }

    /// How far free permits took a request.
    private enum FreeAdmission {
        case admitted(Admission)
        /// Its route gate has no free permit: it holds none.
        case waitAtRoute
        /// It holds its route gate's permit (if the route has a gate); the global one is not free.
        case waitAtGlobal(occupancyOnEntry: Int?)
    }

    /// Passes the gates, runs the handler and answers; every path answers exactly once.
    ///
    /// Kept small on purpose: everything live across an `await` here is in the task's async
    /// frame, and frames that outgrow the task allocator's first slab cost a malloc each.
    /// The synchronous steps are functions of their own.
    nonisolated(nonsending) func handle(_ pending: PendingRequest) async {
        guard let route = pending.route else { return }
        // The task is linked to the request (for cancellation) only where it may suspend.
        defer { pending.detachTask() }
        if route.options.isMonitoring {
            await handleMonitoring(route, pending)
            return
        }
        let admission: Admission
        switch tryAdmit(route, pending) {
        case .admitted(let free):
            admission = free
        case let partial:
            guard let waited = await admitByWaiting(route, pending, after: partial) else { return }
            admission = waited
        }
        let started = startHandler(route, pending)
        let outcome = await run(route, pending, occupancyOnEntry: admission.occupancyOnEntry)
        complete(route, pending, admission, started: started, outcome)
    }

    /// Takes the permits that are free without waiting, route gate first (a free permit is
    /// taken synchronously: waiting, an async call, is the exception).
    private func tryAdmit(_ route: Route, _ pending: PendingRequest) -> FreeAdmission {
        let weight = route.options.weight
        let budget = budget(of: route)
        var occupancyOnEntry: Int?
        if let routeGate = route.options.gate {
            occupancyOnEntry = routeGate.tryAcquire(weight: weight, priority: pending.priority, budget: 0)
            if occupancyOnEntry == nil { return .waitAtRoute }
        }
        if gate.tryAcquire(weight: weight, priority: pending.priority, budget: budget) == nil {
            return .waitAtGlobal(occupancyOnEntry: occupancyOnEntry)
        }
        return .admitted(Admission(weight: weight, budget: budget, occupancyOnEntry: occupancyOnEntry))
    }

    private func budget(of route: Route) -> Int {
        route.options.share.flatMap { budgets[ObjectIdentifier($0)] } ?? 0
    }

    /// Waits for the permits `tryAdmit` did not find free (`partial` says which); nil when
    /// refused (and answered).
    @inline(never) nonisolated(nonsending)
    private func admitByWaiting(_ route: Route, _ pending: PendingRequest, after partial: FreeAdmission) async -> Admission? {
        pending.attachCurrentTask()
        let weight = route.options.weight
        let budget = budget(of: route)
        var occupancyOnEntry: Int?
        var holdingRoutePermit = false
        switch partial {
        case .admitted(let admission): return admission
        case .waitAtRoute: break
        case .waitAtGlobal(let occupancy): (occupancyOnEntry, holdingRoutePermit) = (occupancy, true)
        }
        // Route gate first, then the global one: always this order, so gates cannot
        // deadlock, and a request queued at its route holds no global permit.
        if let routeGate = route.options.gate, !holdingRoutePermit {
            do {
                occupancyOnEntry = try await wait(pending, at: routeGate, weight: weight, budget: 0)
            } catch {
                refuse(pending, because: error, at: routeGate)
                return nil
            }
            if gate.tryAcquire(weight: weight, priority: pending.priority, budget: budget) != nil {
                return Admission(weight: weight, budget: budget, occupancyOnEntry: occupancyOnEntry)
            }
        }
        do {
            _ = try await wait(pending, at: gate, weight: weight, budget: budget)
        } catch {
            route.options.gate?.release(weight: weight)
            refuse(pending, because: error, at: gate)
            return nil
        }
        return Admission(weight: weight, budget: budget, occupancyOnEntry: occupancyOnEntry)
    }

    /// Arms the deadline and counts the handler in; returns when it started.
    private func startHandler(_ route: Route, _ pending: PendingRequest) -> UInt64 {
        let started = MonotonicClock.now()
        pending.startDeadline(route.options.timeout ?? configuration.handlerTimeout, startedAt: started)
        stats.handlerStarted()
        return started
    }

    /// Returns the permits, teaching the gates the handler's latency, and answers.
    private func complete(_ route: Route, _ pending: PendingRequest, _ admission: Admission, started: UInt64,
                          _ outcome: consuming Outcome) {
        let ended = MonotonicClock.now()
        // The latency the adaptive limit learns from ends when the answer is ready: a stream's
        // body lasts as long as its client reads, which says nothing of load. The service time
        // (for Retry-After) is how long the permits were held, stream included.
        var answered = ended
        if case .streamed(_, let headAt) = outcome { answered = headAt }
        if let moved = gate.release(weight: admission.weight, budget: admission.budget, latencyNanos: answered &- started,
                                    heldNanos: ended &- started, now: ended) {
            stats.limitMoved(moved)
        }
        // The route gate learns its service time too: its Retry-After is computed from it.
        route.options.gate?.release(weight: admission.weight, budget: 0, latencyNanos: answered &- started,
                                    heldNanos: ended &- started, now: ended)
        stats.handlerEnded()
        finish(pending, outcome)
    }

    /// A monitoring route: no gate, no accounting, a deadline all the same.
    @inline(never) nonisolated(nonsending) private func handleMonitoring(_ route: Route, _ pending: PendingRequest) async {
        pending.startDeadline(route.options.timeout ?? configuration.handlerTimeout, startedAt: MonotonicClock.now())
        let outcome = await run(route, pending, occupancyOnEntry: nil)
        if pending.deadlineExpired { return }
        switch outcome {
        case .response(let response): respond(pending, response)
        case .streamed: break
        case .thrown(let error as HTTPError): respond(pending, errorResponse(error, requestID: pending.request.id))
        case .thrown: pending.clientLeft ? respondDrop(pending) : respond(pending, errorResponse(HTTPError(500), requestID: pending.request.id))
        }
    }

    /// Queues at `gate` (after a failed tryAcquire) until admitted, refused or timed out.
    @inline(never) nonisolated(nonsending) private func wait(_ pending: PendingRequest, at gate: Gate, weight: Int, budget: Int) async throws -> Int {
        let priority = pending.priority
        let id = Gate.makeWaiterID()
        pending.beginWaiting(at: gate, id: id, queueTimeout: priority == .critical ? nil : queueTimeout)
        defer { pending.endWaiting() }
        return try await gate.acquire(weight: weight, priority: priority, budget: budget, waiterID: id)
    }

    /// Runs the route's handler where the request's task runs (its loop), or off the loop
    /// (`runsOnLoop: false`, unless `offLoop` says it is there already).
    @inline(never) nonisolated(nonsending)
    private func run(_ route: Route, _ pending: PendingRequest, occupancyOnEntry: Int?, offLoop: Bool = false) async -> Outcome {
        if !route.options.runsOnLoop && !offLoop {
            pending.attachCurrentTask()
            return await runOffLoop(route, pending, occupancyOnEntry: occupancyOnEntry)
        }
        let context = RequestContext(
            requestID: pending.request.id, parameters: pending.parameters, shared: shared,
            gateOccupancyOnEntry: occupancyOnEntry, statsSource: self)
        let response: Response
        do {
            if let immediate = route.immediate {
                switch try immediate(pending.request, context) {
                case .answered(let answered): response = answered
                case .pending(let answer):
                    pending.attachCurrentTask()
                    response = try await answer()
                }
            } else {
                pending.attachCurrentTask()
                response = try await route.handler(pending.request, context)
            }
        } catch {
            return .thrown(error)
        }
        // The common case answers with no further async call. The body is taken out by
        // `stream`: a copy here would widen this frame, which every request allocates.
        if response.streamedBody == nil { return .response(response) }
        pending.attachCurrentTask()
        return await stream(response, pending)
    }

    /// `run` on Swift's global executor.
    @inline(never) nonisolated(nonsending) private func runOffLoop(_ route: Route, _ pending: PendingRequest,
                                                                   occupancyOnEntry: Int?) async -> Outcome {
        await withTaskExecutorPreference(globalConcurrentExecutor) {
            await self.run(route, pending, occupancyOnEntry: occupancyOnEntry, offLoop: true)
        }
    }

    /// Answers with a streamed response as its body is written, on the handler's executor
    /// and under its deadline. Never inlined: its frame would swell every request's.
    @inline(never) nonisolated(nonsending)
    private func stream(_ response: Response, _ pending: PendingRequest) async -> Outcome {
        guard let body = response.streamedBody else { return .response(response) }
        do {
            return try await streamThrowing(response, body, pending)
        } catch {
            return .thrown(error)
        }
    }

    nonisolated(nonsending)
    private func streamThrowing(_ response: Response, _ body: ResponseBody, _ pending: PendingRequest) async throws -> Outcome {
        let encoded = ResponseHeadEncoder.encode(response, requestID: pending.request.id)
        guard encoded.valid else {
            body.abandoned?()
            throw HTTPError(500, message: "the response has an invalid status or header field")
        }
        let writer = ResponseWriter(bound: configuration.writeHighWaterBytes) { [pending] in pending.writeStream($0) }
        let headAt = MonotonicClock.now()
        guard pending.startStream(status: response.status, head: encoded.bytes, contentLength: body.contentLength,
                                  flags: encoded.flags, writer: writer) else {
            body.abandoned?()
            throw StreamClosed("the request was answered or its client left before the response started")
        }
        do {
            try await body.produce(writer)
        } catch {
            pending.endStream(trailers: [], abort: true)
            throw error
        }
        pending.endStream(trailers: ResponseHeadEncoder.encodeTrailers(writer.trailers), abort: false)
        return .streamed(response.status, headAt: headAt)
    }

    /// Counts the outcome once and answers, unless a deadline already answered 504.
    private func finish(_ pending: PendingRequest, _ outcome: Outcome) {
        if pending.deadlineExpired { return }
        let id = pending.request.id
        switch outcome {
        case .response(let response):
            stats.record(.completed)
            respond(pending, response)
        case .streamed(let status, _):
            stats.record(.completed, error: status >= 500)
        case .thrown(let error) where pending.clientLeft:
            logger.debug("client left; handler ended with \(error)", metadata: ["request_id": "\(id)"])
            stats.record(.cancelled)
            respondDrop(pending)
        case .thrown(let error as CancellationError) where Task.isCancelled:
            // Cancelled by a shutdown that outlasted its drain timeout.
            _ = error
            stats.record(.cancelled)
            respond(pending, unavailable("server is shutting down", requestID: id))
        case .thrown(let error as HTTPError):
            stats.record(.completed, error: true)
            if error.status >= 500 { logger.error("handler failed: \(error.status) \(error.message)", metadata: ["request_id": "\(id)"]) }
            respond(pending, errorResponse(error, requestID: id))
        case .thrown(let error):
            stats.record(.completed, error: true)
            logger.error("handler threw: \(String(reflecting: error))", metadata: ["request_id": "\(id)"])
            respond(pending, errorResponse(HTTPError(500), requestID: id))
        }
    }

    private func refuse(_ pending: PendingRequest, because error: any Error, at refusingGate: Gate) {
        if pending.clientLeft {
            stats.record(.cancelled)
            respondDrop(pending)
            return
        }
        guard let rejection = error as? Gate.Rejection else {
            stats.record(.cancelled)
            respond(pending, unavailable("server is shutting down", requestID: pending.request.id))
            return
        }
        stats.record(.rejected)
        let message = switch rejection {
        case .queueFull: "server over capacity"
        case .timedOut: "timed out waiting for capacity"
        case .overBudget: "server over capacity: the expected wait exceeds the latency target"
        case .displaced: "server over capacity: displaced by a more important request"
        }
        respond(pending, shed(message, retryAfter: retryAfterSeconds(refusingGate), requestID: pending.request.id))
    }

    /// Whole seconds until the refusing gate's queue drains at its measured rate, at least 1.
    private func retryAfterSeconds(_ refusingGate: Gate) -> Int {
        guard let seconds = refusingGate.secondsToDrain else { return configuration.retryAfterSeconds }
        return Int(min(3600, max(1, seconds.rounded(.up))))
    }

    /// The request's timer fired: a queue timeout (the waiter leaves with 503) or a deadline (504).
    func timerExpired(_ pending: PendingRequest) {
        switch pending.timerExpired() {
        case .queueTimeout(let gate, let id):
            gate.leave(id: id, with: Gate.Rejection.timedOut)
        case .deadline:
            if pending.route?.options.isMonitoring != true { stats.record(.timedOut) }
            logger.warning("handler deadline passed", metadata: ["request_id": "\(pending.request.id)"])
            respond(pending, errorResponse(HTTPError(504), requestID: pending.request.id))
        case .deadlineWhileStreaming:
            if pending.route?.options.isMonitoring != true { stats.record(.timedOut) }
            logger.warning("handler deadline passed while streaming its response; connection closed",
                           metadata: ["request_id": "\(pending.request.id)"])
        case .none:
            break
        }
    }

    // MARK: Stats and draining

    func snapshot() -> ServerStats {
        let global = gate.snapshot
        var gates: [String: Gate.Snapshot] = [:]
        var queued = global.queued
        for routeGate in routeGates {
            let snapshot = routeGate.snapshot
            gates[routeGate.name] = snapshot
            queued += snapshot.queued
        }
        return stats.snapshot(global: global, queued: queued, gates: gates)
    }

    func loopDrained() {
        let count = drainedLoops.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        if count == queues.count { drained.fire() }
    }

    func finishQueues() {
        for queue in queues { queue.finish() }
    }
}
