import Sluice

#if canImport(Glibc)
import Glibc
#endif

/// The object behind a `sluice_request *`: the request as C sees it, and the meeting point
/// of the C handler's answer (from any thread) and the Swift task that waits for it.
///
/// C holds two references: one until the handler function returns, one until the request is
/// answered (an answer after cancellation only releases it). So the handle stays valid until
/// both have happened, and a second answer inside the handler gets an error, not a crash.
final class CRequest: @unchecked Sendable {
    // @unchecked: mutable state is behind `state`'s lock; the C strings are written once in
    // init, or created under the lock and then never changed until deinit.
    let request: Request
    let context: RequestContext
    unowned let server: CServer
    /// Whether its route streams the body (`stream_body`).
    let streamsBody: Bool

    enum Answer: Sendable {
        case response(Response)
        case error(HTTPError)
    }

    typealias CancelCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void

    private typealias CancelHook = CCallback<CancelCallback>

    private struct State: Sendable {
        var answer: Answer?
        var answered = false
        var cancelled = false
        var waiter: UnsafeContinuation<Answer, any Error>?
        var cancelHook: CancelHook?
        var streaming: CStreaming?
        /// What C has read as C strings, and the body copy: each made on its first read (most
        /// handlers read few of them), the same pointer for every later read, freed with the request.
        var owned = [Field: OwnedMemory]()
    }

    /// What C reads through a pointer the request owns.
    enum Field: Hashable, Sendable {
        case method, path, query, id, body
        /// By lowercased name.
        case header(String)
        case parameter(String)
        case queryParameter(String)
    }

    /// malloc'd memory owned by the request (an absent value has none: C reads NULL).
    struct OwnedMemory: @unchecked Sendable {
        // @unchecked: written once under the lock, freed in the request's deinit.
        let pointer: UnsafeMutableRawPointer
    }

    private let state = Locked(State())

    init(request: Request, context: RequestContext, server: CServer, streamsBody: Bool = false) {
        self.streamsBody = streamsBody
        self.request = request
        self.context = context
        self.server = server
    }

