import CSluiceAPI
import Sluice

#if canImport(Glibc)
import Glibc
#endif

// Request and answer entry points of Include/sluice.h.

@_cdecl("sluice_request_method")
public func sluiceRequestMethod(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    CRequest.borrowing(handle, orElse: nil) { $0.methodPointer }
}

@_cdecl("sluice_request_path")
public func sluiceRequestPath(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    CRequest.borrowing(handle, orElse: nil) { $0.pathPointer }
}

@_cdecl("sluice_request_query")
public func sluiceRequestQuery(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    CRequest.borrowing(handle, orElse: nil) { $0.queryPointer }
}

@_cdecl("sluice_request_id")
public func sluiceRequestID(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    CRequest.borrowing(handle, orElse: nil) { $0.idPointer }
}

@_cdecl("sluice_request_header")
public func sluiceRequestHeader(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let name else { return nil }
    // Compared as bytes: most lookups (a classifier's on every request) find nothing, and
    // then no string is made of the name.
    let nameBytes = UnsafeBufferPointer(start: UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self), count: strlen(name))
    return CRequest.borrowing(handle, orElse: nil) { request in
        guard let field = request.request.headers.first(namedBytes: nameBytes) else { return nil }
        return request.string(.header(field.name.lowercased()), field.value)
    }
}

@_cdecl("sluice_request_param")
public func sluiceRequestParam(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let name = CString.read(name) else { return nil }
    return CRequest.borrowing(handle, orElse: nil) { request in
        request.string(.parameter(name), request.parameters[name])
    }
}

@_cdecl("sluice_request_query_param")
public func sluiceRequestQueryParam(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let name = CString.read(name) else { return nil }
    return CRequest.borrowing(handle, orElse: nil) { request in
        request.string(.queryParameter(name), request.request.queryParameter(name))
    }
}

@_cdecl("sluice_request_body")
public func sluiceRequestBody(_ handle: OpaquePointer?, _ outLength: UnsafeMutablePointer<Int>?) -> UnsafeRawPointer? {
    guard let request = CRequest.from(handle) else { return nil }
    outLength?.pointee = request.request.body.count
    return request.bodyPointer
}

@_cdecl("sluice_request_gate_occupancy")
public func sluiceRequestGateOccupancy(_ handle: OpaquePointer?) -> Int32 {
    CRequest.borrowing(handle, orElse: 0) { Int32($0.gateOccupancyOnEntry ?? 0) }
}

@_cdecl("sluice_request_server")
public func sluiceRequestServer(_ handle: OpaquePointer?) -> OpaquePointer? { CRequest.from(handle)?.server.handle }

@_cdecl("sluice_request_is_cancelled")
public func sluiceRequestIsCancelled(_ handle: OpaquePointer?) -> Int32 {
    (CRequest.from(handle)?.isCancelled ?? false) ? 1 : 0
}

@_cdecl("sluice_request_on_cancel")
public func sluiceRequestOnCancel(_ handle: OpaquePointer?,
                                  _ callback: (@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void)?,
                                  _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let request = CRequest.from(handle), let callback else { return ErrorCode.invalid }
    return request.onCancel(callback, userData: userData)
}

/// Header fields from C; nil when one is invalid (the engine would refuse it as a 500).
private func makeHeaders(_ headers: UnsafePointer<sluice_header>?, _ count: Int) -> HTTPHeaders? {
    guard count == 0 || headers != nil else { return nil }
    if count == 1, let name = headers![0].name, let value = headers![0].value,
       let shared = CommonFieldValue.contentTypeAlone(name: name, value: value) {
        return shared
    }
    var fields = HTTPHeaders()
    for i in 0..<count {
        guard let name = CString.read(headers![i].name), let value = CommonFieldValue.read(headers![i].value),
            ResponseHeadEncoder.isToken(name), ResponseHeadEncoder.isFieldValue(value)
        else { return nil }
        fields.add(name: name, value: value)
    }
    return fields
}

/// Builds a Response from C arguments; nil when one is invalid (status, header bytes).
private func makeResponse(_ status: Int32, _ headers: UnsafePointer<sluice_header>?, _ count: Int,
                          _ body: UnsafeRawPointer?, _ length: Int) -> Response? {
    guard Response.finalStatuses.contains(Int(status)), length == 0 || body != nil, let fields = makeHeaders(headers, count) else { return nil }
    let bytes = length > 0 ? Array(UnsafeRawBufferPointer(start: body, count: length)) : []
    return Response(status: Int(status), headers: fields, body: bytes)
}

