import Glibc
@testable import Sluice
import Testing

@Suite struct RequestBodyStreamTests {
    @Test func creditFollowsWhatTheReaderTakes() async throws {
        let stream = RequestBodyStream(window: 100)
        let granted = Locked(0)
        stream.connect { credit in granted.withLock { $0 += credit } }
        #expect(granted.withLock { $0 } == 0, "nothing is read ahead before the handler reads")
        let reader = Task {
            var sizes: [Int] = []
            for try await chunk in stream { sizes.append(chunk.count) }
            return sizes
        }
        #expect(try await eventually { granted.withLock { $0 } == 100 })
        stream.receive([UInt8](repeating: 1, count: 60))
        // Taken: 60 of a window of 100, past half of it, so 60 more are granted.
        #expect(try await eventually { granted.withLock { $0 } == 160 })
        stream.receive([UInt8](repeating: 2, count: 40))
        stream.finish()
        #expect(try await reader.value == [60, 40])
        #expect(granted.withLock { $0 } == 160, "40 taken is under half the window: no grant yet")
    }

    @Test func failureAndCancellationEndTheReader() async throws {
        let stream = RequestBodyStream(window: 10)
        stream.connect { _ in }
        stream.receive([1, 2, 3])
        stream.fail(HTTPError(413))
        await #expect(throws: HTTPError.self) { _ = try await stream.next() }
        await #expect(throws: HTTPError.self) { _ = try await stream.next() }

        // A body received whole stays readable whatever happens to the connection after it.
        let whole = RequestBodyStream(window: 10)
        whole.connect { _ in }
        whole.receive([4, 5])
        whole.finish()
        whole.fail(StreamClosed("the client closed the connection"))
        #expect(try await whole.next() == [4, 5])
        #expect(try await whole.next() == nil)

        let waiting = RequestBodyStream(window: 10)
        waiting.connect { _ in }
        let reader = Task { try await waiting.next() }
        reader.cancel()
        await #expect(throws: CancellationError.self) { _ = try await reader.value }
    }
}

@Suite struct StreamingTests {
    @Test func streamedBodyArrivesInOrderWithinTheWindow() async throws {
        let largestChunk = Locked(0)
        try await withServer(configure: { $0.bodyWindowBytes = 4096 }) { router in
            router.post("/sum", options: RouteOptions(streamsBody: true, maxBodyBytes: 10 << 20)) { request, _ in
                var count = 0, total = 0
                for try await chunk in request.bodyStream! {
                    largestChunk.withLock { $0 = max($0, chunk.count) }
                    count += chunk.count
                    total += chunk.reduce(0) { $0 + Int($1) }
                }
                return .text("\(count) \(total)")
            }
        } _: { port in
            try await blocking {
                let client = try TestClient(port: port)
                let body = (0..<(2 << 20)).map { UInt8($0 % 251) }
                let response = try client.request("POST", "/sum", body: body)
                #expect(response.text == "\(body.count) \(body.reduce(0) { $0 + Int($1) })")
                // Over the default 1 MiB: the route's own limit applies.
                #expect(try client.request("GET", "/sum").status == 405)
            }
        }
        #expect(largestChunk.withLock { $0 } <= 4096, "no chunk exceeds the credit")
    }

