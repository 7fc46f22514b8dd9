import CSluiceIO
import Synchronization

/// A request between its arrival on a loop and its answer: the shim's handle, the parsed
/// request, its route, and what links it to its task, its gate queue and its timer.
final class PendingRequest: Request, @unchecked Sendable {
    // @unchecked: `raw` is a C handle used only under `lock` until the request is
    // answered (its answer handed to the shim once, whole or streamed); `taskAttached` and
    // `unarmedDeadline` are the request task's own; every other stored property is immutable
    // or behind the lock.
    private let raw: OpaquePointer
    let route: Route?
    let parameters: [String: String]
    let loopIndex: Int
    /// Set once, where the request is accepted, before it is published to any other thread
    /// (a priority classifier reads the request itself).
    var priority = RequestPriority.normal

    /// The request handlers see: this record itself.
    var request: Request { self }

    /// A running task's handle, stored only while that task is alive.
    ///
    /// A class, allocated only when a task is linked (rarely: most requests are answered
    /// without suspending): an optional reference is a plain pointer, where an optional
    /// `UnsafeCurrentTask` (a resilient type) costs runtime calls to initialize and destroy
    /// in every request's state.
    private final class TaskHandle: @unchecked Sendable {
        // @unchecked: the handle is touched only under `lock`, and removed by the
        // task itself (detachTask) before it ends, so it never outlives its task.
        let task: UnsafeCurrentTask

        init(task: UnsafeCurrentTask) {
            self.task = task
        }
    }

    /// What the request's one timer means when it fires.
    enum TimerExpiry {
        /// The request waits at a gate: it must leave the queue (503).
        case queueTimeout(Gate, UInt64)
        /// The handler runs past its deadline: answer 504, the task is cancelled.
        case deadline
        /// The deadline passed while the answer was being streamed: the connection closes.
        case deadlineWhileStreaming
        /// Already answered: nothing to do.
        case none
    }

    /// How far the answer has gone: a streamed one is started, then ended.
    private enum Phase {
        case unanswered
        case streaming
        case answered
    }

    private struct State {
        var task: TaskHandle?
        var clientLeft = false
        var phase = Phase.unanswered
        var writer: ResponseWriter?
        var waiting: (gate: Gate, id: UInt64)?
        var queueTimerArmed = false
        var deadlineExpired = false
    }

    private let lock = InlineLock()
    /// Only under `lock` (through `withState`).
    private var state = State()

