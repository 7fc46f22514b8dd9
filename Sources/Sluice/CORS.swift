/// Cross-origin resource sharing: allowed origins get `Access-Control-Allow-Origin` on their
/// responses, and preflight requests (OPTIONS with `Access-Control-Request-Method`) are
/// answered 204 with the allowed methods, headers and max age, without running the handler.
public struct CORS: Middleware {
    public enum AllowedOrigins: Sendable {
        /// Any origin (`*`; no credentials).
        case any
        /// Exactly these origins (echoed back, with `Vary: Origin`).
        case list([String])
    }

    private let origins: AllowedOrigins
    private let methods: String
    private let headers: String
    private let maxAgeSeconds: Int

    public init(origins: AllowedOrigins, methods: [HTTPMethod] = [.get, .post, .put, .delete],
                headers: [String] = ["Content-Type"], maxAgeSeconds: Int = 600) {
        self.origins = origins
        self.methods = methods.map(\.rawValue).joined(separator: ", ")
        self.headers = headers.joined(separator: ", ")
        self.maxAgeSeconds = maxAgeSeconds
    }

    public var answersPreflight: Bool { true }

    public func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response {
        let origin = request.headers["origin"]
        let allowed = origin.flatMap(allowOrigin)
        if request.method == .options && request.headers["access-control-request-method"] != nil {
            var response = Response(status: 204)
            if let allowed {
                addOrigin(allowed, to: &response)
                response.headers.add(name: "Access-Control-Allow-Methods", value: methods)
                response.headers.add(name: "Access-Control-Allow-Headers", value: headers)
                response.headers.add(name: "Access-Control-Max-Age", value: String(maxAgeSeconds))
            }
            return response
        }
        var response = try await next(request, context)
        if let allowed { addOrigin(allowed, to: &response) }
        return response
    }

    /// The value of Access-Control-Allow-Origin for `origin`, or nil when it is not allowed.
    private func allowOrigin(_ origin: String) -> String? {
        switch origins {
        case .any: "*"
        case .list(let list): list.contains(origin) ? origin : nil
        }
    }

    private func addOrigin(_ value: String, to response: inout Response) {
        response.headers.add(name: "Access-Control-Allow-Origin", value: value)
        if value != "*" { response.headers.add(name: "Vary", value: "Origin") }
    }
}
