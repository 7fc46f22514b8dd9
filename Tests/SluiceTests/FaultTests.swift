import Glibc
import Sluice
import Testing

@Suite("Faults over real sockets")
struct FaultTests {
    private static let bigBody = [UInt8](repeating: 0x61, count: 1 << 20)

    private func routes(_ router: inout Router, served: Counter) {
        standardRoutes(&router)
        router.get("/big") { _, _ in
            served.increment()
            return Response(body: FaultTests.bigBody)
        }
    }

    @Test("a peer that resets mid-request or mid-response costs nothing else")
    func resets() async throws {
        let served = Counter()
        try await withServer(routes: { routes(&$0, served: served) }) { port in
            try await blocking {
                for _ in 0..<20 {
                    let midBody = try TestClient(port: port)
                    try midBody.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial")
                    midBody.reset()
                    let midHead = try TestClient(port: port)
                    try midHead.send("GET /hello HTTP/1.1\r\nHo")
                    midHead.reset()
                    let midResponse = try TestClient(port: port)
                    try midResponse.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
                    var some = [UInt8](repeating: 0, count: 1000)
                    _ = some.withUnsafeMutableBytes { recv(midResponse.fd, $0.baseAddress, $0.count, 0) }
                    midResponse.reset()
                }
                let client = try TestClient(port: port)
                #expect(try client.request("GET", "/hello").text == "Hello, World!")
            }
        }
    }

    @Test("a client that never reads its responses cannot grow the server's memory")
    func neverReads() async throws {
        let served = Counter()
        try await withServer(routes: { routes(&$0, served: served) }) { port in
            let before = residentBytes()
            try await blocking {
                let client = try TestClient(port: port, timeoutSeconds: 2)
                let request = Array("GET /big HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
                var sent = 0
                // 1,000 pipelined requests for 1 MiB each: an unbounded server would queue 1 GiB.
                for _ in 0..<1000 {
                    if (try? client.send(request)) == nil { break } // send timed out: the server stopped reading
                    sent += 1
                }
                // Wait for the served count to settle; a server that kept reading would reach 1,000.
                var last = -1
                let deadline = ContinuousClock.now + .seconds(10)
                while served.current != last && ContinuousClock.now < deadline {
                    last = served.current
                    usleep(300_000)
                }
            }
            #expect(served.current < 100, "the server stopped handling requests it could not send")
            #expect(residentBytes() - before < 150 << 20)
            try await blocking {
                let other = try TestClient(port: port)
                #expect(try other.request("GET", "/hello").status == 200)
            }
        }
    }

    @Test("1,000 connections opened and dropped leave the server answering")
    func connectionChurn() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(limit.rlim_max, 4096)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                var clients: [TestClient] = []
                for _ in 0..<1000 { clients.append(try TestClient(port: port)) }
                for (index, client) in clients.enumerated() where index % 2 == 0 { client.reset() }
                clients.removeAll()
                let client = try TestClient(port: port)
                #expect(try client.request("GET", "/hello").text == "Hello, World!")
            }
        }
    }

    @Test("a handler that throws gets a 500 with its request id; the others are unaffected")
    func errorIsolation() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                for i in 0..<50 {
                    if i % 2 == 0 {
                        let response = try client.request("GET", "/fail", headers: ["X-Request-ID": "fail-\(i)"])
                        #expect(response.status == 500)
                        #expect(response.header("x-request-id") == "fail-\(i)")
                        #expect(response.text == #"{"error":"internal server error","request_id":"fail-\#(i)"}"#)
                    } else {
                        #expect(try client.request("GET", "/n/\(i)").text == "\(i)")
                    }
                }
            }
        }
    }

    @Test("every response carries a request id: the client's, or a fresh unique one")
    func requestIDs() async throws {
        try await withServer(routes: standardRoutes) { port in
            try await blocking {
                let client = try TestClient(port: port)
                var seen = Set<String>()
                for _ in 0..<200 {
                    let id = try client.request("GET", "/hello").header("x-request-id")
                    #expect(id != nil)
                    seen.insert(id ?? "")
                }
                #expect(seen.count == 200)
                #expect(try client.request("GET", "/hello", headers: ["X-Request-ID": "abc-123"]).header("x-request-id") == "abc-123")
                // An id with bytes that cannot be echoed safely is replaced.
                let replaced = try client.request("GET", "/hello", headers: ["X-Request-ID": "a b"]).header("x-request-id")
                #expect(replaced != "a b" && replaced?.isEmpty == false)
            }
        }
    }
}
