import CSluiceAPI

import Sluice

/// The C side of streaming for one request: a blocking reader of its body and a blocking
/// writer of its response, for C threads that are not tasks.
///
/// Each blocking call runs the async operation in a task of its own and waits on a
/// condition; calls are made one at a time per request (documented), so their order is
/// the caller's.
final class CStreaming: Sendable {
    private enum ResponsePhase {
        case none
        /// Started; the engine has not yet handed over its writer.
        case starting
        case open(ResponseWriter)
        /// Finished or aborted by C, or failed on the engine's side.
        case ended
    }

    private struct State {
        var leftover: ArraySlice<UInt8> = []
        var phase = ResponsePhase.none
        /// Why writes fail: the client left, the deadline passed, the stream ended.
        var failure: Int32?
        /// What C asked for before the engine's writer arrived: nil, or (trailers, abort).
        var ending: (trailers: HTTPHeaders, abort: Bool)?
        var endWaiter: UnsafeContinuation<Void, any Error>?
    }

    private let state = Locked(State())
    private let signal = ConditionSignal()

    // MARK: Body

    func readBody(_ stream: RequestBodyStream, into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int64 {
        if let copied = state.withLock({ state -> Int? in
            guard !state.leftover.isEmpty else { return nil }
            return Self.copy(&state.leftover, into: buffer, capacity: capacity)
        }) {
            return Int64(copied)
        }
        let next = waitFor { try await stream.next() }
        switch next {
        case .success(nil):
            return 0
        case .success(let chunk?):
            var slice = chunk[...]
            let copied = Self.copy(&slice, into: buffer, capacity: capacity)
            state.withLock { $0.leftover = slice }
            return Int64(copied)
        case .failure(let error as HTTPError) where [400, 408, 413].contains(error.status):
            return Int64(SLUICE_EBODY)
        case .failure:
            return Int64(ErrorCode.cancelled)
        }
    }

    private static func copy(_ slice: inout ArraySlice<UInt8>, into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        let count = min(capacity, slice.count)
        slice.prefix(count).withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: count) }
        slice = slice.dropFirst(count)
        return count
    }

    /// Runs `operation` in a task and blocks this (non-task) thread until it ends.
    private func waitFor<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let result = Locked<Result<T, any Error>?>(nil)
        Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await operation()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            signal.broadcast()
        }
        signal.wait { result.withLock { $0 } != nil }
        return result.withLock { $0! }
    }

    // MARK: Response

    /// The body of the streamed response C started; false if one was started already.
    func beginResponse(contentLength: Int?) -> ResponseBody? {
        let fresh = state.withLock { state -> Bool in
            guard case .none = state.phase else { return false }
            state.phase = .starting
            return true
        }
        guard fresh else { return nil }
        return ResponseBody(contentLength: contentLength, produce: { [self] writer in try await serve(writer) },
                            abandoned: { [self] in fail(ErrorCode.cancelled) })
    }

    /// The engine's side: hands the writer to C's writes and waits for C to end the stream.
    private func serve(_ writer: ResponseWriter) async throws {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let ending = state.withLock { state -> (trailers: HTTPHeaders, abort: Bool)? in
                    if let ending = state.ending { return ending }
                    if state.failure != nil { return (HTTPHeaders(), true) }
                    state.phase = .open(writer)
                    state.endWaiter = continuation
                    return nil
                }
                signal.broadcast()
                if let ending { Self.end(continuation, writer, ending) }
            }
        } onCancel: {
            fail(ErrorCode.cancelled)
        }
    }

    private static func end(_ continuation: UnsafeContinuation<Void, any Error>, _ writer: ResponseWriter,
                            _ ending: (trailers: HTTPHeaders, abort: Bool)) {
        if ending.abort {
            continuation.resume(throwing: StreamClosed("the handler aborted its response"))
            return
        }
        for field in ending.trailers { writer.addTrailer(name: field.name, value: field.value) }
        continuation.resume()
    }

    /// A write from C: waits for the engine's writer, then for room on the connection.
    func write(_ bytes: [UInt8]) -> Int32 {
        signal.wait {
            state.withLock { state in
                if case .starting = state.phase { return state.failure != nil }
                return true
            }
        }
        let writer = state.withLock { state -> ResponseWriter? in
            if case .open(let writer) = state.phase, state.failure == nil { return writer }
            return nil
        }
        guard let writer else {
            return state.withLock { state in
                if case .open = state.phase { return state.failure ?? ErrorCode.state }
                if case .starting = state.phase { return state.failure ?? ErrorCode.state }
                return ErrorCode.state
            }
        }
        if bytes.isEmpty { return ErrorCode.ok }
        switch waitFor({ try await writer.write(bytes) }) {
        case .success: return ErrorCode.ok
        case .failure: return ErrorCode.cancelled
        }
    }

    /// C ends the stream; false if none is open.
    func end(trailers: HTTPHeaders, abort: Bool) -> Bool {
        let action = state.withLock { state -> (UnsafeContinuation<Void, any Error>, ResponseWriter)?? in
            switch state.phase {
            case .none, .ended:
                return .none
            case .starting:
                state.ending = (trailers, abort)
                state.phase = .ended
                return .some(nil)
            case .open(let writer):
                state.phase = .ended
                guard let waiter = state.endWaiter else { return .some(nil) }
                state.endWaiter = nil
                return .some((waiter, writer))
            }
        }
        guard let action else { return false }
        if let (waiter, writer) = action { Self.end(waiter, writer, (trailers, abort)) }
        signal.broadcast()
        return true
    }

    /// The engine gave up on the stream (cancelled, or it could not start): writes fail from now on.
    private func fail(_ code: Int32) {
        let waiter = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            if state.failure == nil { state.failure = code }
            defer { state.endWaiter = nil }
            return state.endWaiter
        }
        waiter?.resume(throwing: CancellationError())
        signal.broadcast()
    }
}