    /// Inlined, so that the optimizer sees each body and drops the dynamic exclusivity check
    /// on `state` (a runtime call per use otherwise).
    @inline(__always)
    private func withState<T>(_ body: (inout State) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&state)
    }

    /// Copies the request out of the shim's `view`, whose method and path were decoded
    /// already (to route it); each part is made once and moved into place.
    init(raw: OpaquePointer, view: sluice_io_request_view, method: HTTPMethod, path: String, bodyStream: RequestBodyStream?,
         route: Route?, parameters: [String: String], loopIndex: Int) {
        self.raw = raw
        self.route = route
        self.parameters = parameters
        self.loopIndex = loopIndex
        var clientID: String?
        let headers = RequestDecoder.headers(view, clientID: &clientID)
        super.init(method: method, target: RequestDecoder.target(view, path: path), path: path,
                   query: RequestDecoder.query(view), headers: headers, body: RequestDecoder.body(view),
                   id: clientID ?? RequestID.make(), httpMinorVersion: Int(view.version_minor), bodyStream: bodyStream)
    }

    /// Whether the request's task is linked in `state`, and the deadline that waits for it to
    /// be armed. Read and written only by that task, whose steps the runtime orders, so they
    /// need no lock.
    private var taskAttached = false
    private var unarmedDeadline: (timeout: Duration, startedAt: UInt64)?

    /// Whether the client closed or reset its connection before the answer.
    var clientLeft: Bool { withState { $0.clientLeft } }

    /// Whether the handler's deadline passed (and 504 was sent). Call from the request's task.
    /// Never without the task linked: the timer fires on the loop thread, where such a task
    /// has run since it started, without suspending; no lock is then needed to know it.
    var deadlineExpired: Bool { taskAttached && withState { $0.deadlineExpired } }

    /// Links the running task, so that a departing client or a deadline cancels it. Call from
    /// that task before it may suspend or leave the loop thread; a second call does nothing.
    ///
    /// Not needed before: the client's departure and the deadline are seen on the loop
    /// thread, so they cannot come while the task runs there without suspending, and most
    /// requests are answered that way. Linking only when needed saves two locks and the task
    /// lookup per request (about 2% of a small request's CPU).
    func attachCurrentTask() {
        if taskAttached { return }
        withUnsafeCurrentTask { task in
            guard let task else { return }
            taskAttached = true
            let handle = TaskHandle(task: task)
            let cancelNow = withState { state in
                state.task = handle
                return state.clientLeft
            }
            if cancelNow { task.cancel() }
        }
        if let (timeout, startedAt) = unarmedDeadline {
            unarmedDeadline = nil
            let elapsed = Duration.nanoseconds(Int64(clamping: MonotonicClock.now() &- startedAt))
            armDeadline(timeout - elapsed)
        }
    }

    /// Unlinks the task if it was linked; after this, nothing refers to it. Call before the task ends.
    func detachTask() {
        guard taskAttached else { return }
        taskAttached = false
        withState { $0.task = nil }
    }

    /// The client left: cancel the linked task, if any. Loop thread.
    func markClientLeft() {
        let writer = withState { state in
            state.clientLeft = true
            // Cancelled under the lock: the task cannot detach and end meanwhile.
            state.task?.task.cancel()
            return state.writer
        }
        let gone = StreamClosed("the client closed the connection")
        request.bodyStream?.fail(gone)
        writer?.fail(gone)
    }

    /// Records that the request now waits at `gate` as waiter `id`; the first wait arms the
    /// queue timer, which then covers every gate the request waits at; nil waits without
    /// one (a request that is never shed). Loop thread.
    func beginWaiting(at gate: Gate, id: UInt64, queueTimeout: Duration?) {
        withState { state in
            state.waiting = (gate, id)
            if let queueTimeout, !state.queueTimerArmed && state.phase == .unanswered {
                state.queueTimerArmed = true
                sluice_io_request_set_timer(raw, max(1, queueTimeout.milliseconds))
            }
        }
    }

    func endWaiting() {
        withState { $0.waiting = nil }
    }

    /// Starts the handler's deadline, `timeout` from `startedAt`. Loop thread, from the request's task.
    ///
    /// Its timer is armed (replacing the queue timer) only once the task is linked, as it must
    /// be before the task may suspend: until then the timer could not fire anyway (it fires
    /// on the loop thread, which the task holds), and most handlers have answered by then.
    func startDeadline(_ timeout: Duration, startedAt: UInt64) {
        if taskAttached {
            armDeadline(timeout)
        } else {
            unarmedDeadline = (timeout, startedAt)
        }
    }

    private func armDeadline(_ remaining: Duration) {
        withState { state in
            if state.phase == .unanswered { sluice_io_request_set_timer(raw, max(1, remaining.milliseconds)) }
        }
    }

    /// Decides what an expired timer means, and cancels the task on a deadline. Loop thread.
    func timerExpired() -> TimerExpiry {
        let (expiry, writer) = withState { state -> (TimerExpiry, ResponseWriter?) in
            switch state.phase {
            case .answered:
                return (.none, nil)
            case .streaming:
                // Its status is out: the only way left to say "incomplete" is to close.
                state.deadlineExpired = true
                state.task?.task.cancel()
                return (.deadlineWhileStreaming, end(&state, trailers: [], flags: SLUICE_IO_RESPOND_DROP))
            case .unanswered:
                if let waiting = state.waiting { return (.queueTimeout(waiting.gate, waiting.id), nil) }
                state.deadlineExpired = true
                state.task?.task.cancel()
                return (.deadline, nil)
            }
        }
        let late = StreamClosed("the handler's deadline passed")
        writer?.fail(late)
        switch expiry {
        case .deadline, .deadlineWhileStreaming: request.bodyStream?.fail(late)
        case .queueTimeout, .none: break
        }
        return expiry
    }

    /// The shim's handle, exactly once; nil if the request was answered (or its answer started) already.
    func takeRaw() -> OpaquePointer? {
        withState { state in
            if state.phase != .unanswered { return nil }
            state.phase = .answered
            return raw
        }
    }

    // MARK: Streaming

    /// Grants the connection credit for `bytes` more of a streamed body. Any thread.
    func grantBody(_ bytes: Int) {
        withState { state in
            if state.phase != .answered { _ = sluice_io_request_read_body(raw, bytes) }
        }
    }

    /// Sends the head of a streamed answer; false if the request is answered already or its client left.
    func startStream(status: Int, head: [UInt8], contentLength: Int?, flags: Int32, writer: ResponseWriter) -> Bool {
        withState { state in
            guard state.phase == .unanswered, !state.clientLeft else { return false }
            let rc = head.withUnsafeBufferPointer { head in
                head.withMemoryRebound(to: CChar.self) { head in
                    sluice_io_response_start(raw, Int32(status), head.baseAddress, head.count,
                                             Int64(contentLength ?? -1), flags)
                }
            }
            guard rc == 0 else { return false }
            state.phase = .streaming
            state.writer = writer
            return true
        }
    }

    /// Queues body bytes of the streamed answer; false once it is ended or aborted.
    func writeStream(_ bytes: [UInt8]) -> Bool {
        withState { state in
            guard state.phase == .streaming, !state.clientLeft else { return false }
            return bytes.withUnsafeBytes { sluice_io_response_write(raw, $0.baseAddress, $0.count) } == 0
        }
    }

    /// Ends the streamed answer: trailers after a chunked body, or a close when `abort`.
    func endStream(trailers: [UInt8], abort: Bool) {
        let writer = withState { state -> ResponseWriter? in
            guard state.phase == .streaming else {
                state.writer = nil
                return nil
            }
            return end(&state, trailers: trailers, flags: abort || state.clientLeft ? SLUICE_IO_RESPOND_DROP : 0)
        }
        writer?.fail(StreamClosed("the response has ended"))
    }

    /// Ends a streamed answer in the shim and unlinks its writer, which it returns. Under the lock.
    private func end(_ state: inout State, trailers: [UInt8], flags: Int32) -> ResponseWriter? {
        state.phase = .answered
        trailers.withUnsafeBufferPointer { trailers in
            trailers.withMemoryRebound(to: CChar.self) { trailers in
                _ = sluice_io_response_end(raw, trailers.baseAddress, trailers.count, flags)
            }
        }
        defer { state.writer = nil }
        return state.writer
    }

    /// Payload of the streamed answer reached the socket. Loop thread.
    func streamWritten(_ bytes: Int) {
        withState { $0.writer }?.written(bytes)
    }
}
