import CSluiceIO
import Synchronization

/// A request between its arrival on a loop and its answer: the shim's handle, the parsed
/// request, its route, and what links it to its task, its gate queue and its timer.
final class PendingRequest: @unchecked Sendable {
    // @unchecked: `raw` is a C handle used only under `state`'s lock while the request is
    // unanswered, and handed to the shim's respond call exactly once (`takeRaw`); every
    // other stored property is immutable or behind the lock.
    private let raw: OpaquePointer
    let request: Request
    let route: Route?
    let parameters: [String: String]
    let loopIndex: Int
    let priority: RequestPriority

    /// A running task's handle, stored only while that task is alive.
    private struct TaskHandle: @unchecked Sendable {
        // @unchecked: the handle is touched only under `state`'s lock, and removed by the
        // task itself (detachTask) before it ends, so it never outlives its task.
        let task: UnsafeCurrentTask
    }

    /// What the request's one timer means when it fires.
    enum TimerExpiry {
        /// The request waits at a gate: it must leave the queue (503).
        case queueTimeout(Gate, UInt64)
        /// The handler runs past its deadline: answer 504, the task is cancelled.
        case deadline
        /// Already answered: nothing to do.
        case none
    }

    private struct State {
        var task: TaskHandle?
        var clientLeft = false
        var answered = false
        var waiting: (gate: Gate, id: UInt64)?
        var queueTimerArmed = false
        var deadlineExpired = false
    }

    private let state = Locked(State())

    init(raw: OpaquePointer, request: Request, route: Route?, parameters: [String: String], loopIndex: Int,
         priority: RequestPriority) {
        self.raw = raw
        self.priority = priority
        self.request = request
        self.route = route
        self.parameters = parameters
        self.loopIndex = loopIndex
    }

    /// Whether the client closed or reset its connection before the answer.
    var clientLeft: Bool { state.withLock { $0.clientLeft } }

    /// Whether the handler's deadline passed (and 504 was sent).
    var deadlineExpired: Bool { state.withLock { $0.deadlineExpired } }

    /// Links the running task, so that a departing client or a deadline cancels it. Call from that task.
    func attachCurrentTask() {
        withUnsafeCurrentTask { task in
            guard let task else { return }
            let handle = TaskHandle(task: task)
            let cancelNow = state.withLock { state in
                state.task = handle
                return state.clientLeft
            }
            if cancelNow { task.cancel() }
        }
    }

    /// Unlinks the task; after this, nothing refers to it. Call before the task ends.
    func detachTask() {
        state.withLock { $0.task = nil }
    }

    /// The client left: cancel the linked task, if any. Loop thread.
    func markClientLeft() {
        state.withLock { state in
            state.clientLeft = true
            // Cancelled under the lock: the task cannot detach and end meanwhile.
            state.task?.task.cancel()
        }
    }

    /// Records that the request now waits at `gate` as waiter `id`; the first wait arms the
    /// queue timer, which then covers every gate the request waits at; nil waits without
    /// one (a request that is never shed). Loop thread.
    func beginWaiting(at gate: Gate, id: UInt64, queueTimeout: Duration?) {
        state.withLock { state in
            state.waiting = (gate, id)
            if let queueTimeout, !state.queueTimerArmed && !state.answered {
                state.queueTimerArmed = true
                sluice_io_request_set_timer(raw, max(1, queueTimeout.milliseconds))
            }
        }
    }

    func endWaiting() {
        state.withLock { $0.waiting = nil }
    }

    /// Arms the handler's deadline, replacing the queue timer. Loop thread.
    func startDeadline(_ timeout: Duration) {
        state.withLock { state in
            if !state.answered { sluice_io_request_set_timer(raw, max(1, timeout.milliseconds)) }
        }
    }

    /// Decides what an expired timer means, and cancels the task on a deadline. Loop thread.
    func timerExpired() -> TimerExpiry {
        state.withLock { state in
            if state.answered { return .none }
            if let waiting = state.waiting { return .queueTimeout(waiting.gate, waiting.id) }
            state.deadlineExpired = true
            state.task?.task.cancel()
            return .deadline
        }
    }

    /// The shim's handle, exactly once; nil if the request was answered already.
    func takeRaw() -> OpaquePointer? {
        state.withLock { state in
            if state.answered { return nil }
            state.answered = true
            return raw
        }
    }
}
