import CSluiceIO

/// Copies a request out of the shim's read buffer, which is reused once the callback returns.
enum RequestDecoder {
    static func decode(_ view: sluice_io_request_view, bodyStream: RequestBodyStream? = nil) -> Request {
        var headers: [HTTPHeaders.Element] = []
        headers.reserveCapacity(view.num_fields)
        var clientID: String?
        for i in 0..<view.num_fields {
            let field = view.fields[i]
            let name = string(field.name, field.name_len)
            let value = bytes(field.value, field.value_len)
            if clientID == nil, name.equalsIgnoringASCIICase("x-request-id"), RequestID.isAcceptable(value) {
                clientID = String(decoding: value, as: UTF8.self)
            }
            headers.append((name: name, value: String(decoding: value, as: UTF8.self)))
        }
        let body = view.body_len > 0 ? Array(UnsafeBufferPointer(start: view.body, count: view.body_len)) : []
        return Request(
            method: HTTPMethod(rawValue: string(view.method, view.method_len)),
            target: string(view.target, view.target_len),
            path: string(view.path, view.path_len),
            query: view.query.map { string($0, view.query_len) },
            headers: HTTPHeaders(headers),
            body: body,
            id: clientID ?? RequestID.make(),
            httpMinorVersion: Int(view.version_minor),
            bodyStream: bodyStream
        )
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
