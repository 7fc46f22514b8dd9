import ServiceLifecycle

/// An HTTP/1.1 server: event loops in C, handlers in Swift tasks.
///
/// `run()` binds, serves until `shutdown()`, a graceful shutdown of its `ServiceGroup`, or
/// cancellation; then stops accepting, lets queued and running requests finish (up to
/// `drainTimeout`, then cancels them), closes every connection and returns. Each request
/// runs as a child task of the server's task group, on the event loop that read it.
public actor Server: Service {
    private enum State {
        case idle
        case running(IOServer)
        case finished
    }

    public nonisolated let configuration: Configuration
    /// State shared by every handler (also `RequestContext.shared`).
    public nonisolated let shared: SharedState
    private nonisolated let dispatcher: Dispatcher
    private let onServerRunning: @Sendable (Int) async -> Void
    private nonisolated let shutdownRequested = OneShotSignal()
    private var state = State.idle

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: Address, threads, limits and timeouts.
    ///   - router: The routes to serve.
    ///   - shared: The shared state handlers see; a new one by default.
    ///   - onServerRunning: Called once with the bound port when the server accepts connections.
    public init(
        configuration: Configuration = Configuration(), router: Router, shared: SharedState = SharedState(),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.shared = shared
        self.dispatcher = Dispatcher(configuration: configuration, router: router, shared: shared)
        self.onServerRunning = onServerRunning
    }

    /// The request accounting right now. Any thread.
    public nonisolated var stats: ServerStats { dispatcher.snapshot() }

    /// Serves until `shutdown()`, graceful shutdown or cancellation, then drains and returns.
    /// - Throws: `SluiceError` when the configuration is invalid or the address cannot be bound.
    public func run() async throws {
        guard case .idle = state else { throw SluiceError(.alreadyRunning, "a Server runs once") }
        state = .finished
        if dispatcher.sharesExceedBudget {
            throw SluiceError(.invalidConfiguration, "invalid configuration: the routes' guaranteed shares add up to more than 1")
        }
        let io = try IOServer(configuration: configuration, dispatcher: dispatcher)
        try io.start()
        state = .running(io)
        configuration.logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(io.port)"])
        await onServerRunning(io.port)
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await serve(io: io)
            } onCancel: {
                shutdownRequested.fire()
            }
        } onGracefulShutdown: {
            self.shutdownRequested.fire()
        }
        io.shutdown()
        state = .finished
        configuration.logger.info("stopped")
    }

    private nonisolated func serve(io: IOServer) async {
        let dispatcher = self.dispatcher
        let drainTimeout = configuration.drainTimeout
        await withDiscardingTaskGroup { group in
            for (index, executor) in io.executors.enumerated() {
                group.addTask(executorPreference: executor) {
                    await Self.consume(dispatcher.queues[index], dispatcher: dispatcher)
                }
            }
            await shutdownRequested.wait()
            io.stopAccepting()
            let drained = await Self.waitForDrain(dispatcher, timeout: drainTimeout)
            dispatcher.finishQueues()
            if !drained || Task.isCancelled { group.cancelAll() }
        }
    }

    private static let startsPerYield = 64

    /// Starts a child task per request of one loop, until its queue is finished. The tasks
    /// inherit the loop's executor: the gates, timers and answer all run on the loop thread.
    ///
    /// Each task starts at once, on this task's thread (the loop), and runs until it first
    /// suspends: a request that never waits is answered before the next one is started,
    /// without a trip through the loop's job queue (an enqueue, a dispatch and an executor
    /// check per request).
    ///
    /// The group is a throwing one although no request task throws: its tasks' operation type
    /// is then the runtime's own, where a non-throwing one is wrapped in a thunk allocated
    /// per task.
    private static func consume(_ queue: RequestQueue, dispatcher: Dispatcher) async {
        try? await withThrowingDiscardingTaskGroup(returning: Void.self) { requests in
            var batch: [PendingRequest] = []
            while await queue.next(into: &batch) {
                for (index, pending) in batch.enumerated() {
                    requests.addImmediateTask { await dispatcher.handle(pending) }
                    // Let the loop's other jobs (tasks resumed by a gate, a timer or a body)
                    // run after each 64 new requests: new work must not starve them.
                    if index % Self.startsPerYield == Self.startsPerYield - 1 { await Task.yield() }
                }
                batch.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Waits until every connection is closed, or the timeout; true if drained in time.
    private static func waitForDrain(_ dispatcher: Dispatcher, timeout: Duration) async -> Bool {
        if Task.isCancelled { return false }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await dispatcher.drained.wait()
                return dispatcher.drained.hasFired
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Asks a running server to drain and stop; `run()` then returns. Any thread; idempotent.
    public nonisolated func shutdown() {
        shutdownRequested.fire()
    }
}
