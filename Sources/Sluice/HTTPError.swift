/// An error a handler throws to answer with a given status and message.
///
/// The client receives `{"error": message, "request_id": …}` with this status; any other
/// error a handler throws becomes a 500 whose message does not leak the error's details.
public struct HTTPError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public var headers: HTTPHeaders

    public init(_ status: Int, message: String? = nil, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.message = message ?? HTTPError.defaultMessage(for: status)
        self.headers = headers
    }

    public static func == (lhs: HTTPError, rhs: HTTPError) -> Bool {
        lhs.status == rhs.status && lhs.message == rhs.message
    }

    static func defaultMessage(for status: Int) -> String {
        switch status {
        case 400: "bad request"
        case 404: "not found"
        case 405: "method not allowed"
        case 413: "request body too large"
        case 429: "too many requests"
        case 501: "not implemented"
        case 503: "service unavailable"
        case 504: "handler timed out"
        default: status >= 500 ? "internal server error" : "request failed"
        }
    }
}
