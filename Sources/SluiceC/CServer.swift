import CSluiceAPI
import Sluice

#if canImport(Glibc)
import Glibc
#endif

/// A C function and the user data it is given back.
struct CCallback<Function>: @unchecked Sendable {
    // @unchecked: a C function pointer and the user's opaque data, passed back untouched.
    let function: Function
    let userData: UnsafeMutableRawPointer?
}

/// A C classifier and its user data.
typealias ClassifierHook = CCallback<@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32>

/// A C route's handler, its user data, and how it runs.
struct CRoute: @unchecked Sendable {
    // @unchecked: a C function pointer and the user's opaque data, passed back untouched.
    let handler: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void
    let userData: UnsafeMutableRawPointer?
    /// On the blocking pool, never on a loop thread.
    let blocking: Bool
    /// No hooks (stats, health).
    let monitoring: Bool
    let streamsBody: Bool
}

/// The C before and after hooks, and their user data.
struct Hooks: @unchecked Sendable {
    // @unchecked: C function pointers and the user's opaque data, passed back untouched.
    let before: (@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32)?
    let after: (@convention(c) (OpaquePointer?, Int32, Int, UInt64, UnsafeMutableRawPointer?) -> Void)?
    let userData: UnsafeMutableRawPointer?
}

/// The object behind a `sluice_server *`: routes gathered before start, then a `Server`
/// run by a task of its own, and the blocking pool.
final class CServer: @unchecked Sendable {
    // @unchecked: mutable state is behind `state`'s lock, or guarded by `lifecycle`.
    let configuration: Configuration
    let shared = SharedState()
    let blockingPoolSize: Int

    private enum Phase {
        case configuring
        case starting
        case running(Server)
        case stopped
    }

    private struct State {
        var phase = Phase.configuring
        var router = Router()
        var gates: [String: Gate] = [:]
        var shares: [String: GuaranteedShare] = [:]
        var classifier: ClassifierHook?
        var hooks: Hooks?
        var stopRequested = false
        var startResult: Int32?
        var port = 0
    }

    private let state = Locked(State())
    /// What every request reads, fixed at start before any request can arrive.
    let running = RunningSettings()
    /// Wakes threads waiting for start's outcome and for the end of the run.
    private let lifecycle = ConditionSignal()

