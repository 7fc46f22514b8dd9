/// Code around handlers: it sees the request first and the response last, and may answer
/// itself without calling `next` (short-circuit), or change either side.
///
/// Middleware composes per router (`Router.use`), per group (`Router.group`) and per route
/// (`RouteOptions.middleware`), outermost first, in that order. It runs inside the gates and
/// the deadline, as part of the handler: requests the engine refuses itself (404, 405, 503)
/// never reach it.
public protocol Middleware: Sendable {
    func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response

    /// Whether it answers CORS preflight requests: routes under it then also get an OPTIONS
    /// route (unless they have one), so that the router does not refuse the preflight with 405.
    var answersPreflight: Bool { get }
}

extension Middleware {
    public var answersPreflight: Bool { false }
}

extension HTTPError {
    /// The size of the JSON body the engine answers for this error.
    package func bodyByteCount(requestID: String) -> Int {
        JSON.errorBody(message: message, requestID: requestID).utf8.count
    }
}

enum MiddlewareChain {
    /// `handler` wrapped by `chain`, the first element outermost; the handler itself for no middleware.
    static func compose(_ chain: [any Middleware], _ handler: @escaping Handler) -> Handler {
        // A loop, not `reduce`: a closure passed through a generic comes back wrapped in two
        // reabstraction thunks, two more async frames and calls on every request.
        var composed = handler
        for middleware in chain.reversed() {
            let next = composed
            composed = { request, context in try await middleware.handle(request, context: context, next: next) }
        }
        return composed
    }
}
