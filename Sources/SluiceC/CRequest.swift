import Sluice

#if canImport(Glibc)
import Glibc
#endif

/// What a `CRequest` holds: the request as C sees it, and (under the request's lock) the
/// answer's state and the C memory made for C's reads.
struct CRequestCore {
    /// A classifier's view is pointed at each request in turn (`withView`); for the others,
    /// set once.
    var request: Request
    /// Its route's path parameters (none yet for a classifier's view).
    let parameters: [String: String]
    /// `RequestContext.gateOccupancyOnEntry` (nil for a classifier's view).
    let gateOccupancyOnEntry: Int?
    // unowned(unsafe): a server outlives its requests' use of it (sluice_server_destroy waits
    // until its run has ended: every request task done, the blocking pool joined); no
    // reference counting per request.
    unowned(unsafe) let server: CServer
    /// Whether its route streams the body (`stream_body`).
    let streamsBody: Bool
    /// A classifier's view: it cannot be answered.
    let isView: Bool
    /// Only under the lock.
    var state = CRequest.State()
}

/// The object behind a `sluice_request *`: the request as C sees it, and the meeting point
/// of the C handler's answer (from any thread) and the Swift task that waits for it.
///
/// C holds two references: one until the handler function returns, one until the request is
/// answered (an answer after cancellation only releases it). So the handle stays valid until
/// both have happened, and a second answer inside the handler gets an error, not a crash.
///
/// A classifier gets a view: the same reading, no answer (its calls get SLUICE_ESTATE), no
/// path parameters yet. Each loop thread keeps one view and points it at each request it
/// classifies (`withView`): a fresh one per request cost an allocation and a mutex.
///
/// A buffer whose header is the request and whose one element is its lock: one allocation per
/// request for both (a `Locked` beside it took a second). The lock is an `InlineLock` (one
/// atomic word) rather than a pthread mutex, which had to be initialized and destroyed per
/// request.
///
/// The standard library marks ManagedBuffer unavailable as Sendable, so a CRequest crosses into
/// a @Sendable closure as `sendable` (`state` is read and written only under the lock; the
/// rest is immutable).
final class CRequest: ManagedBuffer<CRequestCore, InlineLock> {

    enum Answer: Sendable {
        case response(Response)
        case error(HTTPError)

        func response() throws -> Response {
            switch self {
            case .response(let response): return response
            case .error(let error): throw error
            }
        }
    }

    typealias CancelCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void

    typealias CancelHook = CCallback<CancelCallback>

    struct State {
        var answer: Answer?
        var answered = false
        var cancelled = false
        var waiter: UnsafeContinuation<Answer, any Error>?
        var cancelHook: CancelHook?
        var streaming: CStreaming?
        /// What C has read as C strings, and the body copy: each made on its first read of a
        /// present value (an absent one has none: C reads NULL), the same pointer for every
        /// later read, freed with the request.
        var owned: [Field: UnsafeMutableRawPointer] = [:]
    }

    /// What C reads through a pointer the request owns.
    enum Field: Hashable, Sendable {
        case method, path, query, id, body
        /// By lowercased name.
        case header(String)
        case parameter(String)
        case queryParameter(String)
    }

    // Read through the header's pointer: `header` is a class property, and reading one costs
    // a dynamic exclusivity check (three per request).
    var request: Request { withUnsafeMutablePointerToHeader { $0.pointee.request } }
    var parameters: [String: String] { withUnsafeMutablePointerToHeader { $0.pointee.parameters } }
    var gateOccupancyOnEntry: Int? { withUnsafeMutablePointerToHeader { $0.pointee.gateOccupancyOnEntry } }
    var server: CServer { withUnsafeMutablePointerToHeader { $0.pointee.server } }
    var streamsBody: Bool { withUnsafeMutablePointerToHeader { $0.pointee.streamsBody } }
    private var isView: Bool { withUnsafeMutablePointerToHeader { $0.pointee.isView } }

    // Never inlined into the closure that makes each request: its temporaries would widen
    // the dispatcher's frame.
    @inline(never)
    static func make(request: Request, parameters: [String: String], gateOccupancyOnEntry: Int?, server: CServer,
                     streamsBody: Bool = false) -> CRequest {
        make(CRequestCore(request: request, parameters: parameters, gateOccupancyOnEntry: gateOccupancyOnEntry,
                          server: server, streamsBody: streamsBody, isView: false))
    }

    /// Runs `body` with this thread's classifier view of `request`. The classifier runs on
    /// loop threads only, one request at a time, and keeps neither the handle nor what it read
    /// (sluice.h), so one view per thread serves every request in turn.
    static func withView<T>(of request: Request, server: CServer, _ body: (CRequest) -> T) -> T {
        let view = ClassifierViewSlot.view(for: server)
        view.withUnsafeMutablePointerToHeader { $0.pointee.request = request }
        defer { view.recycleView() }
        return body(view)
    }

