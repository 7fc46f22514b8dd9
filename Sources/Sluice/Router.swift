/// A handler: takes a request and its context, returns a response or throws.
public typealias Handler = nonisolated(nonsending) @Sendable (Request, RequestContext) async throws -> Response

/// A handler that answers without awaiting anything. The same registration methods take it:
/// a closure with no `await` in it picks this overload. It runs in the request's task like any
/// handler, but without an async call of its own (about 2% less CPU per request).
public typealias SynchronousHandler = @Sendable (Request, RequestContext) throws -> Response

/// A handler that starts synchronously and usually answers before it returns (the C API's:
/// a C handler answers from the call, or later from another thread). Run from the
/// dispatcher's own frame, such a handler costs no async call of its own on the common path.
package typealias ImmediateHandler = @Sendable (Request, RequestContext) throws -> ImmediateOutcome

package enum ImmediateOutcome: Sendable {
    case answered(Response)
    /// Not answered yet: the closure waits for the answer.
    case pending(PendingAnswer)
}

package typealias PendingAnswer = nonisolated(nonsending) @Sendable () async throws -> Response

/// Where a route's handler runs and under what limits.
public struct RouteOptions: Sendable {
    /// Whether the handler runs on the event loop thread that read the request (the fast
    /// path). Set it to false for a handler that may block or compute for long: its body then
    /// runs on Swift's global executor and answers through the thread-safe respond path.
    public var runsOnLoop: Bool
    /// A gate of the route's own, passed before the global one; nil for none.
    public var gate: Gate?
    /// Permits each request takes, of `gate` and of the global budget (an expensive route
    /// takes more); a request heavier than a gate's limit runs there alone.
    public var weight: Int
    /// The priority of the route's requests unless `Configuration.priorityClassifier` picks one.
    public var priority: RequestPriority?
    /// A guaranteed share of the global budget for this route (and any other using it).
    public var share: GuaranteedShare?
    /// Middleware of this route alone, inside the router's and the group's.
    public var middleware: [any Middleware]
    /// The handler's deadline, overriding `Configuration.handlerTimeout`; then 504.
    public var timeout: Duration?
    /// Whether the handler takes the request body as it arrives (`Request.bodyStream`)
    /// instead of collected in `Request.body`.
    public var streamsBody: Bool
    /// The largest body this route accepts, overriding `Configuration.maxBodyBytes`; beyond
    /// it, 413 (from Content-Length before reading, or mid-stream, closing the connection).
    public var maxBodyBytes: Int?
    /// A monitoring route (stats, health): it bypasses every gate and is left out of the
    /// request accounting, so it answers under overload and observing changes nothing observed.
    public var isMonitoring: Bool

    public init(
        runsOnLoop: Bool = true, gate: Gate? = nil, weight: Int = 1, timeout: Duration? = nil, isMonitoring: Bool = false,
        priority: RequestPriority? = nil, share: GuaranteedShare? = nil, middleware: [any Middleware] = [],
        streamsBody: Bool = false, maxBodyBytes: Int? = nil
    ) {
        self.streamsBody = streamsBody
        self.maxBodyBytes = maxBodyBytes
        self.middleware = middleware
        self.priority = priority
        self.share = share
        self.runsOnLoop = runsOnLoop
        self.gate = gate
        self.weight = weight
        self.timeout = timeout
        self.isMonitoring = isMonitoring
    }
}

/// One registered route.
///
/// A class: every request refers to its route, and one reference is cheaper to hold and
/// copy than the options and handler it carries.
public final class Route: Sendable {
    public let method: HTTPMethod
    public let pattern: RoutePattern
    public let options: RouteOptions
    let handler: Handler
    /// The handler itself when it is immediate and no middleware wraps it; `handler` then
    /// runs the same.
    let immediate: ImmediateHandler?

    init(method: HTTPMethod, pattern: RoutePattern, options: RouteOptions, handler: @escaping Handler,
         immediate: ImmediateHandler? = nil) {
        self.method = method
        self.pattern = pattern
        self.options = options
        self.handler = handler
        self.immediate = immediate
    }
}

/// Method and path routing with path parameters.
///
/// Routes without parameters are found by one dictionary lookup; the others are tried in
/// registration order. A HEAD request falls back to the GET route of the same path.
public struct Router: Sendable {
    enum Match {
        case found(Route, [String: String])
        case methodNotAllowed([HTTPMethod])
        case notFound
        /// A method no route uses and that is not one of RFC 9110's: 501.
        case notImplemented
        /// `OPTIONS *`: the server's methods.
        case serverOptions([HTTPMethod])
    }

