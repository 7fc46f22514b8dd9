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

    /// Routes `path` by its bytes, as the engine does.
    private func match(_ router: Router, _ method: HTTPMethod, _ path: String) -> (match: Router.Match, path: String) {
        var bytes = Array(path.utf8)
        return bytes.withUnsafeMutableBufferPointer { router.match(method: method, pathBytes: UnsafeBufferPointer($0)) }
    }

    @Test("routing by the path's bytes finds what routing by its string finds, and hands back the path")
    func matchesBytes() {
        let router = router()
        for (method, path) in [(HTTPMethod.get, "/hello"), (.post, "/hello"), (.head, "/hello"), (.get, "/users/a%20b"),
                               (.get, "/users/7/files/a/b"), (.put, "/users/1"), (.get, "/nope"), (.put, "/hello"),
                               (HTTPMethod(rawValue: "BREW"), "/hello"), (.get, "/héllo"), (.get, "")] {
            let (byBytes, decoded) = match(router, method, path)
            #expect(decoded == path)
            #expect(describe(byBytes) == describe(router.match(method: method, path: path)), "\(method) \(path)")
        }
        guard case .found(let route, _) = match(router, .post, "/hello").match else {
            Issue.record("no match for POST /hello")
            return
        }
        #expect(route.method == .post)
    }

    @Test("literal paths stay found among many, with a later route replacing one of the same method and path")
    func manyLiteralRoutes() {
        var router = Router()
        for i in 0..<300 {
            router.get("/r\(i)") { _, _ in .text("get \(i)") }
            if i % 3 == 0 { router.post("/r\(i)") { _, _ in .text("post \(i)") } }
        }
        router.group("/r7") { group in group.get("/") { _, _ in .text("replaced") } }
        for i in 0..<300 {
            guard case .found(let route, _) = match(router, .get, "/r\(i)").match else {
                Issue.record("/r\(i) not found")
                continue
            }
            #expect(route.pattern.description == "/r\(i)")
            if case .found = match(router, .post, "/r\(i)").match {
                #expect(i % 3 == 0)
            } else {
                #expect(i % 3 != 0)
            }
        }
        if case .notFound = match(router, .get, "/r300").match {} else { Issue.record("/r300 should not be found") }
        #expect(Set(router.methods) == [.get, .post])
        let request = Request(method: .get, target: "/r7", path: "/r7", query: nil, headers: [:], body: [], id: "t")
        guard case .found(let replaced, _) = match(router, .get, "/r7").match else {
            Issue.record("/r7 not found")
            return
        }
        let context = RequestContext(requestID: "t", parameters: [:], shared: SharedState(), gateOccupancyOnEntry: nil, statsSource: nil)
        if case .answered(let response)? = try? replaced.immediate?(request, context) {
            #expect(String(decoding: response.body, as: UTF8.self) == "replaced")
        } else {
            Issue.record("/r7's route does not answer at once")
        }
    }

    private func describe(_ match: Router.Match) -> String {
        switch match {
        case .found(let route, let parameters): "found \(route.method) \(route.pattern) \(parameters.sorted { $0.key < $1.key })"
        case .methodNotAllowed(let allowed): "405 \(Set(allowed.map(\.rawValue)).sorted())"
        case .notFound: "404"
        case .notImplemented: "501"
        case .serverOptions(let methods): "options \(Set(methods.map(\.rawValue)).sorted())"
        }
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
