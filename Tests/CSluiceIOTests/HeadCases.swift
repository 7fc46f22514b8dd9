import CSluiceIO

/// One request-head case: the bytes and what a strict RFC 9112 parser must make of them.
struct HeadCase: Sendable, CustomStringConvertible {
    enum Expected: Sendable {
        /// Parsed; the checks apply to the result.
        case ok(Check)
        /// Refused with this error and this status.
        case refused(Int32, status: Int)
    }

    struct Check: Sendable {
        var method = "GET"
        var path = "/"
        var query: String?? = .none
        var minor = 1
        var bodyKind = SLUICE_HTTP_BODY_NONE.rawValue
        var contentLength: UInt64 = 0
        var keepAlive = true
        var expectContinue = false
        var fieldCount: Int?
        var form = SLUICE_HTTP_TARGET_ORIGIN.rawValue
    }

    var name: String
    var bytes: [UInt8]
    var expected: Expected
    var limits: sluice_http_limits = CSluiceIOTests.limits()

    var description: String { name }
}

private func ok(_ name: String, _ text: String, _ check: HeadCase.Check = .init()) -> HeadCase {
    HeadCase(name: name, bytes: Array(text.utf8), expected: .ok(check))
}

private func refused(_ name: String, _ text: String, _ error: sluice_http_error, _ status: Int,
                     limits: sluice_http_limits = limits()) -> HeadCase {
    HeadCase(name: name, bytes: Array(text.utf8), expected: .refused(code(error), status: status), limits: limits)
}

private func refusedBytes(_ name: String, _ bytes: [UInt8], _ error: sluice_http_error, _ status: Int) -> HeadCase {
    HeadCase(name: name, bytes: bytes, expected: .refused(code(error), status: status))
}

private let get = "GET / HTTP/1.1\r\nHost: a\r\n"
private let small = limits(line: 64, header: 128, fields: 5, body: 1000)

private func check(_ configure: (inout HeadCase.Check) -> Void) -> HeadCase.Check {
    var check = HeadCase.Check()
    configure(&check)
    return check
}