    deinit {
        state.withLock { state in
            guard !state.owned.isEmpty else { return }
            for memory in state.owned.values { free(memory.pointer) }
        }
    }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> CRequest? {
        guard let handle else { return nil }
        return Unmanaged<CRequest>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    // MARK: Reading

    var methodPointer: UnsafePointer<CChar>? { string(.method) { request.method.rawValue } }
    var pathPointer: UnsafePointer<CChar>? { string(.path) { request.path } }
    var queryPointer: UnsafePointer<CChar>? { string(.query) { request.query } }
    var idPointer: UnsafePointer<CChar>? { string(.id) { request.id } }

    /// The body, NUL-terminated one byte past its end (C may read a text body as a string).
    var bodyPointer: UnsafeRawPointer {
        UnsafeRawPointer(owned(.body) {
            let body = request.body
            let copy = malloc(body.count + 1)!
            body.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) }
            }
            copy.storeBytes(of: 0, toByteOffset: body.count, as: UInt8.self)
            return copy
        }!)
    }

    /// `field` as a C string (NULL when `text` gives nil), made on its first read.
    func string(_ field: Field, _ text: () -> String?) -> UnsafePointer<CChar>? {
        owned(field) { text().map { UnsafeMutableRawPointer(CString.copy($0)) } }.map {
            UnsafePointer($0.assumingMemoryBound(to: CChar.self))
        }
    }

    /// The memory made for `field` on its first read; every later read gets the same.
    private func owned(_ field: Field, _ make: () -> UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        state.withLock { state in
            if let memory = state.owned[field] { return memory.pointer }
            // Nothing to keep for an absent value (a header not sent): NULL is as stable.
            guard let pointer = make() else { return nil }
            state.owned[field] = OwnedMemory(pointer: pointer)
            return pointer
        }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// The request's streaming side, made on first use (most requests never stream).
    var streaming: CStreaming {
        state.withLock { state in
            if let streaming = state.streaming { return streaming }
            let streaming = CStreaming()
            state.streaming = streaming
            return streaming
        }
    }

    /// Keeps the handle valid while C writes a streamed answer; `releaseStream` undoes it.
    func retainForStream() { _ = Unmanaged.passUnretained(self).retain() }
    func releaseStream() { Unmanaged.passUnretained(self).release() }

    var isAnswered: Bool { state.withLock { $0.answered } }

    // MARK: The handler's side

    /// Calls the before hook and the C handler (here, or on the blocking pool), waits for the
    /// answer, and reports it to the after hook.
    nonisolated(nonsending)
    func run(_ handler: @escaping @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void,
             userData: UnsafeMutableRawPointer?, pool: BlockingPool?, hooks: Hooks?) async throws -> Response {
        guard let hooks, let after = hooks.after else {
            return try await run(handler, userData: userData, pool: pool, before: hooks)
        }
        return try await runReporting(handler, userData: userData, pool: pool, hooks: hooks, after: after)
    }

    /// `run` with an after hook. Apart, and the steps below never inlined: one async frame
    /// holding all of them outgrew the task allocator's slab (a malloc of its own per request).
    @inline(never) nonisolated(nonsending)
    private func runReporting(_ handler: @escaping @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void,
                              userData: UnsafeMutableRawPointer?, pool: BlockingPool?, hooks: Hooks,
                              after: @convention(c) (OpaquePointer?, Int32, Int, UInt64, UnsafeMutableRawPointer?) -> Void)
        async throws -> Response {
        let started = ContinuousClock.now
        func report(_ status: Int, _ bytes: Int) {
            after(handle, Int32(status), bytes, (ContinuousClock.now - started).microseconds, hooks.userData)
        }
        do {
            var response = try await run(handler, userData: userData, pool: pool, before: hooks)
            guard let body = response.streamedBody else {
                report(response.status, response.body.count)
                return response
            }
            // A streamed answer is reported when its body ends, with the bytes written.
            let status = response.status
            let reportLater = UncheckedSendable(report)
            response.streamedBody = ResponseBody(contentLength: body.contentLength, produce: { writer in
                defer { reportLater.value(status, writer.bytesWritten) }
                try await body.produce(writer)
            }, abandoned: body.abandoned)
            return response
        } catch let error as HTTPError {
            report(error.status, error.bodyByteCount(requestID: request.id))
            throw error
        } catch {
            report(0, 0)
            throw error
        }
    }

    @inline(never) nonisolated(nonsending)
    private func run(_ handler: @escaping @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void,
                     userData: UnsafeMutableRawPointer?, pool: BlockingPool?, before: Hooks?) async throws -> Response {
        // The two references C holds: until the handler returns, and until the answer.
        let handle = OpaquePointer(Unmanaged.passRetained(self).retain().toOpaque())
        if let pool {
            let call = UncheckedSendable((handler, userData, before, handle))
            let submitted = pool.submit { [self] in
                callHandler(call.value.0, userData: call.value.1, before: call.value.2, handle: call.value.3)
                Unmanaged.passUnretained(self).release()
            }
            if !submitted {
                Unmanaged.passUnretained(self).release()
                Unmanaged.passUnretained(self).release()
                throw HTTPError(503, message: "server is shutting down")
            }
        } else {
            callHandler(handler, userData: userData, before: before, handle: handle)
            Unmanaged.passUnretained(self).release()
        }
        // A handler that answered before returning (the common case on a loop thread) needs
        // no suspension, continuation or cancellation handler.
        let outcome: Answer
        // Moved out, not copied: nothing reads the answer after this.
        if let given = state.withLock({ state in state.answer.take() }) {
            outcome = given
        } else {
            outcome = try await waitForAnswer()
        }
        switch outcome {
        case .response(let response): return response
        case .error(let error): throw error
        }
    }

    /// Runs the before hook, then the handler unless the hook answered; a hook that claims
    /// to have answered but did not gets the request answered 500.
    private func callHandler(_ handler: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void,
                             userData: UnsafeMutableRawPointer?, before: Hooks?, handle: OpaquePointer) {
        if let hook = before?.before, hook(handle, before?.userData) != 0 {
            if !isAnswered { _ = answer(.error(HTTPError(500, message: "a before hook refused without answering"))) }
            return
        }
        handler(handle, userData)
    }

    @inline(never) nonisolated(nonsending)
    private func waitForAnswer() async throws -> Answer {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Answer, any Error>) in
                let ready: Result<Answer, any Error>? = state.withLock { state in
                    if let answer = state.answer.take() { return .success(answer) }
                    if state.cancelled { return .failure(CancellationError()) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// Marks the request cancelled: the waiting task ends at once (returning its permits),
    /// the C cancel callback runs, and a later answer only releases the request.
    private func cancel() {
        let (waiter, hook) = state.withLock { state -> (UnsafeContinuation<Answer, any Error>?, CancelHook?) in
            guard !state.cancelled, !state.answered else { return (nil, nil) }
            state.cancelled = true
            defer {
                state.waiter = nil
                state.cancelHook = nil
            }
            return (state.waiter, state.cancelHook)
        }
        waiter?.resume(throwing: CancellationError())
        // A handler blocked reading its body wakes with SLUICE_ECANCELED.
        request.bodyStream?.fail(CancellationError())
        if let hook { hook.function(handle, hook.userData) }
    }

    func onCancel(_ callback: @escaping CancelCallback, userData: UnsafeMutableRawPointer?) -> Int32 {
        state.withLock { state in
            if state.cancelled { return ErrorCode.cancelled }
            if state.answered || state.cancelHook != nil { return ErrorCode.state }
            state.cancelHook = CancelHook(function: callback, userData: userData)
            return ErrorCode.ok
        }
    }

    // MARK: The answer, from any thread

    /// Delivers the answer exactly once; releases C's "unanswered" reference.
    func answer(_ answer: Answer) -> Int32 {
        let (code, waiter) = state.withLock { state -> (Int32, UnsafeContinuation<Answer, any Error>?) in
            if state.answered { return (ErrorCode.state, nil) }
            state.answered = true
            state.cancelHook = nil
            if state.cancelled { return (ErrorCode.cancelled, nil) }
            state.answer = answer
            defer { state.waiter = nil }
            return (ErrorCode.ok, state.waiter)
        }
        if code == ErrorCode.state { return code }
        waiter?.resume(returning: answer)
        Unmanaged.passUnretained(self).release()
        return code
    }
}

/// Carries a value the compiler cannot prove Sendable across a boundary where it is used
/// by one thread at a time (here: the user's opaque pointer, handed back to their handler).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
