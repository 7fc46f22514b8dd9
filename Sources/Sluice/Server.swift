/// An HTTP/1.1 server: event loops in C, handlers in Swift tasks.
///
/// `run()` binds, serves until `shutdown()` is called or its task is cancelled, drains, and
/// returns. Each request runs as a child task of the server's task group, on the event loop
/// that read it unless its route says otherwise.
public actor Server {
    private enum State {
        case idle
        case running(IOServer)
        case finished
    }

    public nonisolated let configuration: Configuration
    private let router: Router
    private let onServerRunning: @Sendable (Int) async -> Void
    private nonisolated let shutdownRequested = OneShotSignal()
    private var state = State.idle

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: Address, threads, limits and timeouts.
    ///   - router: The routes to serve.
    ///   - onServerRunning: Called once with the bound port when the server accepts connections.
    public init(
        configuration: Configuration = Configuration(), router: Router,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.router = router
        self.onServerRunning = onServerRunning
    }

    /// Serves until `shutdown()` or cancellation; then stops accepting, lets the requests in
    /// flight finish (up to `drainTimeout`, then cancels them), closes every connection and returns.
    /// - Throws: `SluiceError` when the configuration is invalid or the address cannot be bound.
    public func run() async throws {
        guard case .idle = state else { throw SluiceError(.alreadyRunning, "a Server runs once") }
        state = .finished
        let dispatcher = Dispatcher(configuration: configuration, router: router)
        let io = try IOServer(configuration: configuration, dispatcher: dispatcher)
        try io.start()
        state = .running(io)
        await onServerRunning(io.port)
        await withTaskCancellationHandler {
            await serve(io: io, dispatcher: dispatcher)
        } onCancel: {
            shutdownRequested.fire()
        }
        io.shutdown()
        state = .finished
    }

    private nonisolated func serve(io: IOServer, dispatcher: Dispatcher) async {
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

    /// Starts a child task per request of one loop, until its queue is finished.
    private static func consume(_ queue: RequestQueue, dispatcher: Dispatcher) async {
        await withDiscardingTaskGroup { requests in
            while let batch = await queue.next() {
                for pending in batch {
                    if pending.route?.options.runsOnLoop == false {
                        requests.addTask(executorPreference: globalConcurrentExecutor) { await dispatcher.handle(pending) }
                    } else {
                        requests.addTask { await dispatcher.handle(pending) }
                    }
                }
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