    init(configuration: Configuration, blockingPoolSize: Int) {
        self.configuration = configuration
        self.blockingPoolSize = blockingPoolSize
    }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> CServer? {
        guard let handle else { return nil }
        return Unmanaged<CServer>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    // MARK: Routes

    func addRoute(method: String, pattern: String, handler: @escaping @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void,
                  userData: UnsafeMutableRawPointer?, options: sluice_route_options) -> Int32 {
        return state.withLock { state in
            guard case .configuring = state.phase else { return ErrorCode.state }
            var routeOptions = RouteOptions(runsOnLoop: true, weight: Int(max(1, options.weight)))
            if options.timeout_ms > 0 { routeOptions.timeout = .milliseconds(Int64(clamping: options.timeout_ms)) }
            routeOptions.isMonitoring = options.monitoring != 0
            routeOptions.priority = options.priority == SLUICE_PRIORITY_DEFAULT ? nil : RequestPriority(rawValue: Int(options.priority))
            if options.share_percent > 0 {
                let name = CString.read(options.share_name) ?? pattern
                let fraction = Double(options.share_percent) / 100
                if let share = state.shares[name] {
                    guard share.fraction == fraction else { return ErrorCode.invalid }
                    routeOptions.share = share
                } else {
                    guard GuaranteedShare.fitInOneBudget(state.shares.values.map(\.fraction) + [fraction]) else { return ErrorCode.invalid }
                    let share = GuaranteedShare(name: name, fraction: fraction)
                    state.shares[name] = share
                    routeOptions.share = share
                }
            }
            if options.gate_limit > 0 {
                let name = CString.read(options.gate_name) ?? pattern
                let gate = state.gates[name] ?? Gate(name: name, limit: Int(options.gate_limit))
                state.gates[name] = gate
                routeOptions.gate = gate
            }
            if options.max_body_bytes > 0 { routeOptions.maxBodyBytes = Int(clamping: options.max_body_bytes) }
            routeOptions.streamsBody = options.stream_body != 0
            // A streaming handler blocks in its reads and writes: never on a loop thread.
            let route = CRoute(handler: handler, userData: userData, blocking: options.blocking != 0 || options.stream_body != 0,
                               monitoring: options.monitoring != 0, streamsBody: routeOptions.streamsBody)
            // unowned(unsafe): the server outlives its routes' requests (see CRequest.server).
            let respond: ImmediateHandler = { [unowned(unsafe) self] request, context in
                try CRequest.make(request: request, parameters: context.parameters,
                                  gateOccupancyOnEntry: context.gateOccupancyOnEntry, server: self,
                                  streamsBody: route.streamsBody).runImmediately(route)
            }
            do {
                try state.router.add(HTTPMethod(rawValue: method), pattern, options: routeOptions, immediate: respond)
            } catch {
                return ErrorCode.from(error)
            }
            return ErrorCode.ok
        }
    }

    func setHooks(_ hooks: Hooks) -> Int32 {
        state.withLock { state in
            guard case .configuring = state.phase else { return ErrorCode.state }
            state.hooks = hooks.before == nil && hooks.after == nil ? nil : hooks
            return ErrorCode.ok
        }
    }

    /// Sets the C classifier, which then picks each request's priority.
    func setClassifier(_ classify: (@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32)?,
                       userData: UnsafeMutableRawPointer?) -> Int32 {
        state.withLock { state in
            guard case .configuring = state.phase else { return ErrorCode.state }
            state.classifier = classify.map { ClassifierHook(function: $0, userData: userData) }
            return ErrorCode.ok
        }
    }

    /// The Swift side of the C classifier: a view of the request for the call's duration.
    private func priorityClassifier(_ hook: ClassifierHook) -> PriorityClassifier {
        { [unowned(unsafe) self] request in
            let priority = CRequest.withView(of: request, server: self) { view in hook.function(view.handle, hook.userData) }
            return priority == SLUICE_PRIORITY_DEFAULT ? nil : RequestPriority(rawValue: Int(priority))
        }
    }

    /// The limit before the server runs (stats of a server not started).
    var configuredLimit: Int { configuration.adaptiveConcurrency?.initialLimit ?? configuration.maxConcurrency }

    // MARK: Lifecycle

    /// Starts the server's task and waits until it listens or fails.
    func start() -> (Int32, Int) {
        let setup: (Router, ClassifierHook?, Hooks?)? = state.withLock { state in
            guard case .configuring = state.phase else { return nil }
            state.phase = .starting
            return (state.router, state.classifier, state.hooks)
        }
        guard let (router, classifier, hooks) = setup else { return (ErrorCode.state, 0) }
        // Before the server's task exists: its threads, started after, see these.
        running.freeze(hooks: hooks, pool: BlockingPool(threadCount: blockingPoolSize))
        var configuration = self.configuration
        if let classifier { configuration.priorityClassifier = priorityClassifier(classifier) }
        let server = Server(configuration: configuration, router: router, shared: shared) { [self] port in
            finishStart(ErrorCode.ok, port: port)
        }
        state.withLock { $0.phase = .running(server) }
        // The C boundary owns the root task of this server; it ends when run() returns.
        Task.detached { [self] in
            do {
                try await server.run()
            } catch {
                finishStart(ErrorCode.from(error), port: 0)
            }
            finishRun()
        }
        lifecycle.wait(until: { state.withLock { $0.startResult != nil } })
        return state.withLock { state in
            if state.stopRequested { server.shutdown() }
            return (state.startResult ?? ErrorCode.io, state.port)
        }
    }

    private func finishStart(_ code: Int32, port: Int) {
        state.withLock { state in
            if state.startResult == nil {
                state.startResult = code
                state.port = port
            }
        }
        lifecycle.broadcast()
    }

    private func finishRun() {
        state.withLock { $0.phase = .stopped }
        // Called by the server's task, after start froze the pool.
        running.pool?.stopAndJoin()
        lifecycle.broadcast()
    }

    /// Blocks until the server has stopped.
    func waitUntilStopped() {
        lifecycle.wait(until: {
            state.withLock { if case .stopped = $0.phase { true } else { false } }
        })
    }

    func stop() {
        let server: Server? = state.withLock { state in
            state.stopRequested = true
            if case .running(let server) = state.phase { return server }
            return nil
        }
        server?.shutdown()
    }

    var isConfiguring: Bool { state.withLock { if case .configuring = $0.phase { true } else { false } } }

    var stats: ServerStats? {
        state.withLock { state in
            if case .running(let server) = state.phase { return server.stats }
            return nil
        } ?? nil
    }

    func gate(named name: String) -> Gate? { state.withLock { $0.gates[name] } }
}

/// The hooks and the blocking pool as requests (and the end of the run) read them: written
/// once by `start` before the server's task is created, then only read, by threads that task
/// starts.
final class RunningSettings: @unchecked Sendable {
    // @unchecked: written once before any reader exists (task and thread creation order the
    // write before every read), never after; reading them costs no lock per request.
    private(set) nonisolated(unsafe) var hooks: Hooks?
    private(set) nonisolated(unsafe) var pool: BlockingPool?

    func freeze(hooks: Hooks?, pool: BlockingPool) {
        self.hooks = hooks
        self.pool = pool
    }
}