let validHeadCases: [HeadCase] = [
    ok("simple GET", get + "\r\n", check { $0.fieldCount = 1 }),
    ok("query string", "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n", check { $0.path = "/a/b"; $0.query = "x=1&y=2" }),
    ok("empty query", "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", check { $0.path = "/a"; $0.query = "" }),
    ok("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", check { $0.minor = 0; $0.keepAlive = false; $0.fieldCount = 0 }),
    ok("HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", check { $0.minor = 0 }),
    ok("HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
       check { $0.minor = 0; $0.keepAlive = false }),
    ok("HTTP/1.1 close", get + "Connection: close\r\n\r\n", check { $0.keepAlive = false }),
    ok("HTTP/1.1 close mixed case in list", get + "Connection: Upgrade, CLOSE\r\n\r\n", check { $0.keepAlive = false }),
    ok("HTTP/1.1 keep-alive default", get + "Connection: Upgrade\r\n\r\n"),
    ok("Content-Length body", "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
       check { $0.method = "POST"; $0.path = "/e"; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 5 }),
    ok("Content-Length zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", check { $0.method = "POST" }),
    ok("Content-Length leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
       check { $0.method = "POST"; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 7 }),
    ok("Content-Length with 30 leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + String(repeating: "0", count: 30) + "7\r\n\r\n",
       check { $0.method = "POST"; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 7 }),
    ok("Content-Length at the body limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n",
       check { $0.method = "POST"; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 1_048_576 }),
    ok("chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
       check { $0.method = "POST"; $0.bodyKind = SLUICE_HTTP_BODY_CHUNKED.rawValue }),
    ok("chunked mixed case", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: ChUnKeD\r\n\r\n",
       check { $0.method = "POST"; $0.bodyKind = SLUICE_HTTP_BODY_CHUNKED.rawValue }),
    ok("chunked with OWS", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:   chunked  \r\n\r\n",
       check { $0.method = "POST"; $0.bodyKind = SLUICE_HTTP_BODY_CHUNKED.rawValue }),
    ok("one leading CRLF", "\r\n" + get + "\r\n"),
    ok("two leading CRLFs", "\r\n\r\n" + get + "\r\n"),
    ok("absolute-form", "GET http://example.com/p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
       check { $0.path = "/p"; $0.query = "q=1"; $0.form = SLUICE_HTTP_TARGET_ABSOLUTE.rawValue }),
    ok("absolute-form without path", "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
       check { $0.path = "/"; $0.form = SLUICE_HTTP_TARGET_ABSOLUTE.rawValue }),
    ok("absolute-form with a query and no path", "GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
       check { $0.path = "/"; $0.query = "q=1"; $0.form = SLUICE_HTTP_TARGET_ABSOLUTE.rawValue }),
    ok("asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
       check { $0.method = "OPTIONS"; $0.path = "*"; $0.form = SLUICE_HTTP_TARGET_ASTERISK.rawValue }),
    ok("authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
       check { $0.method = "CONNECT"; $0.path = "example.com:443"; $0.form = SLUICE_HTTP_TARGET_AUTHORITY.rawValue }),
    ok("HEAD", "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n", check { $0.method = "HEAD"; $0.path = "/h" }),
    ok("100-continue with body", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
       check { $0.method = "PUT"; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 3; $0.expectContinue = true }),
    ok("100-continue mixed case", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
       check { $0.method = "PUT"; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 3; $0.expectContinue = true }),
    ok("100-continue without body", get + "Expect: 100-continue\r\n\r\n"),
    ok("100-continue ignored in HTTP/1.0", "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
       check { $0.method = "POST"; $0.minor = 0; $0.keepAlive = false; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 2 }),
    ok("HTAB inside a value", get + "X-A: a\tb\r\n\r\n"),
    ok("empty value", get + "X-Empty:\r\n\r\n", check { $0.fieldCount = 2 }),
    ok("OWS around value", get + "X-A: \t v \t\r\n\r\n"),
    ok("Host with port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"),
    ok("Host IPv6 literal", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
    ok("Host empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
    ok("Host percent-encoded reg-name", "GET / HTTP/1.1\r\nHost: a%2Db.example\r\n\r\n"),
    ok("HTTP/1.2 read as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
    ok("custom method token", "PURGE /c HTTP/1.1\r\nHost: a\r\n\r\n", check { $0.method = "PURGE"; $0.path = "/c" }),
    ok("lower-case method is a token", "get / HTTP/1.1\r\nHost: a\r\n\r\n", check { $0.method = "get" }),
    ok("percent-encoded target", "GET /a%20b/%E2%9C%93 HTTP/1.1\r\nHost: a\r\n\r\n", check { $0.path = "/a%20b/%E2%9C%93" }),
    ok("sub-delims in target", "GET /a;b=c,d!$&'()*+@:~ HTTP/1.1\r\nHost: a\r\n\r\n", check { $0.path = "/a;b=c,d!$&'()*+@:~" }),
    ok("token characters in a name", get + "X-Tok!#$%&'*+-.^_`|~9: v\r\n\r\n"),
    ok("five fields at the small limit",
       "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", check { $0.fieldCount = 5 }),
    ok("Expect and Connection close together",
       "POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
       check { $0.method = "POST"; $0.keepAlive = false; $0.expectContinue = true; $0.bodyKind = SLUICE_HTTP_BODY_LENGTH.rawValue; $0.contentLength = 1 }),
]

let obsTextCase = HeadCase(
    name: "obs-text in a value", bytes: Array((get + "X-A: caf").utf8) + [0xC3, 0xA9] + Array("\r\n\r\n".utf8),
    expected: .ok(HeadCase.Check()))

let refusedHeadCases: [HeadCase] = [
    // Request-line
    refused("invalid method byte", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_METHOD, 400),
    refused("tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_METHOD, 400),
    refused("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_REQUEST_LINE, 400),
    refused("two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_VERSION, 400),
    refused("no version (HTTP/0.9 style)", "GET /\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_VERSION, 400),
    refused("lower-case protocol", "GET / http/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_VERSION, 400),
    refused("two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_VERSION, 400),
    refused("version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_VERSION, 400),
    refused("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_VERSION_NOT_SUPPORTED, 505),
    refused("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_VERSION_NOT_SUPPORTED, 505),
    refused("HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_VERSION_NOT_SUPPORTED, 505),
    // An HTTP/2 client with prior knowledge: its preface's target ("*" with PRI) would be a
    // 400 in HTTP/1.1; the version comes first.
    refused("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", SLUICE_HTTP_ERR_VERSION_NOT_SUPPORTED, 505),
    refused("bad target form in HTTP/3.0", "GET a/b HTTP/3.0\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_VERSION_NOT_SUPPORTED, 505),
    refused("space inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_VERSION, 400),
    refused("fragment in target", "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("absolute-form with an empty host", "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("absolute-form with an empty host and a query", "GET http://?q HTTP/1.1\r\nHost: a\r\n\r\n",
            SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("absolute-form with userinfo", "GET http://u@a/p HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("CONNECT with a path", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("backslash in target", "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("'%' not followed by two hex digits", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("'%' with one hex digit", "GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("'%' ending the query", "GET /a?b=% HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("quote in target", "GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refused("request line over its limit", "GET /" + String(repeating: "a", count: 80) + " HTTP/1.1\r\nHost: a\r\n\r\n",
            SLUICE_HTTP_ERR_URI_TOO_LONG, 414, limits: small),
    refused("request line over its limit, no end in sight", "GET /" + String(repeating: "a", count: 200),
            SLUICE_HTTP_ERR_URI_TOO_LONG, 414, limits: small),
    refused("method over the request line's limit", String(repeating: "M", count: 80) + " / HTTP/1.1\r\nHost: a\r\n\r\n",
            SLUICE_HTTP_ERR_METHOD_TOO_LONG, 501, limits: small),
    refused("method over the request line's limit, no end in sight", String(repeating: "M", count: 200),
            SLUICE_HTTP_ERR_METHOD_TOO_LONG, 501, limits: small),
    refused("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", SLUICE_HTTP_ERR_BARE_LF, 400),
    refused("bare CR after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", SLUICE_HTTP_ERR_BARE_CR, 400),
    refused("too many leading CRLFs", String(repeating: "\r\n", count: 20) + get + "\r\n", SLUICE_HTTP_ERR_BAD_REQUEST_LINE, 400),
    refused("leading bare LF", "\n" + get + "\r\n", SLUICE_HTTP_ERR_BARE_LF, 400),
    // Field lines
    refused("bare LF after a field", "GET / HTTP/1.1\r\nHost: a\n\r\n", SLUICE_HTTP_ERR_BARE_LF, 400),
    refused("bare LF ending the head", get + "\n", SLUICE_HTTP_ERR_BARE_LF, 400),
    refused("bare CR ending the head", get + "\rX", SLUICE_HTTP_ERR_BARE_CR, 400),
    refused("bare CR inside a value", get + "X-A: a\rb\r\n\r\n", SLUICE_HTTP_ERR_BARE_CR, 400),
    refused("obs-fold", get + "X-A: a\r\n b\r\n\r\n", SLUICE_HTTP_ERR_OBS_FOLD, 400),
    refused("obs-fold with tab", get + "X-A: a\r\n\tb\r\n\r\n", SLUICE_HTTP_ERR_OBS_FOLD, 400),
    refused("whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", SLUICE_HTTP_ERR_OBS_FOLD, 400),
    refused("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", SLUICE_HTTP_ERR_SPACE_BEFORE_COLON, 400),
    refused("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", SLUICE_HTTP_ERR_SPACE_BEFORE_COLON, 400),
    refused("space before colon in Content-Length",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello", SLUICE_HTTP_ERR_SPACE_BEFORE_COLON, 400),
    refused("space before colon in Transfer-Encoding",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", SLUICE_HTTP_ERR_SPACE_BEFORE_COLON, 400),
    refused("empty field name", get + ": v\r\n\r\n", SLUICE_HTTP_ERR_BAD_FIELD_NAME, 400),
    refused("invalid byte in field name", get + "X(A): v\r\n\r\n", SLUICE_HTTP_ERR_BAD_FIELD_NAME, 400),
    refused("field line without colon", get + "NoColon\r\n\r\n", SLUICE_HTTP_ERR_BAD_FIELD_NAME, 400),
    refused("field line with a space and no colon", get + "No colon\r\n\r\n", SLUICE_HTTP_ERR_SPACE_BEFORE_COLON, 400),
    refusedBytes("NUL in a value", Array((get + "X-A: a").utf8) + [0] + Array("b\r\n\r\n".utf8), SLUICE_HTTP_ERR_BAD_FIELD_VALUE, 400),
    refusedBytes("NUL in a name", Array((get + "X-").utf8) + [0] + Array("A: b\r\n\r\n".utf8), SLUICE_HTTP_ERR_BAD_FIELD_NAME, 400),
    refusedBytes("DEL in a value", Array((get + "X-A: a").utf8) + [0x7F] + Array("\r\n\r\n".utf8), SLUICE_HTTP_ERR_BAD_FIELD_VALUE, 400),
    refusedBytes("control byte in a value", Array((get + "X-A: a").utf8) + [0x01] + Array("\r\n\r\n".utf8), SLUICE_HTTP_ERR_BAD_FIELD_VALUE, 400),
    refusedBytes("vertical tab before chunked",
                 Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ".utf8) + [0x0B] + Array("chunked\r\n\r\n".utf8),
                 SLUICE_HTTP_ERR_BAD_FIELD_VALUE, 400),
    refusedBytes("non-ASCII in target", Array("GET /caf".utf8) + [0xC3, 0xA9] + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8),
                 SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refusedBytes("control byte in target", Array("GET /a".utf8) + [0x01] + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8),
                 SLUICE_HTTP_ERR_BAD_TARGET, 400),
    refusedBytes("TLS handshake bytes", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03],
                 SLUICE_HTTP_ERR_BAD_REQUEST_LINE, 400),
    refused("header section over its limit", get + "X-Big: " + String(repeating: "b", count: 200) + "\r\n\r\n",
            SLUICE_HTTP_ERR_HEADERS_TOO_LARGE, 431, limits: small),
    refused("header section over its limit, no end in sight", get + "X-Big: " + String(repeating: "b", count: 200),
            SLUICE_HTTP_ERR_HEADERS_TOO_LARGE, 431, limits: small),
    refused("too many fields", "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\n\r\n",
            SLUICE_HTTP_ERR_TOO_MANY_FIELDS, 431, limits: small),
    // Host
    refused("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", SLUICE_HTTP_ERR_MISSING_HOST, 400),
    refused("missing Host with absolute-form", "GET http://a/ HTTP/1.1\r\n\r\n", SLUICE_HTTP_ERR_MISSING_HOST, 400),
    refused("two Hosts", get + "Host: b\r\n\r\n", SLUICE_HTTP_ERR_DUPLICATE_HOST, 400),
    refused("two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", SLUICE_HTTP_ERR_DUPLICATE_HOST, 400),
    refused("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", SLUICE_HTTP_ERR_BAD_HOST, 400),
    refused("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", SLUICE_HTTP_ERR_BAD_HOST, 400),
    refused("Host with a broken pct-encoding", "GET / HTTP/1.1\r\nHost: a%G1\r\n\r\n", SLUICE_HTTP_ERR_BAD_HOST, 400),
    refused("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", SLUICE_HTTP_ERR_BAD_HOST, 400),
    refused("Host with a bad port", "GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", SLUICE_HTTP_ERR_BAD_HOST, 400),
    refused("Host with an open bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", SLUICE_HTTP_ERR_BAD_HOST, 400),
    refused("Host with two ports", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", SLUICE_HTTP_ERR_BAD_HOST, 400),
    // Content-Length
    refused("negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("space inside Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("Content-Length with a comma", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("overflowing Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
            SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("overflowing Content-Length behind leading zeros",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00099999999999999999999\r\n\r\n", SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH, 400),
    refused("Content-Length twice, same value", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            SLUICE_HTTP_ERR_DUPLICATE_CONTENT_LENGTH, 400),
    refused("Content-Length twice, different values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            SLUICE_HTTP_ERR_DUPLICATE_CONTENT_LENGTH, 400),
    refused("Content-Length over the body limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n",
            SLUICE_HTTP_ERR_BODY_TOO_LARGE, 413, limits: small),
    refused("huge Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999\r\n\r\n", SLUICE_HTTP_ERR_BODY_TOO_LARGE, 413),
    // Transfer-Encoding
    refused("Content-Length then Transfer-Encoding",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", SLUICE_HTTP_ERR_LENGTH_AND_CHUNKED, 400),
    refused("Transfer-Encoding then Content-Length",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", SLUICE_HTTP_ERR_LENGTH_AND_CHUNKED, 400),
    refused("gzip alone", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", SLUICE_HTTP_ERR_TE_NOT_CHUNKED, 400),
    refused("chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", SLUICE_HTTP_ERR_TE_NOT_CHUNKED, 400),
    refused("chunked not last across fields",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", SLUICE_HTTP_ERR_TE_NOT_CHUNKED, 400),
    refused("gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", SLUICE_HTTP_ERR_TE_UNSUPPORTED, 501),
    refused("gzip then chunked across fields",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", SLUICE_HTTP_ERR_TE_UNSUPPORTED, 501),
    refused("chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", SLUICE_HTTP_ERR_TE_BAD_LIST, 400),
    refused("chunked twice across fields",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", SLUICE_HTTP_ERR_TE_BAD_LIST, 400),
    refused("empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", SLUICE_HTTP_ERR_TE_BAD_LIST, 400),
    refused("empty element in Transfer-Encoding",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n", SLUICE_HTTP_ERR_TE_BAD_LIST, 400),
    refused("xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", SLUICE_HTTP_ERR_TE_NOT_CHUNKED, 400),
    refused("chunked with a parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", SLUICE_HTTP_ERR_TE_NOT_CHUNKED, 400),
    refused("quoted chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", SLUICE_HTTP_ERR_TE_NOT_CHUNKED, 400),
    refused("identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", SLUICE_HTTP_ERR_TE_NOT_CHUNKED, 400),
    refused("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", SLUICE_HTTP_ERR_TE_IN_HTTP10, 400),
    // Expect
    refused("unknown expectation", get + "Expect: 200-ok\r\n\r\n", SLUICE_HTTP_ERR_EXPECTATION, 417),
    refused("100-continue with a parameter", get + "Expect: 100-continue; a=b\r\n\r\n", SLUICE_HTTP_ERR_EXPECTATION, 417),
]

let allHeadCases = validHeadCases + [obsTextCase] + refusedHeadCases