    fileprivate static func makeView(server: CServer) -> CRequest {
        make(CRequestCore(request: ClassifierViewSlot.blank, parameters: [:], gateOccupancyOnEntry: nil,
                          server: server, streamsBody: false, isView: true))
    }

    /// Frees what C read through the view and lets its request go.
    private func recycleView() {
        withState { state in
            for pointer in state.owned.values { free(pointer) }
            state.owned.removeAll(keepingCapacity: true)
        }
        withUnsafeMutablePointerToHeader { $0.pointee.request = ClassifierViewSlot.blank }
    }

    private static func make(_ core: CRequestCore) -> CRequest {
        // create(minimumCapacity:) returns the dynamic type, a CRequest.
        let made = unsafeDowncast(create(minimumCapacity: 1) { _ in core }, to: CRequest.self)
        made.withUnsafeMutablePointerToElements { lock in lock.initialize(to: InlineLock()) }
        return made
    }

    deinit {
        // The header is destroyed by the buffer; the lock and the C memory are not.
        withUnsafeMutablePointers { core, lock in
            for pointer in core.pointee.state.owned.values { free(pointer) }
            lock.deinitialize(count: 1)
        }
    }

    /// Runs `body` with the state, under the lock (every body here is short and never blocks,
    /// as InlineLock asks: answers and hooks are taken out and acted on after).
    private func withState<T>(_ body: (inout State) throws -> T) rethrows -> T {
        try withUnsafeMutablePointers { core, lock in
            lock.pointee.lock()
            defer { lock.pointee.unlock() }
            return try body(&core.pointee.state)
        }
    }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// Itself, for a @Sendable closure (see the type's comment).
    private var sendable: UncheckedSendable<CRequest> { UncheckedSendable(self) }

