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

    @Test("HEAD falls back to GET")
    func headFallback() {
        if case .found = router().match(method: .head, path: "/hello") {} else { Issue.record("literal HEAD") }
        if case .found = router().match(method: .head, path: "/users/1") {} else { Issue.record("pattern HEAD") }
    }

    @Test("refuses invalid patterns with a reason", arguments: ["hello", "/a/:", "/a/:x/:x", "/a/**/b", "/a//b", "/a/b:c", "/a/:x-y"])
    func invalidPatterns(_ pattern: String) {
        #expect(throws: RoutePattern.SyntaxError.self) { try RoutePattern(pattern) }
    }
}
