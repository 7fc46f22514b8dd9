import Logging

/// Logs one line per request through swift-log: method, path and status as the message;
/// bytes, duration and request id as metadata.
///
/// It logs what its handler chain answered: a thrown `HTTPError` as its status and error
/// body, any other error as the 500 the engine answers, a request cancelled (client gone,
/// deadline) as `cancelled`. A streamed response is logged when its body ends, with the
/// bytes written and the whole duration (`aborted` if it broke off). Requests the engine
/// refuses before any handler are not seen.
public struct AccessLog: Middleware {
    private let logger: Logger
    private let level: Logger.Level

    public init(logger: Logger, level: Logger.Level = .info) {
        self.logger = logger
        self.level = level
    }

    public func handle(_ request: Request, context: RequestContext, next: Handler) async throws -> Response {
        let started = MonotonicClock.now()
        do {
            var response = try await next(request, context)
            if let body = response.streamedBody {
                response.streamedBody = logged(body, request, status: response.status, since: started)
            } else {
                log(request, status: String(response.status), bytes: response.bodyCount, since: started)
            }
            return response
        } catch let error as HTTPError {
            log(request, status: String(error.status), bytes: error.bodyByteCount(requestID: request.id), since: started)
            throw error
        } catch {
            // Any other error is answered as a 500 with the engine's error body.
            if Task.isCancelled {
                log(request, status: "cancelled", bytes: 0, since: started)
            } else {
                log(request, status: "500", bytes: HTTPError(500).bodyByteCount(requestID: request.id), since: started)
            }
            throw error
        }
    }

    /// The same body, logged once it is written.
    private func logged(_ body: ResponseBody, _ request: Request, status: Int, since started: UInt64) -> ResponseBody {
        ResponseBody(contentLength: body.contentLength, produce: { writer in
            do {
                try await body.produce(writer)
                log(request, status: String(status), bytes: writer.bytesWritten, since: started)
            } catch {
                log(request, status: "\(status) aborted", bytes: writer.bytesWritten, since: started)
                throw error
            }
        }, abandoned: body.abandoned)
    }

    private func log(_ request: Request, status: String, bytes: Int, since started: UInt64) {
        let milliseconds = Double(MonotonicClock.now() &- started) / 1e6
        logger.log(level: level, "\(request.method.rawValue) \(request.path) \(status)", metadata: [
            "bytes": "\(bytes)",
            "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
            "request_id": "\(request.id)",
        ])
    }
}
