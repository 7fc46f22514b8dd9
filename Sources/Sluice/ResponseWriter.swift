/// Writes a streamed response body (`Response.stream`) as the handler produces it.
///
/// `write` returns once the bytes are queued for the connection, and suspends while more
/// than `Configuration.writeHighWaterBytes` of them wait to reach the socket: a client that
/// stops reading suspends the writer, not the server's memory. Once the client is gone,
/// the deadline passed or the task is cancelled, `write` throws.
public final class ResponseWriter: Sendable {
    private struct State {
        /// Bytes queued and not yet reported on the socket.
        var unsent = 0
        var waiter: CheckedContinuation<Void, any Error>?
        var failure: (any Error)?
        var trailers = HTTPHeaders()
        var written = 0
    }

    private let state = Locked(State())
    private let bound: Int
    private let send: @Sendable ([UInt8]) -> Bool

    /// `send` queues bytes on the connection, false once the response can take no more.
    init(bound: Int, send: @escaping @Sendable ([UInt8]) -> Bool) {
        self.bound = max(1, bound)
        self.send = send
    }

    /// Queues `bytes`; suspends while the connection's unsent output is above its bound.
    public func write(_ bytes: [UInt8]) async throws {
        try Task.checkCancellation()
        if let failure = state.withLock({ $0.failure }) { throw failure }
        guard !bytes.isEmpty else { return }
        let above = state.withLock { state in
            state.unsent += bytes.count
            state.written += bytes.count
            return state.unsent > bound
        }
        guard send(bytes) else {
            throw state.withLock { $0.failure } ?? StreamClosed("the response is closed")
        }
        if above { try await waitForRoom() }
    }

    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }

    /// A trailer field sent after a chunked body (ignored when the length was declared).
    public func addTrailer(name: String, value: String) {
        state.withLock { $0.trailers.add(name: name, value: value) }
    }

    /// Body bytes written so far.
    public var bytesWritten: Int { state.withLock { $0.written } }

    var trailers: HTTPHeaders { state.withLock { $0.trailers } }

    private func waitForRoom() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = state.withLock { state in
                    if let failure = state.failure { return .failure(failure) }
                    if state.unsent <= bound / 2 { return .success(()) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            fail(CancellationError())
        }
    }

    // MARK: The connection's side

    /// Bytes reached the socket. Loop thread.
    func written(_ count: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.unsent -= count
            guard state.unsent <= bound / 2, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Makes the waiting and every later write throw `error`. The first failure stays.
    func fail(_ error: any Error) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.failure == nil { state.failure = error }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: error)
    }
}

/// A response body produced while it is sent; see `Response.stream`.
///
/// A class, so that a `Response` is four words: every async frame that holds a response (each
/// request's, through the engine and its handler) would otherwise carry this body's closures
/// inline, streamed or not.
public final class ResponseBody: Sendable {
    /// The body's length when known in advance (sent as Content-Length); nil for chunked coding.
    public let contentLength: Int?
    package let produce: @Sendable (ResponseWriter) async throws -> Void
    /// Called instead of `produce` when the response cannot start (answered already, client gone).
    package let abandoned: (@Sendable () -> Void)?

    package init(contentLength: Int?, produce: @escaping @Sendable (ResponseWriter) async throws -> Void,
                 abandoned: (@Sendable () -> Void)? = nil) {
        self.contentLength = contentLength
        self.produce = produce
        self.abandoned = abandoned
    }
}

extension Response {
    /// A response whose body `produce` writes as it goes, after the handler returns, in the
    /// request's task (its deadline and gate permits still apply). With `contentLength` the
    /// body is sent with Content-Length (writing fewer bytes closes the connection, more
    /// are dropped); without it, with chunked transfer coding (HTTP/1.1) or until the
    /// connection closes (HTTP/1.0). A `produce` that throws aborts the response by closing
    /// the connection, since its status was sent already.
    public static func stream(
        status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), contentLength: Int? = nil,
        _ produce: @escaping @Sendable (ResponseWriter) async throws -> Void
    ) -> Response {
        var response = Response(status: status, headers: headers)
        response.streamedBody = ResponseBody(contentLength: contentLength, produce: produce)
        return response
    }
}
