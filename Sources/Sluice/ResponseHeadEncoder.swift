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

    static func encode(_ response: Response, requestID: String) -> Encoded {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + response.headers.count * 32)
        var flags: Int32 = 0
        append(name: "X-Request-ID", value: requestID, to: &bytes)
        for field in response.headers {
            if isEngineOwned(field.name) {
                if field.name.equalsIgnoringASCIICase("connection"), field.value.lowercased().contains("close") {
                    flags |= SLUICE_IO_RESPOND_CLOSE
                }
                continue
            }
            guard isToken(field.name), isFieldValue(field.value) else {
                return Encoded(bytes: [], flags: 0, valid: false)
            }
            append(name: field.name, value: field.value, to: &bytes)
        }
        if !(100...999).contains(response.status) { return Encoded(bytes: [], flags: 0, valid: false) }
        return Encoded(bytes: bytes, flags: flags, valid: true)
    }

    /// Trailer fields as lines; the invalid and the engine's own are left out.
    static func encodeTrailers(_ trailers: HTTPHeaders) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in trailers where !isEngineOwned(field.name) && isToken(field.name) && isFieldValue(field.value) {
            append(name: field.name, value: field.value, to: &bytes)
        }
        return bytes
    }

    private static func append(name: String, value: String, to bytes: inout [UInt8]) {
        name.withUTF8Bytes { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: ":"))
        bytes.append(UInt8(ascii: " "))
        value.withUTF8Bytes { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\r"))
        bytes.append(UInt8(ascii: "\n"))
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
