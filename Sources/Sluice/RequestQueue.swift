import Synchronization

/// A single-consumer queue of requests from one loop to the task that starts their handlers.
///
/// The consumer takes everything queued in one wake-up, so a burst of requests costs one
/// resumption; it swaps its emptied buffer in, so a steady stream allocates nothing.
/// Waiting holds no thread.
final class RequestQueue: Sendable {
    private struct State {
        var items: [PendingRequest] = []
        var waiter: UnsafeContinuation<[PendingRequest]?, Never>?
        var finished = false
    }

    private let state = Locked(State())

    private enum PushOutcome {
        case rejected
        case queued
        case wake(UnsafeContinuation<[PendingRequest]?, Never>, [PendingRequest])
    }

    /// Adds a request; returns false when the queue is finished and will not take it.
    func push(_ request: PendingRequest) -> Bool {
        let outcome = state.withLock { state -> PushOutcome in
            guard !state.finished else { return .rejected }
            guard let waiter = state.waiter else {
                state.items.append(request)
                return .queued
            }
            // A waiter exists only while the queue is empty.
            state.waiter = nil
            return .wake(waiter, [request])
        }
        switch outcome {
        case .rejected:
            return false
        case .queued:
            return true
        case .wake(let waiter, let items):
            waiter.resume(returning: items)
            return true
        }
    }

    /// Replaces `batch` (emptied by the caller) with the next batch of requests; false once
    /// the queue is finished and empty.
    func next(into batch: inout [PendingRequest]) async -> Bool {
        if swapIfReady(&batch) { return true }
        guard let items = await waitForItems() else { return false }
        batch = items
        return true
    }

    private func swapIfReady(_ batch: inout [PendingRequest]) -> Bool {
        state.withLock { state in
            guard !state.items.isEmpty else { return false }
            batch.removeAll(keepingCapacity: true)
            swap(&state.items, &batch)
            return true
        }
    }

    private func waitForItems() async -> [PendingRequest]? {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<[PendingRequest]?, Never>) in
            let ready: [PendingRequest]?? = state.withLock { state in
                if !state.items.isEmpty {
                    let items = state.items
                    state.items = []
                    return .some(items)
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Ends the queue: the consumer gets what is queued, then nil.
    func finish() {
        let waiter: UnsafeContinuation<[PendingRequest]?, Never>? = state.withLock { state in
            state.finished = true
            let waiter = state.items.isEmpty ? state.waiter : nil
            if waiter != nil { state.waiter = nil }
            return waiter
        }
        waiter?.resume(returning: nil)
    }
}