@_cdecl("sluice_respond")
public func sluiceRespond(_ handle: OpaquePointer?, _ status: Int32, _ headers: UnsafePointer<sluice_header>?, _ count: Int,
                          _ body: UnsafeRawPointer?, _ length: Int) -> Int32 {
    guard let response = makeResponse(status, headers, count, body, length) else { return ErrorCode.invalid }
    return CRequest.borrowing(handle, orElse: ErrorCode.invalid) { $0.answer(.response(response)) }
}

@_cdecl("sluice_respond_owned")
public func sluiceRespondOwned(_ handle: OpaquePointer?, _ status: Int32, _ headers: UnsafePointer<sluice_header>?,
                               _ count: Int, _ body: UnsafeMutableRawPointer?, _ length: Int,
                               _ freeBody: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) -> Int32 {
    guard let request = CRequest.from(handle) else { return ErrorCode.invalid }
    guard let response = makeResponse(status, headers, count, body, length) else { return ErrorCode.invalid }
    let code = request.answer(.response(response))
    // The body was copied into the response; on success it is the engine's to free.
    if code == ErrorCode.ok, let freeBody { freeBody(body) }
    return code
}

@_cdecl("sluice_respond_error")
public func sluiceRespondError(_ handle: OpaquePointer?, _ status: Int32, _ message: UnsafePointer<CChar>?) -> Int32 {
    guard let request = CRequest.from(handle), Response.finalStatuses.contains(Int(status)) else { return ErrorCode.invalid }
    return request.answer(.error(HTTPError(Int(status), message: CString.read(message))))
}

// MARK: Streaming

@_cdecl("sluice_request_body_read")
public func sluiceRequestBodyRead(_ handle: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int) -> Int64 {
    guard let request = CRequest.from(handle), let buffer else { return Int64(ErrorCode.invalid) }
    guard !LoopThread.isCurrent else { return Int64(ErrorCode.state) }
    guard let stream = request.request.bodyStream else {
        // A route that streams, for a request without a body: its end, at once.
        return request.streamsBody ? 0 : Int64(ErrorCode.invalid)
    }
    guard let streaming = request.streaming else { return Int64(ErrorCode.state) }
    if capacity == 0 { return 0 }
    return streaming.readBody(stream, into: buffer, capacity: capacity)
}

@_cdecl("sluice_response_start")
public func sluiceResponseStart(_ handle: OpaquePointer?, _ status: Int32, _ headers: UnsafePointer<sluice_header>?,
                                _ count: Int, _ contentLength: Int64) -> Int32 {
    guard let request = CRequest.from(handle) else { return ErrorCode.invalid }
    guard Response.finalStatuses.contains(Int(status)), let fields = makeHeaders(headers, count) else { return ErrorCode.invalid }
    guard !request.isAnswered, let streaming = request.streaming else { return ErrorCode.state }
    guard let body = streaming.beginResponse(contentLength: contentLength >= 0 ? Int(contentLength) : nil) else {
        return ErrorCode.state
    }
    var response = Response(status: Int(status), headers: fields)
    response.streamedBody = body
    request.retainForStream()
    let code = request.answer(.response(response))
    if code != ErrorCode.ok {
        _ = streaming.end(trailers: HTTPHeaders(), abort: true)
        request.releaseStream()
    }
    return code
}

@_cdecl("sluice_response_write")
public func sluiceResponseWrite(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> Int32 {
    guard let request = CRequest.from(handle), length == 0 || data != nil else { return ErrorCode.invalid }
    guard !LoopThread.isCurrent else { return ErrorCode.state }
    guard let streaming = request.streaming else { return ErrorCode.state }
    let bytes = length > 0 ? Array(UnsafeRawBufferPointer(start: data, count: length)) : []
    return streaming.write(bytes)
}

@_cdecl("sluice_response_finish")
public func sluiceResponseFinish(_ handle: OpaquePointer?, _ trailers: UnsafePointer<sluice_header>?, _ count: Int) -> Int32 {
    guard let request = CRequest.from(handle) else { return ErrorCode.invalid }
    guard let fields = makeHeaders(trailers, count) else { return ErrorCode.invalid }
    guard request.streaming?.end(trailers: fields, abort: false) == true else { return ErrorCode.state }
    request.releaseStream()
    return ErrorCode.ok
}

@_cdecl("sluice_response_abort")
public func sluiceResponseAbort(_ handle: OpaquePointer?) -> Int32 {
    guard let request = CRequest.from(handle) else { return ErrorCode.invalid }
    guard request.streaming?.end(trailers: HTTPHeaders(), abort: true) == true else { return ErrorCode.state }
    request.releaseStream()
    return ErrorCode.ok
}
