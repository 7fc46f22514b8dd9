import Glibc
import Sluice
import Testing

@Suite("Connections over real sockets")
struct ConnectionTests {
    @Test("serves many requests on one keep-alive connection")
    func keepAlive() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                for i in 0..<200 {
                    let response = try client.request("GET", "/n/\(i)")
                    #expect(response.status == 200)
                    #expect(response.text == "\(i)")
                    #expect(response.header("connection") == nil)
                }
            }
        }
    }

    @Test("answers 1,000 pipelined requests, sent in one write, in order")
    func pipelining() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                var batch = ""
                for i in 0..<1000 { batch += "GET /n/\(i) HTTP/1.1\r\nHost: a\r\n\r\n" }
                try client.send(batch)
                for i in 0..<1000 {
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.text == "\(i)")
                }
            }
        }
    }

    @Test("a handler sees the method, target, path, query and field names exactly as sent, common ones and others alike")
    func requestAsSent() async throws {
        let describe: SynchronousHandler = { request, _ in
            let fields = request.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
            return .text("\(request.method.rawValue) \(request.target) \(request.path) \(request.query ?? "-") \(fields)")
        }
        try await withServer(routes: { router in
            for method in ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "get", "GETS"] {
                router.on(HTTPMethod(rawValue: method), "/hello", handler: describe)
                router.on(HTTPMethod(rawValue: method), "/items/:id", handler: describe)
            }
        }) { port in
            try await blocking {
                let client = try TestClient(port: port)
                let cases: [(request: String, seen: String)] = [
                    ("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", "GET /hello /hello - Host=a"),
                    ("get /hello HTTP/1.1\r\nhost: a\r\nUser-Agent: t\r\n\r\n", "get /hello /hello - host=a;User-Agent=t"),
                    ("GETS /hello?x=1 HTTP/1.1\r\nHOST: a\r\nAccept: */*\r\n\r\n", "GETS /hello?x=1 /hello x=1 HOST=a;Accept=*/*"),
                    ("PATCH /items/7 HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nAccept-Language: fr\r\n\r\n",
                     "PATCH /items/7 /items/7 - Host=a;Accept-Encoding=gzip;Accept-Language=fr"),
                    ("PUT /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n\r\n",
                     "PUT /hello /hello - Host=a;Content-Length=0;Content-Type=text/plain;Connection=keep-alive"),
                    ("DELETE /items/x?y HTTP/1.1\r\nHost: a\r\nHosts: b\r\nX-Acceptable: c\r\n\r\n",
                     "DELETE /items/x?y /items/x y Host=a;Hosts=b;X-Acceptable=c"),
                ]
                for (request, expected) in cases {
                    try client.send(request)
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.text == expected)
                }
            }
        }
    }

    @Test("pipelined requests with bodies and HEAD stay framed")
    func pipelinedMixed() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                try client.send(
                    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                        + "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                        + "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n1;e=1\r\nz\r\n0\r\nT: 1\r\n\r\n"
                        + "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(try client.readResponse().text == "abc")
                let head = try client.readResponse(forHead: true)
                #expect(head.status == 200)
                #expect(head.header("content-length") == "13")
                #expect(try client.readResponse().text == "xyz")
                #expect(try client.readResponse().text == "Hello, World!")
            }
        }
    }

    @Test("a request routed when its head arrived is served by that route, and only it")
    func plannedRoutes() async throws {
        // A route with its own body limit makes the server route each request with a body as
        // its head arrives (for the limit), and hand that route on with the request. Mixed
        // on one pipelined connection: a planned route must not stay with the next request,
        // and a route with parameters must still get them.
        try await withServer(routes: { router in
            standardRoutes(&router)
            router.post("/small", options: RouteOptions(maxBodyBytes: 8)) { request, _ in
                .text("small:" + String(decoding: request.body, as: UTF8.self))
            }
            router.post("/items/:id") { request, context in
                .text((context.parameter("id") ?? "?") + ":" + String(decoding: request.body, as: UTF8.self))
            }
        }) { port in
            try await blocking {
                let client = try TestClient(port: port)
                try client.send(
                    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                        + "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                        + "POST /items/42 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy"
                        + "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
                        + "POST /missing HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nz"
                        + "GET /n/7 HTTP/1.1\r\nHost: a\r\n\r\n"
                        + "POST /items/9 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
                        + "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n123456789")
                #expect(try client.readResponse().text == "abc")
                #expect(try client.readResponse().text == "Hello, World!")
                #expect(try client.readResponse().text == "42:xy")
                #expect(try client.readResponse().text == "small:ok")
                #expect(try client.readResponse().status == 404)
                #expect(try client.readResponse().text == "7")
                #expect(try client.readResponse().text == "9:")
                #expect(try client.readResponse().status == 413, "the planned route's own body limit")
            }
        }
    }

    @Test("decodes a chunked request body")
    func chunkedBody() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                var request = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                var expected = ""
                for i in 1...50 {
                    let chunk = String(repeating: Character(UnicodeScalar(UInt8(65 + i % 26))), count: i * 37)
                    request += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n"
                    expected += chunk
                }
                try client.send(request + "0\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == expected)
            }
        }
    }

    @Test("answers 100 Continue before the body, then the request")
    func expectContinue() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                try client.send("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
                let interim = try client.readResponse()
                #expect(interim.status == 100)
                try client.send("hello")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "hello")
            }
        }
    }

    @Test("HEAD gets the GET route's length and no body")
    func head() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                let response = try client.request("HEAD", "/hello")
                #expect(response.status == 200)
                #expect(response.header("content-length") == "13")
                // The connection stays usable: no stray body bytes precede the next answer.
                #expect(try client.request("GET", "/hello").text == "Hello, World!")
            }
        }
    }

    @Test("an HTTP/1.0 request is answered and the connection closed")
    func http10() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET /hello HTTP/1.0\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.text == "Hello, World!")
                #expect(response.header("connection") == "close")
                #expect(try client.isClosedByServer())
            }
        }
    }

    @Test("Connection: close is honoured")
    func connectionClose() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                let response = try client.request("GET", "/hello", headers: ["Connection": "close"])
                #expect(response.status == 200)
                #expect(response.header("connection") == "close")
                #expect(try client.isClosedByServer())
            }
        }
    }

    @Test("serves on IPv6 loopback and with several I/O threads")
    func ipv6AndThreads() async throws {
        try await withServer(configure: { $0.host = "::1"; $0.ioThreads = 2 }, routes: standardRoutes) { port in
            try await blocking {
                for _ in 0..<20 {
                    let client = try TestClient(port: port, host: "::1")
                    #expect(try client.request("GET", "/hello").text == "Hello, World!")
                }
            }
        }
    }

    @Test("an off-loop route answers through the thread-safe path")
    func offLoopRoute() async throws {
        try await withServer(routes: { router in
            router.get("/blocking", options: RouteOptions(runsOnLoop: false)) { _, _ in
                usleep(20_000) // blocking on purpose: it must not stall the loop
                return .text(LoopThread.isCurrent ? "ran on a loop thread" : "done")
            }
            router.get("/where") { _, _ in .text(LoopThread.isCurrent ? "loop" : "elsewhere") }
            // A named function (nonisolated, so @concurrent) converts to a Handler as well.
            router.get("/named", handler: namedHandler)
            standardRoutes(&router)
        }) { port in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await blocking {
                        let client = try TestClient(port: port)
                        for _ in 0..<5 { #expect(try client.request("GET", "/blocking").text == "done") }
                    }
                }
                group.addTask {
                    try await blocking {
                        let client = try TestClient(port: port)
                        for _ in 0..<50 { #expect(try client.request("GET", "/hello").status == 200) }
                        #expect(try client.request("GET", "/where").text == "loop")
                        #expect(try client.request("GET", "/named").text == "named")
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("a handler, what it awaits, middleware and a request that waited at a gate all run on the request's loop")
    func asyncWorkStaysOnTheLoop() async throws {
        let gate = Gate(name: "one", limit: 1)
        try await withServer(configure: { $0.ioThreads = 2 }, routes: { router in
            router.get("/awaits") { _, _ in
                let before = LoopThread.isCurrent
                let inside = await whereNonisolatedAsyncCodeRuns()
                try await Task.sleep(for: .milliseconds(1))
                return .text("\(before) \(inside) \(LoopThread.isCurrent)")
            }
            router.group("/wrapped") { group in
                group.use(ReportingMiddleware())
                group.get("/") { _, _ in .text("\(LoopThread.isCurrent)") }
            }
            router.get("/gated", options: RouteOptions(gate: gate)) { _, _ in
                try await Task.sleep(for: .milliseconds(20))
                return .text("\(LoopThread.isCurrent) \(await whereNonisolatedAsyncCodeRuns())")
            }
        }) { port in
            try await blocking {
                let client = try TestClient(port: port)
                #expect(try client.request("GET", "/awaits").text == "true true true")
                #expect(try client.request("GET", "/wrapped").text == "true true")
            }
            // Three at once through a gate of one: two of them wait, then run.
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await blocking { try TestClient(port: port).request("GET", "/gated").text } }
                }
                for try await answer in group { #expect(answer == "true true") }
            }
        }
    }

    @Test("an answer given inline that closes the connection, with more bytes pipelined behind it")
    func inlineCloseWithPipelinedBytes() async throws {
        // Found by the connection fuzzer: a 404 is answered inside the shim's callback; with
        // Connection: close the buffer was emptied under the request being dispatched.
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                for version in ["HTTP/1.1\r\nHost: a\r\nConnection: close", "HTTP/1.0"] {
                    let client = try TestClient(port: port)
                    try client.send("GET /nope \(version)\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                    let response = try client.readResponse()
                    #expect(response.status == 404)
                    #expect(try client.isClosedByServer())
                }
                #expect(try TestClient(port: port).request("GET", "/hello").status == 200)
            }
        }
    }
}

@Sendable
/// Plain `async` (so `@concurrent`): where it runs says where the request's nonisolated async
/// calls run.
private func whereNonisolatedAsyncCodeRuns() async -> Bool {
    await Task.yield()
    return LoopThread.isCurrent
}

private struct ReportingMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response {
        let here = LoopThread.isCurrent
        var response = try await next(request, context)
        response.body = Array("\(here) ".utf8) + response.body
        return response
    }
}

private func namedHandler(_ request: Request, _ context: RequestContext) async throws -> Response {
    .text("named")
}
