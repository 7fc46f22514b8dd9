import CSluiceIO
import Synchronization

/// A request between its arrival on a loop and its answer: the shim's handle, the parsed
/// request, its route, and the link that lets a departing client cancel its task.
final class PendingRequest: @unchecked Sendable {
    // @unchecked: `raw` is a C handle that is used exactly once, by `takeRaw()`, under the
    // lock; everything else is immutable or inside the Mutex.
    private let raw: OpaquePointer
    let request: Request
    let route: Route?
    let parameters: [String: String]
    let loopIndex: Int

    /// A running task's handle, stored only while that task is alive.
    private struct TaskHandle: @unchecked Sendable {
        // @unchecked: the handle is touched only under `cancelState`'s lock, and removed by
        // the task itself (detachTask) before it ends, so it never outlives its task.
        let task: UnsafeCurrentTask
    }

    private struct CancelState {
        var task: TaskHandle?
        var clientLeft = false
        var answered = false
    }

    private let cancelState = Mutex(CancelState())

    init(raw: OpaquePointer, request: Request, route: Route?, parameters: [String: String], loopIndex: Int) {
        self.raw = raw
        self.request = request
        self.route = route
        self.parameters = parameters
        self.loopIndex = loopIndex
    }

    /// Whether the client closed or reset its connection before the answer.
    var clientLeft: Bool { cancelState.withLock { $0.clientLeft } }

    /// Links the running task, so that a departing client cancels it. Call from that task.
    func attachCurrentTask() {
        withUnsafeCurrentTask { task in
            guard let task else { return }
            let handle = TaskHandle(task: task)
            let cancelNow = cancelState.withLock { state in
                state.task = handle
                return state.clientLeft
            }
            if cancelNow { task.cancel() }
        }
    }

    /// Unlinks the task; after this, nothing refers to it. Call before the task ends.
    func detachTask() {
        cancelState.withLock { $0.task = nil }
    }

    /// The client left: cancel the linked task, if any. Loop thread.
    func markClientLeft() {
        cancelState.withLock { state in
            state.clientLeft = true
            // Cancelled under the lock: the task cannot detach and end meanwhile.
            state.task?.task.cancel()
        }
    }

    /// The shim's handle, exactly once; nil if the request was answered already.
    func takeRaw() -> OpaquePointer? {
        cancelState.withLock { state in
            if state.answered { return nil }
            state.answered = true
            return raw
        }
    }
}
