/// An HTTP response: status, header fields and a body.
///
/// The server adds `Date`, `Server`, `Content-Length`, `Connection` and `X-Request-ID`;
/// any `Content-Length` or `Transfer-Encoding` set here is ignored, since the engine frames the body.
public struct Response: Sendable {
    /// The status, in `finalStatuses` (200...999); the engine answers any other with a 500.
    public var status: Int {
        get { Int(statusCode) }
        // Clamped: a status out of Int32's range stays out of `finalStatuses` and invalid.
        set { statusCode = Int32(clamping: newValue) }
    }
    public var headers: HTTPHeaders
    /// The body's bytes.
    public var body: [UInt8] {
        get {
            switch content {
            case .bytes(let bytes), .streamed(_, let bytes): bytes
            case .text(let text): Array(text.utf8)
            }
        }
        set {
            if case .streamed(let stream, _) = content {
                content = .streamed(stream, newValue)
            } else {
                content = .bytes(newValue)
            }
        }
        _modify {
            // Moved out and back, so that appending in place does not copy the bytes.
            var bytes = body
            body = []
            defer { body = bytes }
            yield &bytes
        }
    }
    /// A body written as it goes (`Response.stream`); when set, `body` is not sent.
    public var streamedBody: ResponseBody? {
        get {
            if case .streamed(let stream, _) = content { return stream }
            return nil
        }
        set {
            let bytes = body
            content = newValue.map { .streamed($0, bytes) } ?? .bytes(bytes)
        }
    }

    /// How the body is held. A `text` or `json` answer keeps its string, and its UTF-8 is
    /// written from there: a short or literal string then costs no allocation at all. One
    /// enum with the streamed body, and the status in 32 bits, keep a response at 32 bytes as
    /// it was with a plain array: a request task's frames hold several, and frames that
    /// outgrow the task's first slab cost a malloc each.
    enum Content: Sendable {
        case bytes([UInt8])
        case text(String)
        /// A streamed body, and the bytes `body` holds meanwhile (not sent).
        case streamed(ResponseBody, [UInt8])
    }

    var content: Content
    /// Stored in 32 bits: with `content`, a response is then 32 bytes.
    private var statusCode: Int32

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.statusCode = Int32(clamping: status)
        self.headers = headers
        self.content = .bytes(body)
    }

    init(status: Int, headers: HTTPHeaders, text: String) {
        self.statusCode = Int32(clamping: status)
        self.headers = headers
        self.content = .text(text)
    }

    /// The body's size in bytes, without copying it.
    package var bodyCount: Int {
        switch content {
        case .bytes(let bytes), .streamed(_, let bytes): bytes.count
        case .text(let text): text.utf8.count
        }
    }

    /// Calls `body` with the body's bytes, without copying them where they lie contiguous.
    func withBodyBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch content {
        case .bytes(let bytes), .streamed(_, let bytes):
            return try bytes.withUnsafeBytes(body)
        case .text(let text):
            return try text.withUTF8Bytes { try body(UnsafeRawBufferPointer($0)) }
        }
    }

    // Built once: each response then shares the field list (a retain) instead of allocating
    // one, and its lines are laid out once (PreparedFields); a handler that adds a field
    // copies it then.
    private static let textHeaders = PreparedFields.contentType("text/plain; charset=utf-8")!
    private static let jsonHeaders = PreparedFields.contentType("application/json")!

    /// The statuses a handler may answer with: 1xx are interim (RFC 9110 15.2), never a
    /// request's answer; 600...999 are unassigned but well-formed.
    package static let finalStatuses = 200...999

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: Int = 200) -> Response {
        Response(status: status, headers: textHeaders, text: text)
    }

    /// An `application/json` response from JSON text the caller has already encoded.
    public static func json(_ json: String, status: Int = 200) -> Response {
        Response(status: status, headers: jsonHeaders, text: json)
    }
}
