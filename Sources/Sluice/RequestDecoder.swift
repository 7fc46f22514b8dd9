import CSluiceIO
#if canImport(Glibc)
import Glibc
#endif

/// Copies a request's parts out of the shim's read buffer, which is reused once the callback
/// returns.
///
/// Every request passes here, so it makes as few strings as it can: a common method's or
/// field name's is a literal, and a target without a query is the path's own string.
enum RequestDecoder {
    /// The request's field lines, and the client's `X-Request-ID` if it may be echoed.
    static func headers(_ view: sluice_io_request_view, clientID: inout String?) -> HTTPHeaders {
        var headers: [HTTPHeaders.Element] = []
        headers.reserveCapacity(view.num_fields)
        for i in 0..<view.num_fields {
            let field = view.fields[i]
            let name = fieldName(field.name, field.name_len)
            let value = bytes(field.value, field.value_len)
            if clientID == nil, name.equalsIgnoringASCIICase("x-request-id"), RequestID.isAcceptable(value) {
                clientID = String(decoding: value, as: UTF8.self)
            }
            headers.append((name: name, value: String(decoding: value, as: UTF8.self)))
        }
        return HTTPHeaders(headers)
    }

    static func path(_ view: sluice_io_request_view) -> String {
        string(view.path, view.path_len)
    }

    static func pathBytes(_ view: sluice_io_request_view) -> UnsafeBufferPointer<UInt8> {
        bytes(view.path, view.path_len)
    }

    /// The request-target; `path` itself when the target is exactly the path (origin-form
    /// without a query), so that no second string is made.
    static func target(_ view: sluice_io_request_view, path: String) -> String {
        view.target == view.path && view.target_len == view.path_len ? path : string(view.target, view.target_len)
    }

    static func query(_ view: sluice_io_request_view) -> String? {
        view.query.map { string($0, view.query_len) }
    }

    /// The body when it came whole with the head; empty otherwise.
    static func body(_ view: sluice_io_request_view) -> [UInt8] {
        view.body_len > 0 ? Array(UnsafeBufferPointer(start: view.body, count: view.body_len)) : []
    }

    /// The request's method; a common one's string is a literal (inline, nothing to build or
    /// initialize lazily).
    static func method(_ view: sluice_io_request_view) -> HTTPMethod {
        let name = bytes(view.method, view.method_len)
        switch name.count {
        case 3 where equals(name, "GET"): return HTTPMethod(rawValue: "GET")
        case 3 where equals(name, "PUT"): return HTTPMethod(rawValue: "PUT")
        case 4 where equals(name, "POST"): return HTTPMethod(rawValue: "POST")
        case 4 where equals(name, "HEAD"): return HTTPMethod(rawValue: "HEAD")
        case 6 where equals(name, "DELETE"): return HTTPMethod(rawValue: "DELETE")
        default: return HTTPMethod(rawValue: String(decoding: name, as: UTF8.self))
        }
    }

    /// A field's name as sent; a common one spelled the usual way is a literal, as methods are.
    private static func fieldName(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> String {
        let name = bytes(pointer, count)
        switch count {
        case 4 where equals(name, "Host"): return "Host"
        case 6 where equals(name, "Accept"): return "Accept"
        case 10 where equals(name, "User-Agent"): return "User-Agent"
        case 10 where equals(name, "Connection"): return "Connection"
        case 12 where equals(name, "Content-Type"): return "Content-Type"
        case 14 where equals(name, "Content-Length"): return "Content-Length"
        case 15 where equals(name, "Accept-Encoding"): return "Accept-Encoding"
        case 15 where equals(name, "Accept-Language"): return "Accept-Language"
        default: return String(decoding: name, as: UTF8.self)
        }
    }

    /// Whether `bytes` are `literal`'s, compared as memory (no string is made).
    private static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard let base = bytes.baseAddress, bytes.count == literal.utf8CodeUnitCount else { return false }
        return memcmp(base, literal.utf8Start, bytes.count) == 0
    }

    private static func bytes(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> UnsafeBufferPointer<UInt8> {
        guard let pointer, count > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: count)
    }

    /// A string copied out of the shim's buffer.
    static func string(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> String {
        String(decoding: bytes(pointer, count), as: UTF8.self)
    }
}
