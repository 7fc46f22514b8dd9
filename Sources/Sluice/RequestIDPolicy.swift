/// What a server does with request ids beyond the default (every response carries
/// `X-Request-ID`: the client's own when it sent a safe one, else a fresh one).
///
/// `requireClientID` refuses requests that came without one (400), for services behind a
/// proxy that always sets it; `echoHeader` also sends the id under another name, such as
/// `X-Correlation-ID`, for clients that look for that.
public struct RequestIDPolicy: Middleware {
    private let requireClientID: Bool
    private let echoHeader: String?

    public init(requireClientID: Bool = false, echoHeader: String? = nil) {
        self.requireClientID = requireClientID
        self.echoHeader = echoHeader
    }

    public func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response {
        if requireClientID && request.headers["x-request-id"] != request.id {
            throw HTTPError(400, message: "a valid X-Request-ID header is required")
        }
        var response = try await next(request, context)
        if let echoHeader { response.headers.add(name: echoHeader, value: request.id) }
        return response
    }
}