    /// RFC 9110 section 9 methods, and PATCH (RFC 5789).
    private static let standardMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    private var literalRoutes = LiteralRoutes()
    private var patternRoutes: [Route] = []
    /// Middleware for the routes added from now on, outermost first.
    private var middleware: [any Middleware] = []
    /// The path prefix of a group's routes.
    private var prefix = ""

    public init() {}

    /// The guaranteed shares, each once, by name.
    var shares: [GuaranteedShare] {
        var seen = Set<ObjectIdentifier>()
        let routes = literalRoutes.entries.flatMap(\.routes) + patternRoutes
        return routes.compactMap(\.options.share).filter { seen.insert(ObjectIdentifier($0)).inserted }
            .sorted { $0.name < $1.name }
    }

    /// The route gates, each once.
    var gates: [Gate] {
        var seen = Set<ObjectIdentifier>()
        let routes = literalRoutes.entries.flatMap(\.routes) + patternRoutes
        return routes.compactMap(\.options.gate).filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    /// Whether some route streams its body or has a body limit of its own: then each request
    /// head with a body is routed before its body is read.
    var plansBodies: Bool {
        (literalRoutes.entries.flatMap(\.routes) + patternRoutes).contains {
            $0.options.streamsBody || $0.options.maxBodyBytes != nil
        }
    }

    /// Adds middleware around the routes added after this call (of this router or group).
    public mutating func use(_ middleware: any Middleware) {
        self.middleware.append(middleware)
    }

    /// Adds routes under a path prefix, with middleware of their own (`use` inside `build`)
    /// inside this router's.
    public mutating func group(_ prefix: String, _ build: (inout Router) throws -> Void) rethrows {
        var group = Router()
        group.prefix = self.prefix + prefix
        group.middleware = middleware
        try build(&group)
        for entry in group.literalRoutes.entries {
            for route in entry.routes { literalRoutes.insert(route, at: entry.path) }
        }
        patternRoutes += group.patternRoutes
    }

    /// Registers a route.
    /// - Throws: `RoutePattern.SyntaxError` for an invalid pattern.
    public mutating func add(
        _ method: HTTPMethod, _ pattern: String, options: RouteOptions = RouteOptions(), handler: @escaping Handler
    ) throws {
        try add(method, pattern, options: options, handler: handler, immediate: nil)
    }

    /// Registers a route with a handler that does not await.
    /// - Throws: `RoutePattern.SyntaxError` for an invalid pattern.
    public mutating func add(
        _ method: HTTPMethod, _ pattern: String, options: RouteOptions = RouteOptions(),
        handler: @escaping SynchronousHandler
    ) throws {
        try add(method, pattern, options: options, immediate: { request, context in .answered(try handler(request, context)) })
    }

    /// Registers a route whose handler starts synchronously (see `ImmediateHandler`).
    package mutating func add(
        _ method: HTTPMethod, _ pattern: String, options: RouteOptions, immediate: @escaping ImmediateHandler
    ) throws {
        let handler: Handler = { request, context in
            switch try immediate(request, context) {
            case .answered(let response): return response
            case .pending(let answer): return try await answer()
            }
        }
        try add(method, pattern, options: options, handler: handler, immediate: immediate)
    }

    private mutating func add(_ method: HTTPMethod, _ pattern: String, options: RouteOptions, handler: @escaping Handler,
                              immediate: ImmediateHandler?) throws {
        let full = prefix.isEmpty ? pattern : (pattern == "/" ? prefix : prefix + pattern)
        let chain = middleware + options.middleware
        let route = Route(method: method, pattern: try RoutePattern(full), options: options,
                          handler: MiddlewareChain.compose(chain, handler), immediate: chain.isEmpty ? immediate : nil)
        insert(route)
        // A preflight must reach the middleware that answers it, not a 405.
        if chain.contains(where: \.answersPreflight) && method != .options && !hasRoute(.options, route.pattern) {
            insert(Route(method: .options, pattern: route.pattern, options: options,
                         handler: MiddlewareChain.compose(chain) { _, _ in Response(status: 204) }))
        }
    }

    private mutating func insert(_ route: Route) {
        if let path = route.pattern.literalPath {
            literalRoutes.insert(route, at: path)
        } else {
            patternRoutes.append(route)
        }
    }

    private func hasRoute(_ method: HTTPMethod, _ pattern: RoutePattern) -> Bool {
        if let path = pattern.literalPath { return literalRoutes.route(method, at: path) != nil }
        return patternRoutes.contains { $0.method == method && $0.pattern.description == pattern.description }
    }

    /// Registers a route whose pattern is known to be valid; traps on an invalid pattern.
    public mutating func on(
        _ method: HTTPMethod, _ pattern: String, options: RouteOptions = RouteOptions(), handler: @escaping Handler
    ) {
        Self.validPattern { try add(method, pattern, options: options, handler: handler) }
    }

    /// `on` for a handler that does not await.
    public mutating func on(
        _ method: HTTPMethod, _ pattern: String, options: RouteOptions = RouteOptions(),
        handler: @escaping SynchronousHandler
    ) {
        Self.validPattern { try add(method, pattern, options: options, handler: handler) }
    }

    private static func validPattern(_ register: () throws -> Void) {
        do {
            try register()
        } catch {
            preconditionFailure("\(error)")
        }
    }

    public mutating func get(_ pattern: String, options: RouteOptions = RouteOptions(), handler: @escaping Handler) {
        on(.get, pattern, options: options, handler: handler)
    }

    public mutating func get(_ pattern: String, options: RouteOptions = RouteOptions(),
                           handler: @escaping SynchronousHandler) {
        on(.get, pattern, options: options, handler: handler)
    }

    public mutating func post(_ pattern: String, options: RouteOptions = RouteOptions(), handler: @escaping Handler) {
        on(.post, pattern, options: options, handler: handler)
    }

    public mutating func post(_ pattern: String, options: RouteOptions = RouteOptions(),
                           handler: @escaping SynchronousHandler) {
        on(.post, pattern, options: options, handler: handler)
    }

    public mutating func put(_ pattern: String, options: RouteOptions = RouteOptions(), handler: @escaping Handler) {
        on(.put, pattern, options: options, handler: handler)
    }

    public mutating func put(_ pattern: String, options: RouteOptions = RouteOptions(),
                           handler: @escaping SynchronousHandler) {
        on(.put, pattern, options: options, handler: handler)
    }

    public mutating func delete(_ pattern: String, options: RouteOptions = RouteOptions(), handler: @escaping Handler) {
        on(.delete, pattern, options: options, handler: handler)
    }

    public mutating func delete(_ pattern: String, options: RouteOptions = RouteOptions(),
                           handler: @escaping SynchronousHandler) {
        on(.delete, pattern, options: options, handler: handler)
    }

    /// Every method some route uses.
    var methods: Set<HTTPMethod> {
        Set(literalRoutes.entries.flatMap { $0.routes.map(\.method) } + patternRoutes.map(\.method))
    }

    /// Routes a request by its path's bytes. A literal path with a route for `method` (or
    /// GET's, for HEAD) is found without making a string of them: the registered path's
    /// string is handed back as the request's path. Otherwise the path's string is made and
    /// routed as `match(method:path:)` does.
    func match(method: HTTPMethod, pathBytes: UnsafeBufferPointer<UInt8>) -> (match: Match, path: String) {
        if let entry = literalRoutes.entry(for: pathBytes), let route = entry.route(answering: method) {
            return (.found(route, [:]), entry.path)
        }
        let path = String(decoding: pathBytes, as: UTF8.self)
        return (match(method: method, path: path), path)
    }

    func match(method: HTTPMethod, path: String) -> Match {
        if path == "*" && method == .options { return .serverOptions(Array(methods)) }
        let match = matchRoute(method: method, path: path)
        if case .found = match { return match }
        // Only once routing failed: this hashes the method, which the hot path need not do.
        // CONNECT names an authority, which no route pattern (a path) matches: the server does
        // not implement it, rather than "not found".
        let unsupported = !Self.standardMethods.contains(method.rawValue) || method.rawValue == "CONNECT"
        if unsupported && !methods.contains(method) { return .notImplemented }
        return match
    }

    private func matchRoute(method: HTTPMethod, path: String) -> Match {
        var allowed: [HTTPMethod] = []
        if let entry = literalRoutes.entry(for: path) {
            if let route = entry.route(answering: method) { return .found(route, [:]) }
            allowed.append(contentsOf: entry.routes.map(\.method))
        }
        if patternRoutes.isEmpty { return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed) }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        let pathSegments = path == "/" ? [] : segments
        var headFallback: (Route, [String: String])?
        for route in patternRoutes {
            guard let parameters = route.pattern.match(pathSegments) else { continue }
            if route.method == method { return .found(route, parameters) }
            if method == .head && route.method == .get && headFallback == nil { headFallback = (route, parameters) }
            allowed.append(route.method)
        }
        if let (route, parameters) = headFallback { return .found(route, parameters) }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed)
    }
}
