import Logging
@testable import Sluice
import Testing

/// Records the order middleware and handlers ran in.
private final class Trace: Sendable {
    private let entries = Locked<[String]>([])
    func append(_ value: String) { entries.withLock { $0.append(value) } }
    func take() -> [String] {
        entries.withLock { entries in
            let taken = entries
            entries = []
            return taken
        }
    }
}

/// Notes "name>" on the way in and "<name" on the way out; stops with 401 when told to.
private struct Step: Middleware {
    let name: String
    let trace: Trace
    var stopsWithoutToken = false

    func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response {
        trace.append("\(name)>")
        if stopsWithoutToken && request.headers["authorization"] == nil {
            trace.append("\(name) stopped")
            return Response.text("no token", status: 401)
        }
        var response = try await next(request, context)
        response.headers.add(name: "X-Step", value: name)
        trace.append("<\(name)")
        return response
    }
}

/// Keeps the log lines a logger writes.
private final class Lines: Sendable {
    private let lines = Locked<[(Logger.Level, String, Logger.Metadata)]>([])
    func append(_ line: (Logger.Level, String, Logger.Metadata)) { lines.withLock { $0.append(line) } }
    var all: [(Logger.Level, String, Logger.Metadata)] { lines.withLock { $0 } }
}

private struct CapturingLogHandler: LogHandler {
    let lines: Lines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { lines.append((event.level, "\(event.message)", event.metadata ?? [:])) }
}

@Suite("Middleware over real sockets")
struct MiddlewareTests {
    @Test("router, group and route middleware run outermost first, and unwind in reverse")
    func order() async throws {
        let trace = Trace()
        try await withServer(routes: { router in
            router.use(Step(name: "router", trace: trace))
            router.get("/plain") { _, _ in
                trace.append("plain")
                return .text("plain")
            }
            router.group("/api") { api in
                api.use(Step(name: "group", trace: trace))
                api.get("/item/:id", options: RouteOptions(middleware: [Step(name: "route", trace: trace)])) { _, context in
                    trace.append("handler \(context.parameter("id") ?? "")")
                    return .text("item")
                }
            }
        }) { port in
            let response = try await blocking { try TestClient(port: port).request("GET", "/api/item/7") }
            #expect(response.status == 200 && response.text == "item")
            #expect(trace.take() == ["router>", "group>", "route>", "handler 7", "<route", "<group", "<router"])
            #expect(response.headers.filter { $0.0 == "X-Step" }.map(\.1) == ["route", "group", "router"])
            let plain = try await blocking { try TestClient(port: port).request("GET", "/plain") }
            #expect(plain.status == 200)
            #expect(trace.take() == ["router>", "plain", "<router"])
            // The group's prefix is the group's alone.
            let outside = try await blocking { try TestClient(port: port).request("GET", "/item/7") }
            #expect(outside.status == 404)
        }
    }

    @Test("a middleware that answers itself short-circuits: the inner chain and the handler never run")
    func shortCircuit() async throws {
        let trace = Trace()
        try await withServer(routes: { router in
            router.use(Step(name: "outer", trace: trace))
            router.use(Step(name: "auth", trace: trace, stopsWithoutToken: true))
            router.use(Step(name: "inner", trace: trace))
            router.get("/secret") { _, _ in
                trace.append("handler")
                return .text("secret")
            }
        }) { port in
            let refused = try await blocking { try TestClient(port: port).request("GET", "/secret") }
            #expect(refused.status == 401 && refused.text == "no token")
            #expect(trace.take() == ["outer>", "auth>", "auth stopped", "<outer"])
            let allowed = try await blocking {
                try TestClient(port: port).request("GET", "/secret", headers: ["Authorization": "Bearer t"])
            }
            #expect(allowed.status == 200)
            #expect(trace.take() == ["outer>", "auth>", "inner>", "handler", "<inner", "<auth", "<outer"])
        }
    }