    static func from(_ handle: OpaquePointer?) -> CRequest? {
        guard let handle else { return nil }
        return Unmanaged<CRequest>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// `body` with the request behind `handle` borrowed, not retained (`from` retains it for
    /// the call): C holds a reference for as long as it may call. For the calls made on every
    /// request; `body` must not use the request after answering it (that may release the last
    /// reference).
    static func borrowing<T>(_ handle: OpaquePointer?, orElse fallback: T, _ body: (CRequest) -> T) -> T {
        guard let handle else { return fallback }
        return Unmanaged<CRequest>.fromOpaque(UnsafeRawPointer(handle))._withUnsafeGuaranteedRef(body)
    }

    // MARK: Reading

    var methodPointer: UnsafePointer<CChar>? { string(.method, request.method.rawValue) }
    var pathPointer: UnsafePointer<CChar>? { string(.path, request.path) }
    var queryPointer: UnsafePointer<CChar>? { string(.query, request.query) }
    var idPointer: UnsafePointer<CChar>? { string(.id, request.id) }

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
        })
    }

    /// `value` as a C string kept as `field` (NULL for nil, with nothing kept: as stable).
    func string(_ field: @autoclosure () -> Field, _ value: String?) -> UnsafePointer<CChar>? {
        guard let value else { return nil }
        let pointer = owned(field()) { UnsafeMutableRawPointer(CString.copy(value)) }
        return UnsafePointer(pointer.assumingMemoryBound(to: CChar.self))
    }

    /// The memory made for `field` on its first read; every later read gets the same.
    private func owned(_ field: Field, _ make: () -> UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        withState { state in
            if let pointer = state.owned[field] { return pointer }
            let pointer = make()
            state.owned[field] = pointer
            return pointer
        }
    }

    var isCancelled: Bool { isView ? false : withState { $0.cancelled } }

    /// The request's streaming side, made on first use (most requests never stream); nil for
    /// a classifier's view.
    var streaming: CStreaming? {
        if isView { return nil }
        return withState { state in
            if let streaming = state.streaming { return streaming }
            let streaming = CStreaming()
            state.streaming = streaming
            return streaming
        }
    }

    /// Keeps the handle valid while C writes a streamed answer; `releaseStream` undoes it.
    func retainForStream() { _ = Unmanaged.passUnretained(self).retain() }
    func releaseStream() { Unmanaged.passUnretained(self).release() }

    /// Whether it was answered (a classifier's view counts as answered: it cannot be).
    var isAnswered: Bool { isView ? true : withState { $0.answered } }

    // MARK: The handler's side

    /// Calls the before hook and the C handler (here, or on the blocking pool); the answer if
    /// the handler gave it already (the common case on a loop thread), else how to wait for
    /// it and report it to the after hook.
    ///
    /// Synchronous, so that the dispatcher runs it in its own frame: an async function here
    /// kept a frame in the task's allocator, and each 1 KiB the frames outgrow costs a malloc.
    @inline(never)
    func runImmediately(_ route: CRoute) throws -> ImmediateOutcome {
        let pool = route.blocking ? server.running.pool : nil
        let hooks = route.monitoring ? nil : server.running.hooks
        if let hooks, let after = hooks.after {
            let request = sendable
            return .pending {
                try await request.value.runReporting(route.handler, userData: route.userData, pool: pool, hooks: hooks,
                                                     after: after)
            }
        }
        try start(route.handler, userData: route.userData, pool: pool, before: hooks)
        if let answer = takeAnswer() { return .answered(try answer.response()) }
        let request = sendable
        return .pending { try await request.value.waitForAnswer().response() }
    }

    /// `runImmediately` with an after hook: starts the handler, waits for its answer and reports it.
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
            try start(handler, userData: userData, pool: pool, before: hooks)
            // No fast path here: waitForAnswer takes an answer already given as well.
            var response = try await waitForAnswer().response()
            guard let body = response.streamedBody else {
                report(response.status, response.bodyCount)
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

    /// Calls the handler here, or hands it to the blocking pool; throws 503 when the pool is
    /// shutting down.
    @inline(never)
    private func start(_ handler: @escaping @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void,
                       userData: UnsafeMutableRawPointer?, pool: BlockingPool?, before: Hooks?) throws {
        // The two references C holds: until the handler returns, and until the answer.
        let handle = OpaquePointer(Unmanaged.passRetained(self).retain().toOpaque())
        guard let pool else {
            callHandler(handler, userData: userData, before: before, handle: handle)
            Unmanaged.passUnretained(self).release()
            return
        }
        let call = UncheckedSendable((self, handler, userData, before, handle))
        let submitted = pool.submit {
            let (request, handler, userData, before, handle) = call.value
            request.callHandler(handler, userData: userData, before: before, handle: handle)
            Unmanaged.passUnretained(request).release()
        }
        if !submitted {
            Unmanaged.passUnretained(self).release()
            Unmanaged.passUnretained(self).release()
            throw HTTPError(503, message: "server is shutting down")
        }
    }

    /// The answer, moved out (nothing reads it after), if the handler gave it already (the
    /// common case on a loop thread: no suspension, continuation or cancellation handler).
    @inline(never)
    private func takeAnswer() -> Answer? {
        withState { state in state.answer.take() }
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

    /// The answer: at once if the handler gave it already, else when it does (or the request
    /// is cancelled).
    @inline(never) nonisolated(nonsending)
    private func waitForAnswer() async throws -> Answer {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Answer, any Error>) in
                let ready: Result<Answer, any Error>? = withState { state in
                    if let answer = state.answer.take() { return .success(answer) }
                    if state.cancelled { return .failure(CancellationError()) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: { [request = sendable] in
            request.value.cancel()
        }
    }

    /// Marks the request cancelled: the waiting task ends at once (returning its permits),
    /// the C cancel callback runs, and a later answer only releases the request.
    private func cancel() {
        let (waiter, hook) = withState { state -> (UnsafeContinuation<Answer, any Error>?, CancelHook?) in
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
        if isView { return ErrorCode.state }
        return withState { state in
            if state.cancelled { return ErrorCode.cancelled }
            if state.answered || state.cancelHook != nil { return ErrorCode.state }
            state.cancelHook = CancelHook(function: callback, userData: userData)
            return ErrorCode.ok
        }
    }

    // MARK: The answer, from any thread

    /// Delivers the answer exactly once; releases C's "unanswered" reference.
    func answer(_ answer: Answer) -> Int32 {
        if isView { return ErrorCode.state }
        let (code, waiter) = withState { state -> (Int32, UnsafeContinuation<Answer, any Error>?) in
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

/// Each loop thread's classifier view, in thread-local storage: released when the thread ends.
private enum ClassifierViewSlot {
    /// What an idle view points at, so that it holds no request (nor its body) between uses.
    static let blank = Request(method: .get, target: "/", path: "/", query: nil, headers: HTTPHeaders(), body: [], id: "")

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { view in
            if let view { Unmanaged<CRequest>.fromOpaque(view).release() }
        }
        precondition(created == 0, "pthread_key_create failed: \(created)")
        return key
    }()

    /// This thread's view for `server` (a view made for another server is replaced).
    static func view(for server: CServer) -> CRequest {
        if let stored = pthread_getspecific(key) {
            let view = Unmanaged<CRequest>.fromOpaque(stored).takeUnretainedValue()
            if view.server === server { return view }
            Unmanaged<CRequest>.fromOpaque(stored).release()
        }
        let view = CRequest.makeView(server: server)
        pthread_setspecific(key, Unmanaged.passRetained(view).toOpaque())
        return view
    }
}
