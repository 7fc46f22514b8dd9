import DequeModule

/// The body of a request whose route streams it (`RouteOptions.streamsBody`): byte chunks
/// as they arrive, in order.
///
/// Reading pulls: the connection hands over no more than `Configuration.bodyWindowBytes`
/// beyond what the handler has taken, and stops reading its socket meanwhile, so a fast
/// client sending a large body to a slow handler holds at most that window in memory. The
/// first read answers `Expect: 100-continue`. One task reads it; a client that leaves, a
/// body over the route's limit (413) or broken chunked coding (400) ends it with an error,
/// as does cancelling the reading task.
public final class RequestBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    private struct State {
        var chunks = Deque<[UInt8]>()
        var ended = false
        var failure: (any Error)?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var started = false
        /// Bytes taken since the last grant; granted again once they reach half the window.
        var takenSinceGrant = 0
    }

    private let state = Locked(State())
    private let window: Int
    private let creditSink = Locked<(@Sendable (Int) -> Void)?>(nil)

    init(window: Int) {
        self.window = Swift.max(1, window)
    }

    /// Where credit goes (the connection); it must not call back into this stream.
    func connect(_ sink: @escaping @Sendable (Int) -> Void) {
        creditSink.withLock { $0 = sink }
    }

    private func grant(_ credit: Int) {
        creditSink.withLock { $0 }?(credit)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: RequestBodyStream
        public mutating func next() async throws -> [UInt8]? { try await stream.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }

    /// The next chunk, or nil at the end of the body.
    public func next() async throws -> [UInt8]? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                var credit = 0
                let ready: Result<[UInt8]?, any Error>? = state.withLock { state in
                    if !state.started {
                        state.started = true
                        credit = window
                    }
                    if let chunk = state.chunks.popFirst() {
                        state.takenSinceGrant += chunk.count
                        if state.takenSinceGrant >= window / 2 {
                            credit += state.takenSinceGrant
                            state.takenSinceGrant = 0
                        }
                        return .success(chunk)
                    }
                    if let failure = state.failure { return .failure(failure) }
                    if state.ended { return .success(nil) }
                    if state.waiter != nil { return .failure(StreamClosed("the body is already being read by another task")) }
                    state.waiter = continuation
                    return nil
                }
                if credit > 0 { grant(credit) }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            fail(CancellationError())
        }
    }

    /// The whole body, refused with 413 beyond `limit` bytes.
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var body: [UInt8] = []
        for try await chunk in self {
            if body.count + chunk.count > limit { throw HTTPError(413, message: "request body over \(limit) bytes") }
            body.append(contentsOf: chunk)
        }
        return body
    }

    // MARK: The connection's side (loop thread)

    func receive(_ chunk: [UInt8]) {
        let (waiter, credit) = state.withLock { state -> (CheckedContinuation<[UInt8]?, any Error>?, Int) in
            guard state.failure == nil else { return (nil, 0) }
            guard let waiter = state.waiter else {
                state.chunks.append(chunk)
                return (nil, 0)
            }
            // Handed straight to the waiting reader: taken now, so credit may be due.
            state.waiter = nil
            state.takenSinceGrant += chunk.count
            guard state.takenSinceGrant >= window / 2 else { return (waiter, 0) }
            defer { state.takenSinceGrant = 0 }
            return (waiter, state.takenSinceGrant)
        }
        if credit > 0 { grant(credit) }
        waiter?.resume(returning: chunk)
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, any Error>? in
            state.ended = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Ends the stream with `error`; chunks already received are dropped. The first failure
    /// stays. A body received whole stays readable: a client that closes after sending all
    /// of it (perhaps only half-closing, to wait for the answer) has lost nothing.
    package func fail(_ error: any Error) {
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, any Error>? in
            if state.ended { return nil }
            if state.failure == nil { state.failure = error }
            state.chunks.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: error)
    }
}

/// A stream ended before its end: the client left, or the request was answered already
/// (its deadline passed).
public struct StreamClosed: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
