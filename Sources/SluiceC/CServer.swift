import CSluiceAPI
import Sluice

#if canImport(Glibc)
import Glibc
#endif

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
        var stopRequested = false
        var startResult: Int32?
        var port = 0
    }

    private let state = Locked(State())
    /// Wakes threads waiting for start's outcome and for the end of the run.
    private let lifecycle = ConditionSignal()
    private let poolLock = Locked<BlockingPool?>(nil)

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
        let box = UncheckedSendable(userData)
        return state.withLock { state in
            guard case .configuring = state.phase else { return ErrorCode.state }
            var routeOptions = RouteOptions(runsOnLoop: true, weight: Int(max(1, options.weight)))
            if options.timeout_ms > 0 { routeOptions.timeout = .milliseconds(Int64(clamping: options.timeout_ms)) }
            routeOptions.isMonitoring = options.monitoring != 0
            if options.gate_limit > 0 {
                let name = CString.read(options.gate_name) ?? pattern
                let gate = state.gates[name] ?? Gate(name: name, limit: Int(options.gate_limit))
                state.gates[name] = gate
                routeOptions.gate = gate
            }
            let blocking = options.blocking != 0
            do {
                try state.router.add(HTTPMethod(rawValue: method), pattern, options: routeOptions) { [unowned self] request, context in
                    let cRequest = CRequest(request: request, context: context, server: self)
                    return try await cRequest.run(handler, userData: box.value, pool: blocking ? self.blockingPool : nil)
                }
            } catch {
                return ErrorCode.from(error)
            }
            return ErrorCode.ok
        }
    }

    private var blockingPool: BlockingPool? { poolLock.withLock { $0 } }

    // MARK: Lifecycle

    /// Starts the server's task and waits until it listens or fails.
    func start() -> (Int32, Int) {
        let router: Router? = state.withLock { state in
            guard case .configuring = state.phase else { return nil }
            state.phase = .starting
            return state.router
        }
        guard let router else { return (ErrorCode.state, 0) }
        poolLock.withLock { $0 = BlockingPool(threadCount: blockingPoolSize) }
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
        poolLock.withLock { $0 }?.stopAndJoin()
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
