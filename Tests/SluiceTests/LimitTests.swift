import Glibc
import Sluice
import Testing

@Suite("Limits and refusals over real sockets")
struct LimitTests {
    private func small(_ configuration: inout Configuration) {
        configuration.maxRequestLineBytes = 100
        configuration.maxHeaderBytes = 300
        configuration.maxHeaderCount = 8
        configuration.maxBodyBytes = 1000
    }

    /// Sends raw bytes and expects one refusal with `status`, then the connection closed.
    private func expectRefusal(_ port: Int, _ bytes: String, status: Int) throws {
        let client = try TestClient(port: port)
        try client.send(bytes)
        let response = try client.readResponse()
        #expect(response.status == status, "\(bytes.prefix(60))")
        #expect(response.header("connection") == "close")
        #expect(!response.body.isEmpty, "a short body says why")
        #expect(try client.isClosedByServer())
    }

    @Test("refuses an over-long request line with 414, an over-long method with 501")
    func requestLine() async throws {
        try await withServer(configure: small, routes: standardRoutes) { port in
            try await blocking {
                try expectRefusal(port, "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: a\r\n\r\n", status: 414)
                // A method that alone fills the line is none the server implements (RFC 9112 3).
                try expectRefusal(port, String(repeating: "M", count: 200) + " / HTTP/1.1\r\nHost: a\r\n\r\n", status: 501)
            }
        }
    }

    @Test("refuses an over-large header section and too many fields with 431")
    func headers() async throws {
        try await withServer(configure: small, routes: standardRoutes) { port in
            try await blocking {
                try expectRefusal(port, "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 400) + "\r\n\r\n", status: 431)
                var many = "GET / HTTP/1.1\r\nHost: a\r\n"
                for i in 0..<10 { many += "X-\(i): v\r\n" }
                try expectRefusal(port, many + "\r\n", status: 431)
            }
        }
    }

    @Test("refuses a declared body over the limit with 413 before it is sent")
    func declaredBody() async throws {
        try await withServer(configure: small, routes: standardRoutes) { port in
            try await blocking {
                // No body bytes follow: the answer must come from the declared length alone.
                try expectRefusal(port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", status: 413)
            }
        }
    }

    @Test("refuses a chunked body that grows over the limit with 413")
    func chunkedBody() async throws {
        try await withServer(configure: small, routes: standardRoutes) { port in
            try await blocking {
                let chunk = String(repeating: "c", count: 600)
                try expectRefusal(port, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n", status: 413)
            }
        }
    }

    @Test("refuses ambiguous framing and does not run the smuggled request")
    func smuggling() async throws {
        let counter = Counter()
        try await withServer(routes: { router in
            standardRoutes(&router)
            router.get("/smuggled") { _, _ in counter.increment(); return .text("no") }
        }) { port in
            try await blocking {
                let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
                try expectRefusal(port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, status: 400)
                try expectRefusal(port, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + smuggled, status: 400)
                try expectRefusal(port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n" + smuggled, status: 400)
                try expectRefusal(port, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n" + smuggled, status: 400)
                try expectRefusal(port, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled, status: 501)
                try expectRefusal(port, "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n" + smuggled, status: 400)
                try expectRefusal(port, "GET / HTTP/2.0\r\nHost: a\r\n\r\n" + smuggled, status: 505)
                try expectRefusal(port, "GET / HTTP/1.1\r\n\r\n" + smuggled, status: 400)
                try expectRefusal(port, "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n" + smuggled, status: 417)
            }
        }
        #expect(counter.current == 0)
    }

    @Test("closes a connection whose head does not arrive within the header timeout")
    func headerTimeout() async throws {
        try await withServer(configure: { $0.headerTimeout = .milliseconds(300) }, routes: standardRoutes) { port in
            try await blocking {
                let start = ContinuousClock.now
                let client = try TestClient(port: port)
                try client.send("GET /hello HTTP/1.1\r\nHo")
                let response = try client.readResponse()
                #expect(response.status == 408)
                #expect(try client.isClosedByServer())
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(5))
            }
        }
    }

    @Test("closes a silent new connection at the header timeout (slowloris)")
    func silentConnection() async throws {
        try await withServer(configure: { $0.headerTimeout = .milliseconds(300) }, routes: standardRoutes) { port in
            try await blocking {
                let start = ContinuousClock.now
                let client = try TestClient(port: port)
                #expect(try client.isClosedByServer())
                #expect(ContinuousClock.now - start >= .milliseconds(250))
            }
        }
    }

    @Test("a head trickled one byte at a time is still answered 408 at the header timeout")
    func trickle() async throws {
        try await withServer(configure: { $0.headerTimeout = .milliseconds(500) }, routes: standardRoutes) { port in
            try await blocking {
                let start = ContinuousClock.now
                let client = try TestClient(port: port)
                for byte in "GET /hello HTTP/1.1\r\nX-Slow: " + String(repeating: "s", count: 200) {
                    try client.send(String(byte))
                    var ready = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
                    if poll(&ready, 1, 50) > 0 { break } // the client's pace: a byte per 50 ms
                }
                let response = try client.readResponse()
                #expect(response.status == 408)
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(2), "\(elapsed)")
            }
        }
    }

    /// A refusal answered while its head is handed over (no route) arms the idle wait too,
    /// not the header timeout (10 s) it had while the head was read.
    @Test("closes an idle keep-alive connection at the idle timeout", arguments: [("/hello", 200), ("/no-such-route", 404)])
    func idleTimeout(path: String, status: Int) async throws {
        try await withServer(configure: { $0.idleTimeout = .milliseconds(300) }, routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                // The idle timer starts when the answer is written, which is after this send: a
                // slow client (under TSan) must not make the bound look early.
                let start = ContinuousClock.now
                #expect(try client.request("GET", path).status == status)
                #expect(try client.isClosedByServer())
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(5), "\(elapsed)")
            }
        }
    }

    @Test("closes connections beyond maxConnections at once and keeps serving the others")
    func maxConnections() async throws {
        try await withServer(configure: { $0.maxConnections = 5 }, routes: standardRoutes) { port in
            try await blocking {
                let kept = try (0..<5).map { _ in try TestClient(port: port) }
                for client in kept { #expect(try client.request("GET", "/hello").status == 200) }
                let extra = try TestClient(port: port)
                #expect(try extra.isClosedByServer())
                #expect(try kept[0].request("GET", "/hello").status == 200)
            }
        }
    }
}