    @Test("an immediate handler (the C API's) answers at once or later, fails with its status, and runs inside middleware")
    func immediateHandlers() async throws {
        let trace = Trace()
        try await withServer(routes: { router in
            try! router.add(.get, "/now", options: RouteOptions()) { _, _ in
                trace.append("now")
                return .answered(.text("now"))
            }
            try! router.add(.get, "/later", options: RouteOptions()) { _, _ in
                .pending {
                    try await Task.sleep(for: .milliseconds(5))
                    trace.append("later")
                    return .text("later")
                }
            }
            try! router.add(.get, "/refused", options: RouteOptions(), immediate: { _, _ in throw HTTPError(409, message: "taken") })
            router.group("/wrapped") { group in
                group.use(Step(name: "outer", trace: trace))
                try! group.add(.get, "/now", options: RouteOptions()) { _, _ in
                    trace.append("wrapped")
                    return .answered(.text("wrapped"))
                }
            }
        }) { port in
            let client = try TestClient(port: port)
            #expect(try await blocking { try client.request("GET", "/now") }.text == "now")
            #expect(trace.take() == ["now"])
            #expect(try await blocking { try client.request("GET", "/later") }.text == "later")
            #expect(trace.take() == ["later"])
            #expect(try await blocking { try client.request("GET", "/refused") }.status == 409)
            let wrapped = try await blocking { try client.request("GET", "/wrapped/now") }
            #expect(wrapped.text == "wrapped" && wrapped.headers.contains { $0 == ("X-Step", "outer") })
            #expect(trace.take() == ["outer>", "wrapped", "<outer"])
        }
    }

    @Test("the access log writes method, path, status, bytes, duration and request id per request")
    func accessLog() async throws {
        let lines = Lines()
        let logger = Logger(label: "access") { _ in CapturingLogHandler(lines: lines) }
        try await withServer(routes: { router in
            router.use(AccessLog(logger: logger))
            router.get("/hello") { _, _ in .text("Hello, World!") }
            router.get("/teapot") { _, _ in throw HTTPError(418, message: "short and stout") }
            router.get("/streamed") { _, _ in
                .stream { writer in
                    try await writer.write("abc")
                    try await writer.write("defg")
                }
            }
        }) { port in
            _ = try await blocking {
                let client = try TestClient(port: port)
                _ = try client.request("GET", "/hello", headers: ["X-Request-ID": "log-1"])
                _ = try client.request("GET", "/teapot", headers: ["X-Request-ID": "log-2"])
                _ = try client.request("GET", "/missing", headers: ["X-Request-ID": "log-3"])
                _ = try client.request("GET", "/streamed", headers: ["X-Request-ID": "log-4"])
            }
        }
        let all = lines.all
        #expect(all.count == 3, "the 404 never reached a handler")
        #expect(all.last?.1 == "GET /streamed 200" && all.last?.2["bytes"] == "7", "a stream is logged at its end, with its bytes")
        #expect(all[0].0 == .info && all[0].1 == "GET /hello 200")
        #expect(all[0].2["bytes"] == "13" && all[0].2["request_id"] == "log-1")
        #expect(Double("\(all[0].2["duration_ms"] ?? "")") != nil)
        #expect(all[1].1 == "GET /teapot 418" && all[1].2["request_id"] == "log-2")
        let errorBody = JSON.errorBody(message: "short and stout", requestID: "log-2")
        #expect(all[1].2["bytes"] == "\(errorBody.utf8.count)")
    }

    @Test("CORS answers preflights without the handler and marks allowed origins only")
    func cors() async throws {
        let trace = Trace()
        try await withServer(routes: { router in
            router.group("/api") { api in
                api.use(CORS(origins: .list(["https://app.example"]), methods: [.get, .post], maxAgeSeconds: 60))
                api.post("/things") { _, _ in
                    trace.append("handler")
                    return .text("made")
                }
            }
        }) { port in
            let preflight = try await blocking {
                try TestClient(port: port).request("OPTIONS", "/api/things", headers: [
                    "Origin": "https://app.example", "Access-Control-Request-Method": "POST"])
            }
            #expect(preflight.status == 204)
            #expect(preflight.header("access-control-allow-origin") == "https://app.example")
            #expect(preflight.header("access-control-allow-methods") == "GET, POST")
            #expect(preflight.header("access-control-max-age") == "60")
            #expect(trace.take().isEmpty)
            let allowed = try await blocking {
                try TestClient(port: port).request("POST", "/api/things", headers: ["Origin": "https://app.example"])
            }
            #expect(allowed.status == 200 && allowed.header("access-control-allow-origin") == "https://app.example")
            #expect(allowed.header("vary") == "Origin")
            let foreign = try await blocking {
                try TestClient(port: port).request("POST", "/api/things", headers: ["Origin": "https://evil.example"])
            }
            #expect(foreign.status == 200 && foreign.header("access-control-allow-origin") == nil)
        }
    }

