@testable import Sluice
import Testing

@Suite("Router")
struct RouterTests {
    private func router() -> Router {
        var router = Router()
        router.get("/hello") { _, _ in .text("hello") }
        router.get("/users/:id") { _, _ in .text("user") }
        router.delete("/users/:id") { _, _ in .text("deleted") }
        router.get("/users/:id/files/**") { _, _ in .text("files") }
        router.get("/any/*/end") { _, _ in .text("any") }
        router.post("/hello") { _, _ in .text("posted") }
        return router
    }

    @Test("matches literal and parameter routes, with decoded parameters")
    func matches() {
        let router = router()
        guard case .found(let route, let parameters) = router.match(method: .get, path: "/users/a%20b") else {
            Issue.record("no match")
            return
        }
        #expect(route.pattern.description == "/users/:id")
        #expect(parameters == ["id": "a b"])
        guard case .found(_, let rest) = router.match(method: .get, path: "/users/7/files/a/b/c") else {
            Issue.record("no match for the rest pattern")
            return
        }
        #expect(rest == ["id": "7", "**": "a/b/c"])
        if case .found = router.match(method: .get, path: "/any/x/end") {} else { Issue.record("wildcard") }
    }

    @Test("tells not found from method not allowed")
    func refusals() {
        let router = router()
        if case .notFound = router.match(method: .get, path: "/nope") {} else { Issue.record("expected 404") }
        if case .notFound = router.match(method: .get, path: "/users") {} else { Issue.record("expected 404") }
        if case .notFound = router.match(method: .get, path: "/users/") {} else { Issue.record("empty parameter") }
        guard case .methodNotAllowed(let allowed) = router.match(method: .put, path: "/users/1") else {
            Issue.record("expected 405")
            return
        }
        #expect(Set(allowed) == [.get, .delete])
    }

    @Test("CONNECT (its target an authority, which no route pattern matches) and an unknown method no route uses are not implemented")
    func unsupportedMethods() {
        let connect = HTTPMethod(rawValue: "CONNECT")
        if case .notImplemented = router().match(method: connect, path: "example.com:443") {} else {
            Issue.record("expected 501 for CONNECT")
        }
        if case .notImplemented = router().match(method: HTTPMethod(rawValue: "BREW"), path: "/hello") {} else {
            Issue.record("expected 501 for BREW")
        }
    }

    @Test("HEAD falls back to GET")
    func headFallback() {
        if case .found = router().match(method: .head, path: "/hello") {} else { Issue.record("literal HEAD") }
        if case .found = router().match(method: .head, path: "/users/1") {} else { Issue.record("pattern HEAD") }
    }

    @Test("a handler with no await registers as synchronous (no async call per request), unless middleware wraps it")
    func synchronousHandlers() async throws {
        var router = Router()
        router.get("/sync") { _, _ in .text("sync") }
        router.post("/sync-throws") { _, _ in throw HTTPError(409, message: "taken") }
        router.get("/async") { _, _ in
            await Task.yield()
            return .text("async")
        }
        router.group("/wrapped") { group in
            group.use(PassThrough())
            group.get("/sync") { _, _ in .text("wrapped") }
        }
        func route(_ method: HTTPMethod, _ path: String) throws -> Route {
            guard case .found(let route, _) = router.match(method: method, path: path) else {
                throw HTTPError(404, message: path)
            }
            return route
        }
        let context = RequestContext(requestID: "r")
        let request = Request(method: .get, target: "/", path: "/", query: nil, headers: HTTPHeaders(), body: [], id: "r")
        let sync = try route(.get, "/sync")
        guard case .answered(let answered)? = try sync.immediate?(request, context) else {
            Issue.record("a closure without await took the async overload")
            return
        }
        #expect(String(decoding: answered.body, as: UTF8.self) == "sync")
        #expect(try await sync.handler(request, context).body == Array("sync".utf8), "the handler runs the same")
        #expect(throws: HTTPError.self) { try route(.post, "/sync-throws").immediate?(request, context) }
        #expect(try route(.get, "/async").immediate == nil)
        let wrapped = try route(.get, "/wrapped/sync")
        #expect(wrapped.immediate == nil, "middleware must run around it")
        #expect(try await wrapped.handler(request, context).body == Array("wrapped".utf8))
    }

    @Test("refuses invalid patterns with a reason", arguments: ["hello", "/a/:", "/a/:x/:x", "/a/**/b", "/a//b", "/a/b:c", "/a/:x-y"])
    func invalidPatterns(_ pattern: String) {
        #expect(throws: RoutePattern.SyntaxError.self) { try RoutePattern(pattern) }
    }
}

private struct PassThrough: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response {
        try await next(request, context)
    }
}
