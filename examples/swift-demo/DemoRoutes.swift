import Logging
import Sluice

/// The demo's endpoints: the contract that both demos (Swift and C) serve.
enum DemoRoutes {
    struct Settings {
        var gateLimit = 4
        /// Calls /work's simulated dependency serves at once (FIFO beyond); 0 for no bound.
        var workCapacity = 0
        /// Permits of the global budget each /work request takes.
        var workWeight = 1
        /// Percent of the global budget guaranteed to the fast routes (/hello, /json); 0 for none.
        var fastSharePercent = 0
        /// One line per handled request on stderr (not /stats, a monitoring route).
        var accessLog = false
        /// The largest body /upload takes; beyond it, 413 mid-stream.
        var uploadLimitBytes = 1 << 30
    }

    /// The demo's priority classes: `X-Priority: low|high` picks one (never `critical`, which
    /// only /health has, from its route).
    static let priority: PriorityClassifier = { request in
        switch request.headers["x-priority"] {
        case "low": .low
        case "high": .high
        default: nil
        }
    }

    static func router(_ settings: Settings) -> Router {
        var router = Router()
        router.get("/stats", options: RouteOptions(isMonitoring: true)) { _, context in
            guard let stats = context.serverStats else { throw HTTPError(500, message: "no stats") }
            return .json(statsJSON(stats))
        }
        if settings.accessLog {
            router.use(AccessLog(logger: Logger(label: "sluice-access") { StderrLogHandler(label: $0, logLevel: .info) }))
        }
        let fast = settings.fastSharePercent > 0
            ? GuaranteedShare(name: "fast", fraction: Double(settings.fastSharePercent) / 100) : nil
        router.get("/hello", options: RouteOptions(share: fast)) { _, _ in .text("Hello, World!") }
        router.get("/json", options: RouteOptions(share: fast)) { _, _ in .json(#"{"message":"Hello, World!"}"#) }
        router.get("/health", options: RouteOptions(priority: .critical)) { _, _ in .json(#"{"status":"ok"}"#) }
        router.post("/echo") { request, _ in
            var response = Response(body: request.body)
            response.headers.add(name: "Content-Type", value: request.headers["content-type"] ?? "application/octet-stream")
            return response
        }
        // The simulated dependency: a database or downstream that serves so many calls at once.
        let dependency = settings.workCapacity > 0 ? Gate(name: "dependency", limit: settings.workCapacity) : nil
        router.get("/work", options: RouteOptions(weight: settings.workWeight)) { request, context in
            let ms = try milliseconds(request)
            if let dependency {
                try await dependency.withPermit { try await Task.sleep(for: .milliseconds(ms)) }
            } else {
                try await Task.sleep(for: .milliseconds(ms))
            }
            let id = request.queryParameter("id") ?? ""
            return .json(#"{"id":\#(json(id)),"request_id":\#(json(context.requestID)),"slept_ms":\#(ms)}"#)
        }
        router.post("/counter/increment") { _, context in
            .json(#"{"value":\#(context.shared.counter("counter").add(1))}"#)
        }
        router.get("/counter") { _, context in
            .json(#"{"value":\#(context.shared.counter("counter").load())}"#)
        }
        router.get("/fail") { _, _ in throw DemoFailure() }
        let gate = Gate(name: "gated", limit: settings.gateLimit)
        router.get("/gated", options: RouteOptions(gate: gate)) { request, context in
            let ms = try milliseconds(request)
            try await Task.sleep(for: .milliseconds(ms))
            return .json(#"{"in_flight":\#(context.gateOccupancyOnEntry ?? 0)}"#)
        }
        addStreamingRoutes(to: &router, settings)
        return router
    }

    /// /upload, /stream and /events: bodies that are never held whole.
    private static func addStreamingRoutes(to router: inout Router, _ settings: Settings) {
        router.post("/upload", options: RouteOptions(streamsBody: true, maxBodyBytes: settings.uploadLimitBytes)) { request, _ in
            var hash = SHA256()
            var bytes = 0
            if let body = request.bodyStream {
                for try await chunk in body {
                    hash.update(chunk)
                    bytes += chunk.count
                }
            }
            return .json(#"{"bytes":\#(bytes),"sha256":"\#(hash.finalizeHex())"}"#)
        }
        router.get("/stream") { request, _ in
            let chunks = try integer(request, "chunks", default: 10, in: 0...10_000_000)
            let size = try integer(request, "size", default: 1024, in: 1...(16 << 20))
            let delay = try integer(request, "delay_ms", default: 0, in: 0...60_000)
            return .stream(headers: ["Content-Type": "application/octet-stream"]) { writer in
                var offset = 0
                for index in 0..<chunks {
                    if index > 0 && delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                    try await writer.write(streamPattern(offset: offset, count: size))
                    offset += size
                }
            }
        }
        router.get("/events") { request, _ in
            let count = try integer(request, "n", default: 10, in: 0...100_000)
            let headers: HTTPHeaders = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"]
            return .stream(headers: headers) { writer in
                for index in 0..<count {
                    if index > 0 { try await Task.sleep(for: .milliseconds(100)) }
                    try await writer.write("id: \(index)\ndata: {\"seq\":\(index)}\n\n")
                }
            }
        }
    }

    /// /stream's bytes: the lowercase alphabet over and over, from the stream's start.
    static func streamPattern(offset: Int, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(ascii: "a") + UInt8((offset + $0) % 26) }
    }

    /// A whole-number query parameter within range; `fallback` when absent; else 400.
    private static func integer(_ request: Request, _ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = request.queryParameter(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw HTTPError(400, message: "\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    struct DemoFailure: Error {}

    /// The `ms` query parameter: a whole number of milliseconds, 0 when absent.
    private static func milliseconds(_ request: Request) throws -> Int {
        do {
            return try integer(request, "ms", default: 0, in: 0...3_600_000)
        } catch {
            throw HTTPError(400, message: "ms must be a whole number of milliseconds, 0...3600000")
        }
    }

    static func statsJSON(_ stats: ServerStats) -> String {
        let gates = stats.gates.sorted { $0.key < $1.key }.map { name, gate in
            #"\#(json(name)):{"limit":\#(gate.limit),"in_flight":\#(gate.inFlight),"max_in_flight":\#(gate.maxInFlight)}"#
        }.joined(separator: ",")
        let shed = RequestPriority.allCases.map { #""\#($0)":\#(stats.shed[$0] ?? 0)"# }.joined(separator: ",")
        return #"{"in_flight":\#(stats.inFlight),"max_in_flight":\#(stats.maxInFlight),"queued":\#(stats.queued),"#
            + #""completed":\#(stats.completed),"rejected":\#(stats.rejected),"timed_out":\#(stats.timedOut),"#
            + #""cancelled":\#(stats.cancelled),"errors":\#(stats.errors),"gates":{\#(gates)},"#
            + #""limit":\#(stats.limit),"adaptive":\#(adaptiveJSON(stats.adaptive)),"shed":{\#(shed)}}"#
    }

    private static func adaptiveJSON(_ adaptive: AdaptiveLimitStats?) -> String {
        guard let adaptive else { return "null" }
        func ms(_ duration: Duration) -> String {
            String(Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)
        }
        return #"{"baseline_ms":\#(ms(adaptive.baselineLatency)),"latency_ms":\#(ms(adaptive.latency)),"#
            + #""increases":\#(adaptive.increases),"decreases":\#(adaptive.decreases)}"#
    }

    /// A JSON string literal.
    static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension String {
    /// A \u escape for a control character.
    fileprivate init(format value: UInt32) {
        let hex = String(value, radix: 16)
        self = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