    @Test("a request-id policy can require the client's id and echo it under another name")
    func requestIDPolicy() async throws {
        try await withServer(routes: { router in
            router.use(RequestIDPolicy(requireClientID: true, echoHeader: "X-Correlation-ID"))
            router.get("/hello") { _, _ in .text("hi") }
        }) { port in
            let missing = try await blocking { try TestClient(port: port).request("GET", "/hello") }
            #expect(missing.status == 400)
            let given = try await blocking {
                try TestClient(port: port).request("GET", "/hello", headers: ["X-Request-ID": "abc-123"])
            }
            #expect(given.status == 200)
            #expect(given.header("x-correlation-id") == "abc-123" && given.header("x-request-id") == "abc-123")
        }
    }

    @Test("a text answer's body reads, changes and is sent as bytes, whatever holds it")
    func textBodies() async throws {
        var text = Response.text("héllo")
        #expect(text.body == Array("héllo".utf8) && text.bodyCount == 6)
        text.body.append(contentsOf: Array(" wörld".utf8))
        #expect(text.body == Array("héllo wörld".utf8) && text.bodyCount == 13)
        var json = Response.json(#"{"a":1}"#)
        json.body = Array("[]".utf8)
        #expect(json.body == Array("[]".utf8) && json.bodyCount == 2)

        /// Appends to the answer's body in place, as a middleware that decorates answers would.
        struct Suffix: Middleware {
            func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response {
                var response = try await next(request, context)
                response.body.append(contentsOf: Array("!".utf8))
                // A changed copy of a shared field list must go out as changed.
                response.headers.replaceOrAdd(name: "Content-Type", value: "text/markdown")
                return response
            }
        }
        // Longer than a string stored inline (15 bytes), and not ASCII.
        let long = String(repeating: "ünïcödé ", count: 40)
        try await withServer(routes: { router in
            router.get("/short") { _, _ in .text("hi") }
            router.get("/long") { _, _ in .json(long) }
            router.get("/suffixed", options: RouteOptions(middleware: [Suffix()])) { _, _ in .text(long) }
        }) { port in
            let short = try await blocking { try TestClient(port: port).request("GET", "/short") }
            #expect(short.text == "hi" && short.header("Content-Length") == "2")
            let whole = try await blocking { try TestClient(port: port).request("GET", "/long") }
            #expect(whole.text == long && whole.header("Content-Length") == String(long.utf8.count))
            #expect(whole.header("Content-Type") == "application/json")
            let suffixed = try await blocking { try TestClient(port: port).request("GET", "/suffixed") }
            #expect(suffixed.text == long + "!" && suffixed.header("Content-Length") == String(long.utf8.count + 1))
            #expect(suffixed.header("Content-Type") == "text/markdown")
            #expect(short.header("Content-Type") == "text/plain; charset=utf-8")
        }
    }

    @Test("a handler's answer with a status out of 200...999 (a 1xx is interim) or a field that would split the response becomes a 500")
    func invalidAnswers() async throws {
        var huge = Response.text("x")
        huge.status = Int.max
        #expect(!Response.finalStatuses.contains(huge.status))
        try await withServer(routes: { router in
            router.get("/status/:code") { _, context in
                let code = context.parameter("code") ?? ""
                var response = Response.text("body")
                response.status = code == "max" ? Int.max : code == "min" ? Int.min : Int(code) ?? 0
                return response
            }
            router.get("/split") { _, _ in
                var response = Response.text("body")
                response.headers.add(name: "X-Split", value: "a\r\nSet-Cookie: b=c")
                return response
            }
        }) { port in
            for (code, expected) in [("599", 599), ("200", 200), ("199", 500), ("100", 500), ("99", 500), ("1000", 500), ("max", 500), ("min", 500)] {
                let response = try await blocking { try TestClient(port: port).request("GET", "/status/\(code)") }
                #expect(response.status == expected, "status \(code)")
                if expected == 500 { #expect(response.text.contains("request_id")) }
            }
            let split = try await blocking { try TestClient(port: port).request("GET", "/split") }
            #expect(split.status == 500 && split.header("Set-Cookie") == nil)
        }
    }
}