    @Test func bodyOverTheRouteLimitFailsTheStreamWith413() async throws {
        let seen = Locked<Int?>(nil)
        try await withServer { router in
            router.post("/small", options: RouteOptions(streamsBody: true, maxBodyBytes: 1000)) { request, _ in
                do {
                    for try await _ in request.bodyStream! {}
                } catch let error as HTTPError {
                    seen.withLock { $0 = error.status }
                    throw error
                }
                return .text("read all")
            }
        } _: { port in
            try await blocking {
                let client = try TestClient(port: port)
                let piece = String(repeating: "p", count: 600)
                try client.send("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                try client.send("258\r\n\(piece)\r\n258\r\n\(piece)\r\n")
                #expect(try client.readResponse().status == 413)
                #expect(try client.isClosedByServer())
            }
            #expect(try await eventually { seen.withLock { $0 } == 413 })
        }
    }

    @Test func aStalledUploadTimesOutButASlowHandlerDoesNot() async throws {
        try await withServer(configure: { $0.headerTimeout = .milliseconds(200); $0.bodyWindowBytes = 1024 }) { router in
            router.post("/slow-reader", options: RouteOptions(streamsBody: true)) { request, _ in
                // Longer than the header timeout before reading: the wait is the server's.
                try await Task.sleep(for: .milliseconds(500))
                var count = 0
                for try await chunk in request.bodyStream! { count += chunk.count }
                return .text("\(count)")
            }
        } _: { port in
            try await blocking {
                let client = try TestClient(port: port)
                let body = [UInt8](repeating: 7, count: 200_000)
                #expect(try client.request("POST", "/slow-reader", body: body).text == "200000")
                // A client that stops sending mid-body while the handler reads: 408, closed.
                try client.send("POST /slow-reader HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nonly this")
                let response = try client.readResponse()
                #expect(response.status == 408)
                #expect(try client.isClosedByServer())
            }
        }
    }

    @Test func theAdaptiveLimitLearnsTheTimeToAnswerNotTheStreamsLength() async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var configuration = Configuration()
        configuration.port = 0
        configuration.adaptiveConcurrency = AdaptiveConcurrency(targetLatency: .milliseconds(100), interval: .milliseconds(20))
        var router = Router()
        router.get("/slow-stream") { _, _ in
            .stream { writer in
                for _ in 0..<3 {
                    try await writer.write("tick")
                    try await Task.sleep(for: .milliseconds(40))
                }
            }
        }
        let server = Server(configuration: configuration, router: router) { continuation.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await blocking {
                let client = try TestClient(port: port)
                for _ in 0..<8 { #expect(try client.request("GET", "/slow-stream").text == "tickticktick") }
            }
            let adaptive = try #require(server.stats.adaptive)
            // Each stream lasts about 80 ms; the answer (its head) is ready at once.
            #expect(adaptive.latency > .zero, "a window closed")
            #expect(adaptive.latency < .milliseconds(20), "the stream's length is not handler latency")
            server.shutdown()
            try await group.waitForAll()
        }
    }

    @Test func responseStreamsChunkedWithTrailersOrWithItsLength() async throws {
        try await withServer { router in
            router.get("/chunked") { _, _ in
                .stream(headers: ["Content-Type": "text/plain"]) { writer in
                    try await writer.write("one,")
                    try await writer.write("two")
                    writer.addTrailer(name: "X-Checksum", value: "42")
                }
            }
            router.get("/sized") { _, _ in
                .stream(contentLength: 6) { writer in
                    try await writer.write("abc")
                    try await writer.write("defghi") // past the length: dropped
                }
            }
        } _: { port in
            try await blocking {
                let client = try TestClient(port: port)
                let chunked = try client.request("GET", "/chunked")
                #expect(chunked.header("transfer-encoding") == "chunked")
                #expect(chunked.text == "one,two")
                #expect(chunked.trailers.first { $0.0 == "X-Checksum" }?.1 == "42")
                let sized = try client.request("GET", "/sized")
                #expect(sized.header("content-length") == "6")
                #expect(sized.text == "abcdef")
                let head = try client.request("HEAD", "/chunked")
                #expect(head.status == 200 && head.body.isEmpty)
                #expect(try client.request("GET", "/sized").text == "abcdef", "the connection stays usable")
            }
        }
    }

    @Test func aClientThatStopsReadingSuspendsTheWriter() async throws {
        let written = Counter()
        let total = 64 << 20
        try await withServer(configure: { $0.writeHighWaterBytes = 64 * 1024 }) { router in
            router.get("/big") { _, _ in
                .stream(contentLength: total) { writer in
                    let chunk = [UInt8](repeating: 98, count: 65536)
                    for _ in 0..<(total / chunk.count) {
                        try await writer.write(chunk)
                        written.add(chunk.count)
                    }
                }
            }
        } _: { port in
            let client = try TestClient(port: port, timeoutSeconds: 60)
            var small: Int32 = 16384
            setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            try client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            // Wait until the writer stops making progress, then check where it stopped.
            var last = -1
            for _ in 0..<200 {
                try await Task.sleep(for: .milliseconds(20))
                if written.current == last { break }
                last = written.current
            }
            #expect(written.current < 16 << 20, "the writer runs ahead of a stalled client by the bound, not the body")
            let response = try await blocking { try client.readResponse() }
            #expect(response.body.count == total)
            #expect(written.current == total)
        }
    }

    @Test func aDepartedClientMakesTheNextWriteThrow() async throws {
        let failure = Locked<String?>(nil)
        try await withServer { router in
            router.get("/forever") { _, _ in
                .stream { writer in
                    do {
                        for _ in 0..<100_000 {
                            try await writer.write([UInt8](repeating: 120, count: 4096))
                            try await Task.sleep(for: .milliseconds(1))
                        }
                    } catch {
                        failure.withLock { $0 = error is StreamClosed || error is CancellationError ? "closed" : "\(error)" }
                        throw error
                    }
                }
            }
        } _: { port in
            let client = try TestClient(port: port)
            try client.send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await blocking { try client.readChunkedPrefix() }
            client.reset()
            #expect(try await eventually { failure.withLock { $0 } == "closed" })
        }
    }

    @Test func aDepartedClientCancelsAProducerThatWaits() async throws {
        // A producer between writes learns of the departure only through its task.
        let outcome = Locked<String?>(nil)
        try await withServer { router in
            router.get("/idle") { _, _ in
                .stream { writer in
                    try await writer.write("first")
                    do {
                        try await Task.sleep(for: .seconds(30))
                    } catch {
                        outcome.withLock { $0 = Task.isCancelled ? "cancelled" : "\(error)" }
                        throw error
                    }
                    outcome.withLock { $0 = "slept on" }
                }
            }
        } _: { port in
            let client = try TestClient(port: port)
            try client.send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await blocking { try client.readChunkedPrefix() }
            client.reset()
            #expect(try await eventually(5) { outcome.withLock { $0 } != nil })
            #expect(outcome.withLock { $0 } == "cancelled")
        }
    }

    @Test func theDeadlineClosesAStreamMidway() async throws {
        try await withServer { router in
            router.get("/slow", options: RouteOptions(timeout: .milliseconds(200))) { _, _ in
                .stream { writer in
                    for _ in 0..<1000 {
                        try await writer.write("tick")
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
            }
        } _: { port in
            try await blocking {
                let client = try TestClient(port: port)
                #expect(throws: TestClientError.self, "the body must not end as if complete") {
                    _ = try client.request("GET", "/slow")
                }
            }
        }
    }
}

extension TestClient {
    /// Reads a chunked response's head and its first chunk.
    func readChunkedPrefix() throws -> [UInt8]? {
        _ = try takeLine()
        _ = try readFields()
        return try readChunk()
    }
}
