import Sluice

/// The demo's endpoints: the contract that both demos (Swift and C) serve.
enum DemoRoutes {
    static func router(gateLimit: Int) -> Router {
        var router = Router()
        router.get("/hello") { _, _ in .text("Hello, World!") }
        router.get("/json") { _, _ in .json(#"{"message":"Hello, World!"}"#) }
        router.post("/echo") { request, _ in
            var response = Response(body: request.body)
            response.headers.add(name: "Content-Type", value: request.headers["content-type"] ?? "application/octet-stream")
            return response
        }
        router.get("/work") { request, context in
            let ms = try milliseconds(request)
            try await Task.sleep(for: .milliseconds(ms))
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
        let gate = Gate(name: "gated", limit: gateLimit)
        router.get("/gated", options: RouteOptions(gate: gate)) { request, context in
            let ms = try milliseconds(request)
            try await Task.sleep(for: .milliseconds(ms))
            return .json(#"{"in_flight":\#(context.gateOccupancyOnEntry ?? 0)}"#)
        }
        router.get("/stats", options: RouteOptions(isMonitoring: true)) { _, context in
            guard let stats = context.serverStats else { throw HTTPError(500, message: "no stats") }
            return .json(statsJSON(stats))
        }
        return router
    }

    struct DemoFailure: Error {}

    /// The `ms` query parameter: a whole number of milliseconds, 0 when absent.
    private static func milliseconds(_ request: Request) throws -> Int {
        guard let text = request.queryParameter("ms") else { return 0 }
        guard let ms = Int(text), (0...3_600_000).contains(ms) else {
            throw HTTPError(400, message: "ms must be a whole number of milliseconds, 0...3600000")
        }
        return ms
    }

    static func statsJSON(_ stats: ServerStats) -> String {
        let gates = stats.gates.sorted { $0.key < $1.key }.map { name, gate in
            #"\#(json(name)):{"limit":\#(gate.limit),"in_flight":\#(gate.inFlight),"max_in_flight":\#(gate.maxInFlight)}"#
        }.joined(separator: ",")
        return #"{"in_flight":\#(stats.inFlight),"max_in_flight":\#(stats.maxInFlight),"queued":\#(stats.queued),"#
            + #""completed":\#(stats.completed),"rejected":\#(stats.rejected),"timed_out":\#(stats.timedOut),"#
            + #""cancelled":\#(stats.cancelled),"errors":\#(stats.errors),"gates":{\#(gates)}}"#
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
