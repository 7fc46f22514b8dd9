import Foundation
import Glibc

/// Runs blocking work on a thread of its own. Not on a dispatch queue: on Linux Swift's
/// global executor shares dispatch's pool, so blocked clients could starve the tasks they
/// wait for.
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}

struct TestClientError: Error, CustomStringConvertible {
    var description: String
}

/// A parsed response as a client sees it.
struct ClientResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var trailers: [(String, String)] = []

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client over one TCP connection, with a receive timeout so that a
/// test never hangs on a server that does not answer.
final class TestClient: @unchecked Sendable {
    // @unchecked: one test uses one client from one thread at a time.
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, host: String = "127.0.0.1", timeoutSeconds: Int = 10) throws {
        let isV6 = host.contains(":")
        fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError(description: "socket: \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc: Int32
        if isV6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, host, &address.sin6_addr)
            rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard rc == 0 else {
            close(fd)
            throw TestClientError(description: "connect: \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestClientError(description: "send: \(errno)") }
            offset += n
        }
    }

    /// Closes with a TCP reset instead of a FIN.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Reads more bytes into the buffer; false at EOF.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return false }
        guard n > 0 else {
            throw TestClientError(description: errno == EAGAIN ? "timed out waiting for the server" : "recv: \(errno)")
        }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    /// Whether the server closed the connection (EOF, or a reset) with nothing more to read.
    func isClosedByServer() throws -> Bool {
        if !buffer.isEmpty { return false }
        do {
            return try !fill()
        } catch let error as TestClientError where error.description.hasPrefix("recv: 104") {
            return true
        }
    }

    func takeLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")), index > 0, buffer[index - 1] == UInt8(ascii: "\r") {
                let line = String(decoding: buffer[..<(index - 1)], as: UTF8.self)
                buffer.removeFirst(index + 1)
                return line
            }
            guard try fill() else { throw TestClientError(description: "connection closed inside a response head") }
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw TestClientError(description: "connection closed inside a body") }
        }
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads one response. `forHead` skips the body a HEAD response does not have.
    func readResponse(forHead: Bool = false) throws -> ClientResponse {
        let statusLine = try takeLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw TestClientError(description: "bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try takeLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw TestClientError(description: "bad field: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces))
        }
        var response = ClientResponse(status: status, headers: headers, body: [])
        if response.header("transfer-encoding")?.lowercased() == "chunked", !forHead, status >= 200 {
            while let chunk = try readChunk() { response.body += chunk }
            response.trailers = try readFields()
            return response
        }
        if let length = response.header("content-length").flatMap(Int.init), !forHead, status >= 200 {
            response.body = try take(length)
        }
        return response
    }

    /// One chunk of a chunked body; nil for the last chunk (its trailers are left to `readFields`).
    func readChunk() throws -> [UInt8]? {
        let line = try takeLine()
        guard let size = Int(line.split(separator: ";")[0], radix: 16) else {
            throw TestClientError(description: "bad chunk size line: \(line)")
        }
        if size == 0 { return nil }
        let data = try take(size)
        guard try take(2) == [13, 10] else { throw TestClientError(description: "chunk data not followed by CRLF") }
        return data
    }

    /// Header or trailer fields up to the empty line.
    func readFields() throws -> [(String, String)] {
        var fields: [(String, String)] = []
        while true {
            let line = try takeLine()
            if line.isEmpty { return fields }
            guard let colon = line.firstIndex(of: ":") else { throw TestClientError(description: "bad field: \(line)") }
            fields.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces))
        }
    }

    /// Sends a request and reads its response.
    func request(_ method: String = "GET", _ target: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> ClientResponse {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        try send(Array((head + "\r\n").utf8) + body)
        return try readResponse(forHead: method == "HEAD")
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
