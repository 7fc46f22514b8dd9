/// An HTTP response: status, header fields and a body.
///
/// The server adds `Date`, `Server`, `Content-Length`, `Connection` and `X-Request-ID`;
/// any `Content-Length` or `Transfer-Encoding` set here is ignored, since the engine frames the body.
public struct Response: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// A body written as it goes (`Response.stream`); when set, `body` is not sent.
    public var streamedBody: ResponseBody?

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    // Built once: each response then shares the field list (a retain) instead of allocating
    // one; a handler that adds a field copies it then.
    private static let textHeaders: HTTPHeaders = ["Content-Type": "text/plain; charset=utf-8"]
    private static let jsonHeaders: HTTPHeaders = ["Content-Type": "application/json"]

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: Int = 200) -> Response {
        Response(status: status, headers: textHeaders, body: Array(text.utf8))
    }

    /// An `application/json` response from JSON text the caller has already encoded.
    public static func json(_ json: String, status: Int = 200) -> Response {
        Response(status: status, headers: jsonHeaders, body: Array(json.utf8))
    }
}
