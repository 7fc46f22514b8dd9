import CSluiceIO

/// Lays out a response's header fields as "Name: value\r\n" lines for the shim.
///
/// Fields the engine owns (framing and connection management) are left out; a field name
/// that is not a token, or a value with CR, LF or NUL, makes the response invalid, since
/// sending it would let a handler split the response.
package enum ResponseHeadEncoder {
    struct Encoded {
        var bytes: [UInt8]
        var flags: Int32
        var valid: Bool
    }

    /// Fields up to this many bytes are laid out on the stack by `withEncoded`.
    private static let stackBytes = 1024

    static func encode(_ response: Response, requestID: String) -> Encoded {
        guard let (size, flags) = measure(response, requestID: requestID) else {
            return Encoded(bytes: [], flags: 0, valid: false)
        }
        return Encoded(bytes: bytes(response, requestID: requestID, size: size), flags: flags, valid: true)
    }

    /// Calls `body` with the encoded fields (nil when the response is invalid) and the shim's
    /// flags. The fields lie in temporary memory, on the stack when they fit (nearly every
    /// answer's do): an answer's head then costs no allocation.
    static func withEncoded<T>(_ response: Response, requestID: String,
                               _ body: (_ fields: UnsafeRawBufferPointer?, _ flags: Int32) -> T) -> T {
        guard let (size, flags) = measure(response, requestID: requestID) else { return body(nil, 0) }
        guard size <= stackBytes else {
            return bytes(response, requestID: requestID, size: size).withUnsafeBytes { body($0, flags) }
        }
        return withUnsafeTemporaryAllocation(byteCount: stackBytes, alignment: 1) { buffer in
            let count = fill(response, requestID: requestID, into: buffer)
            return body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), flags)
        }
    }

    /// The encoded size and the shim's flags; nil when a field or the status is invalid.
    private static func measure(_ response: Response, requestID: String) -> (size: Int, flags: Int32)? {
        guard Response.finalStatuses.contains(response.status) else { return nil }
        var size = lineSize(name: "X-Request-ID", value: requestID)
        if let lines = PreparedFields.lines(of: response.headers) { return (size + lines.count, 0) }
        var flags: Int32 = 0
        for field in response.headers {
            if isEngineOwned(field.name) {
                if field.name.equalsIgnoringASCIICase("connection"), field.value.lowercased().contains("close") {
                    flags |= SLUICE_IO_RESPOND_CLOSE
                }
                continue
            }
            guard isToken(field.name), isFieldValue(field.value) else { return nil }
            size += lineSize(name: field.name, value: field.value)
        }
        return (size, flags)
    }

    /// The fields `measure` counted (`size` bytes), in an array.
    private static func bytes(_ response: Response, requestID: String, size: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = fill(response, requestID: requestID, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Writes the fields `measure` counted into buffer (room for them); returns the bytes written.
    private static func fill(_ response: Response, requestID: String, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var count = 0
        write(name: "X-Request-ID", value: requestID, into: buffer, at: &count)
        if let lines = PreparedFields.lines(of: response.headers) {
            lines.withUnsafeBytes { (buffer.baseAddress! + count).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return count + lines.count
        }
        for field in response.headers where !isEngineOwned(field.name) {
            write(name: field.name, value: field.value, into: buffer, at: &count)
        }
        return count
    }

    private static func lineSize(name: String, value: String) -> Int { name.utf8.count + value.utf8.count + 4 }

    private static func write(name: String, value: String, into buffer: UnsafeMutableRawBufferPointer, at count: inout Int) {
        func put(_ bytes: UnsafeBufferPointer<UInt8>) {
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
            (buffer.baseAddress! + count).copyMemory(from: base, byteCount: bytes.count)
            count += bytes.count
        }
        func put(_ byte: UInt8) {
            buffer[count] = byte
            count += 1
        }
        name.withUTF8Bytes(put)
        put(UInt8(ascii: ":"))
        put(UInt8(ascii: " "))
        value.withUTF8Bytes(put)
        put(UInt8(ascii: "\r"))
        put(UInt8(ascii: "\n"))
    }

    /// Trailer fields as lines; the invalid and the engine's own are left out.
    static func encodeTrailers(_ trailers: HTTPHeaders) -> [UInt8] {
        let fields = trailers.filter { !isEngineOwned($0.name) && isToken($0.name) && isFieldValue($0.value) }
        let size = fields.reduce(0) { $0 + lineSize(name: $1.name, value: $1.value) }
        // Built with no capacity, the array would be the shared empty storage, and setting its
        // count (to 0) writes that global: two loops ending streams at once race on it (TSan).
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            for field in fields { write(name: field.name, value: field.value, into: UnsafeMutableRawBufferPointer(buffer), at: &count) }
        }
    }

    private static func isEngineOwned(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: name.equalsIgnoringASCIICase("date")
        case 6: name.equalsIgnoringASCIICase("server")
        case 10: name.equalsIgnoringASCIICase("connection")
        case 12: name.equalsIgnoringASCIICase("x-request-id")
        case 14: name.equalsIgnoringASCIICase("content-length")
        case 17: name.equalsIgnoringASCIICase("transfer-encoding")
        default: false
        }
    }

    /// Whether name is an RFC 9110 token; also used by the C API to refuse a bad name at once.
    package static func isToken(_ name: String) -> Bool {
        name.withUTF8Bytes { bytes in !bytes.isEmpty && bytes.allSatisfy(isTokenByte) }
    }

    /// RFC 9110 tchar: ALPHA, DIGIT and "!#$%&'*+-.^_`|~".
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// Whether value has no CR, LF or NUL (which would let a handler split the response).
    package static func isFieldValue(_ value: String) -> Bool {
        value.withUTF8Bytes { bytes in bytes.allSatisfy { $0 != 0 && $0 != 0x0A && $0 != 0x0D } }
    }
}
