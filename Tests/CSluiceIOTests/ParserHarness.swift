import CSluiceIO

/// What parsing a request head produced, in a comparable form.
enum HeadOutcome: Equatable, CustomStringConvertible {
    case incomplete
    case failure(Int32)
    case parsed(ParsedHead)

    var description: String {
        switch self {
        case .incomplete: "incomplete"
        case .failure(let code): "failure(\(code), \(String(cString: sluice_http_error_message(code))))"
        case .parsed(let head): "parsed(\(head))"
        }
    }
}

struct ParsedHead: Equatable {
    var length: Int
    var method: String
    var target: String
    var path: String
    var query: String?
    var minorVersion: Int
    var form: UInt32
    var fields: [String]
    var bodyKind: UInt32
    var contentLength: UInt64
    var keepAlive: Bool
    var expectContinue: Bool
    var isHead: Bool
}

func code(_ error: sluice_http_error) -> Int32 { Int32(error.rawValue) }

func limits(line: Int = 8192, header: Int = 16384, fields: Int = 100, body: UInt64 = 1 << 20) -> sluice_http_limits {
    sluice_http_limits(max_request_line: line, max_header_bytes: header, max_fields: fields, max_body_bytes: body)
}

private func text(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> String {
    guard let pointer else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
}

/// Parses `bytes` once, from a guarded buffer.
func parseHead(_ bytes: ArraySlice<UInt8>, limits: sluice_http_limits, buffer: GuardedBuffer) -> HeadOutcome {
    var storage = [sluice_http_field](repeating: sluice_http_field(), count: 256)
    return buffer.withBytes(bytes) { pointer, count in
        storage.withUnsafeMutableBufferPointer { fields in
            var request = sluice_http_request()
            request.fields = fields.baseAddress
            request.fields_capacity = fields.count
            var limits = limits
            let rc = sluice_http_parse_request(pointer, count, &limits, &request)
            if rc == SLUICE_HTTP_INCOMPLETE { return .incomplete }
            if rc < 0 { return .failure(rc) }
            let names = (0..<request.num_fields).map { i in
                text(fields[i].name, fields[i].name_len) + "=" + text(fields[i].value, fields[i].value_len)
            }
            return .parsed(ParsedHead(
                length: Int(rc), method: text(request.method, request.method_len),
                target: text(request.target, request.target_len), path: text(request.path, request.path_len),
                query: request.query.map { text($0, request.query_len) }, minorVersion: Int(request.version_minor),
                form: request.target_form.rawValue, fields: names, bodyKind: request.body_kind.rawValue,
                contentLength: request.content_length, keepAlive: request.keep_alive != 0,
                expectContinue: request.expect_continue != 0, isHead: request.is_head != 0))
        }
    }
}

/// Feeds `bytes` as a growing buffer, one byte more each time, as a connection would.
/// Returns the first outcome that is not `incomplete`, and the prefix length it came at.
func parseHeadByteByByte(_ bytes: [UInt8], limits: sluice_http_limits, buffer: GuardedBuffer) -> (HeadOutcome, Int) {
    for end in 1...bytes.count {
        let outcome = parseHead(bytes[..<end], limits: limits, buffer: buffer)
        if outcome != .incomplete { return (outcome, end) }
    }
    return (.incomplete, bytes.count)
}

/// What decoding a chunked body produced.
enum ChunkedOutcome: Equatable {
    case complete(body: [UInt8], consumed: Int)
    case incomplete(body: [UInt8])
    case failure(Int32)
}

/// Decodes a chunked body fed in pieces of `step` bytes (Int.max: all at once).
func decodeChunked(_ bytes: [UInt8], step: Int, maxBody: UInt64 = 1 << 20, maxTrailer: Int = 1024,
                   buffer: GuardedBuffer) -> ChunkedOutcome {
    var decoder = sluice_http_chunked()
    sluice_http_chunked_init(&decoder, maxBody, maxTrailer)
    var body: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        var position = offset
        // Like a connection: keep calling on the unconsumed bytes of this read.
        while position < end {
            let outcome: Int32 = buffer.withBytes(bytes[position..<end]) { pointer, count in
                var consumed = 0, dataOffset = 0, dataLength = 0
                let rc = sluice_http_chunked_decode(&decoder, pointer, count, &consumed, &dataOffset, &dataLength)
                if rc == SLUICE_HTTP_CHUNK_DATA {
                    body.append(contentsOf: UnsafeRawBufferPointer(start: pointer + dataOffset, count: dataLength))
                }
                position += consumed
                return rc
            }
            if outcome == SLUICE_HTTP_CHUNK_END { return .complete(body: body, consumed: position) }
            if outcome < 0 && outcome != SLUICE_HTTP_INCOMPLETE { return .failure(outcome) }
            if outcome == SLUICE_HTTP_INCOMPLETE { break }
        }
        offset = end
    }
    return .incomplete(body: body)
}
