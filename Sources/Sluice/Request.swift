/// A complete HTTP request, as handed to a handler.
///
/// Immutable, so a class behaves as a value would: handing it to a handler, a middleware or
/// a task passes one reference, where a struct of its eight fields would be copied field by
/// field (a retain and a release each) and widen every async frame that holds it.
///
/// Not `final`, but not `open` either: the engine's record of a request in flight is a
/// subclass, so that the request and that record are one allocation, not two.
public class Request: @unchecked Sendable {
    // @unchecked: a class that is not final cannot be checked. Every stored property here
    // is an immutable `let` of a Sendable type, and the only subclass (PendingRequest, in
    // this module) guards its own mutable state with a lock.
    public let method: HTTPMethod
    /// The request-target exactly as sent.
    public let target: String
    /// The target's path, percent-encoding kept.
    public let path: String
    /// The target's query, without the '?'; nil when there is none.
    public let query: String?
    public let headers: HTTPHeaders
    public let body: [UInt8]
    /// The body as it arrives, on a route that streams it (`RouteOptions.streamsBody`) and
    /// for a request that has one; `body` is then empty. nil otherwise.
    public let bodyStream: RequestBodyStream?
    /// The `X-Request-ID` of this request: the client's own if it sent a valid one, else a fresh one.
    public let id: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public let httpMinorVersion: Int

    public init(
        method: HTTPMethod, target: String, path: String, query: String?, headers: HTTPHeaders,
        body: [UInt8], id: String, httpMinorVersion: Int = 1, bodyStream: RequestBodyStream? = nil
    ) {
        self.bodyStream = bodyStream
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.id = id
        self.httpMinorVersion = httpMinorVersion
    }

    /// The first value of the query parameter `name`, percent-decoded ('+' as space); nil if absent.
    public final func queryParameter(_ name: String) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if PercentDecoding.decode(parts[0]) == name {
                return parts.count > 1 ? PercentDecoding.decode(parts[1]) : ""
            }
        }
        return nil
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public final var bodyText: String { String(decoding: body, as: UTF8.self) }
}

enum PercentDecoding {
    /// Decodes %XX escapes and '+'; a malformed escape is kept as it is.
    static func decode(_ text: Substring) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = hexValue(iterator[iterator.startIndex]),
                let low = hexValue(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
