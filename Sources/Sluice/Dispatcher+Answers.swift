import CSluiceIO

/// Answers: the engine's own (errors, sheds, shutdown refusals) and the hand-over of any
/// answer to the shim. Every request is answered here exactly once (or dropped, when its
/// client left).
extension Dispatcher {
    /// An error's answer: its status and headers, and the JSON body `{"error","request_id"}`.
    func errorResponse(_ error: HTTPError, requestID: String) -> Response {
        var response = Response.json(JSON.errorBody(message: error.message, requestID: requestID), status: error.status)
        for field in error.headers { response.headers.add(name: field.name, value: field.value) }
        return response
    }

    /// A request shed for capacity: `overloadStatus` (503 or 429) with Retry-After.
    func shed(_ message: String, retryAfter: Int, requestID: String) -> Response {
        refusal(configuration.overloadStatus, message, retryAfter: retryAfter, requestID: requestID)
    }

    /// A 503 while shutting down, with the configured Retry-After.
    func unavailable(_ message: String, requestID: String) -> Response {
        refusal(503, message, retryAfter: configuration.retryAfterSeconds, requestID: requestID)
    }

    private func refusal(_ status: Int, _ message: String, retryAfter: Int, requestID: String) -> Response {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: String(retryAfter))
        return errorResponse(HTTPError(status, message: message, headers: headers), requestID: requestID)
    }

    func respond(_ pending: PendingRequest, _ response: Response) {
        guard let raw = pending.takeRaw() else { return }
        let sent = ResponseHeadEncoder.withEncoded(response, requestID: pending.request.id) { fields, flags in
            guard let fields else { return false }
            response.withBodyBytes { send(raw, status: Int32(response.status), fields: fields, body: $0, flags: flags) }
            return true
        }
        if sent { return }
        logger.error("handler's response has an invalid status or header field", metadata: ["request_id": "\(pending.request.id)"])
        let body = Array(JSON.errorBody(message: "internal server error", requestID: pending.request.id).utf8)
        let head = ResponseHeadEncoder.encode(.json("", status: 500), requestID: pending.request.id).bytes
        head.withUnsafeBytes { fields in body.withUnsafeBytes { send(raw, status: 500, fields: fields, body: $0, flags: 0) } }
    }

    private func send(_ raw: OpaquePointer, status: Int32, fields: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                      flags: Int32) {
        sluice_io_respond(raw, status, fields.baseAddress?.assumingMemoryBound(to: CChar.self), fields.count,
                          body.baseAddress, body.count, flags)
    }

    func respondDrop(_ pending: PendingRequest) {
        guard let raw = pending.takeRaw() else { return }
        sluice_io_respond(raw, 0, nil, 0, nil, 0, SLUICE_IO_RESPOND_DROP)
    }
}
