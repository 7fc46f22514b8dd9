import CSluiceIO
import Testing

struct ChunkedCase: Sendable, CustomStringConvertible {
    var name: String
    var bytes: [UInt8]
    /// The decoded body, or the error the decoder must refuse with.
    var expected: Result<String, ChunkedFailure>
    var maxBody: UInt64 = 1 << 20
    var description: String { name }
}

struct ChunkedFailure: Error, Equatable {
    var code: Int32
}

private func body(_ name: String, _ text: String, _ decoded: String) -> ChunkedCase {
    ChunkedCase(name: name, bytes: Array(text.utf8), expected: .success(decoded))
}

private func bad(_ name: String, _ text: String, _ error: sluice_http_error, maxBody: UInt64 = 1 << 20) -> ChunkedCase {
    ChunkedCase(name: name, bytes: Array(text.utf8), expected: .failure(ChunkedFailure(code: code(error))), maxBody: maxBody)
}

let chunkedCases: [ChunkedCase] = [
    body("one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"),
    body("two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
    body("empty body", "0\r\n\r\n", ""),
    body("upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
    body("lower-case hex", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
    body("leading zeros", "0005\r\nhello\r\n0000\r\n\r\n", "hello"),
    body("leading zeros past 16 digits", String(repeating: "0", count: 20) + "5\r\nhello\r\n" + String(repeating: "0", count: 20) + "\r\n\r\n",
         "hello"),
    body("extension", "5;name=value\r\nhello\r\n0\r\n\r\n", "hello"),
    body("extension without value", "5;flag\r\nhello\r\n0;last\r\n\r\n", "hello"),
    body("quoted extension", "5;a=\"b c;d\"\r\nhello\r\n0\r\n\r\n", "hello"),
    body("whitespace before extension", "5 \t;a=b\r\nhello\r\n0\r\n\r\n", "hello"),
    body("whitespace around every part of extensions", "5 ; a = \"b\" ; c\t=\td ;e\r\nhello\r\n0\r\n\r\n", "hello"),
    body("quoted-pair in an extension", "5;a=\"b\\\"c\\\\\"\r\nhello\r\n0\r\n\r\n", "hello"),
    body("trailer field", "5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n", "hello"),
    body("two trailer fields", "5\r\nhello\r\n0\r\nA: 1\r\nB: 2\r\n\r\n", "hello"),
    body("data containing CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"),
    body("body at the limit", "8\r\n12345678\r\n0\r\n\r\n", "12345678"),
    bad("not hex", "g\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_SIZE),
    bad("empty size", "\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_SIZE),
    bad("negative size", "-5\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_SIZE),
    bad("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_SIZE),
    bad("size then space only", "5 \r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("size overflow, 17 digits", "1ffffffffffffffff\r\nx\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_SIZE),
    bad("size overflow behind leading zeros", "0001ffffffffffffffff\r\nx\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_SIZE),
    bad("size overflow, all f", "ffffffffffffffff\r\nx\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BODY_TOO_LARGE),
    bad("chunk over the body limit", "9\r\n123456789\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BODY_TOO_LARGE, maxBody: 8),
    bad("chunks together over the body limit", "5\r\n12345\r\n5\r\n12345\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BODY_TOO_LARGE, maxBody: 8),
    bad("bare LF after size", "5\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BARE_LF),
    bad("bare CR after size", "5\rhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BARE_CR),
    bad("data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_END),
    bad("bare LF after data", "5\r\nhello\n0\r\n\r\n", SLUICE_HTTP_ERR_BARE_LF),
    bad("control byte in extension", "5;a\u{1}b\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("unterminated quoted extension", "5;a=\"b\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("extension without a name", "5;=b\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("extension with '=' but no value", "5;a=\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("empty extension", "5;;a\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("extension ending in ';'", "5;a;\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("two names without ';'", "5;a b\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("bytes after a quoted value", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("non-token extension value", "5;a=b/c\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("whitespace before the line's end", "5;a=b \r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("control byte in a quoted extension", "5;a=\"\u{1}\"\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
    bad("bare LF in extension", "5;a\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BARE_LF),
    bad("junk after size", "5x\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_SIZE),
    bad("space in trailer name", "0\r\nBad Name: v\r\n\r\n", SLUICE_HTTP_ERR_BAD_TRAILER),
    bad("obs-fold in trailers", "0\r\nA: 1\r\n folded\r\n\r\n", SLUICE_HTTP_ERR_BAD_TRAILER),
    bad("control byte in trailer value", "0\r\nA: 1\u{1}\r\n\r\n", SLUICE_HTTP_ERR_BAD_TRAILER),
    bad("bare CR ending trailers", "0\r\n\rX", SLUICE_HTTP_ERR_BARE_CR),
    bad("trailers over their limit", "0\r\nA: " + String(repeating: "v", count: 2000) + "\r\n\r\n", SLUICE_HTTP_ERR_TRAILERS_TOO_LARGE),
    bad("extension line over its limit", "5;" + String(repeating: "e", count: 5000) + "\r\nhello\r\n0\r\n\r\n", SLUICE_HTTP_ERR_BAD_CHUNK_EXT),
]

@Suite("Chunked body decoder")
struct ChunkedDecoderTests {
    let buffer = GuardedBuffer()

    private func verify(_ outcome: ChunkedOutcome, _ testCase: ChunkedCase) {
        switch (testCase.expected, outcome) {
        case (.success(let text), .complete(let body, let consumed)):
            #expect(body == Array(text.utf8))
            #expect(consumed == testCase.bytes.count, "consumed exactly the chunked body")
        case (.failure(let failure), .failure(let code)):
            #expect(code == failure.code, "\(String(cString: sluice_http_error_message(code)))")
        default:
            Issue.record("expected \(testCase.expected), got \(outcome)")
        }
    }

    @Test("decodes or refuses each case fed at once", arguments: chunkedCases)
    func whole(_ testCase: ChunkedCase) {
        verify(decodeChunked(testCase.bytes, step: .max, maxBody: testCase.maxBody, buffer: buffer), testCase)
    }

    @Test("decodes or refuses each case fed one byte at a time", arguments: chunkedCases)
    func byteByByte(_ testCase: ChunkedCase) {
        verify(decodeChunked(testCase.bytes, step: 1, maxBody: testCase.maxBody, buffer: buffer), testCase)
    }

    @Test("decodes or refuses each case fed in odd-sized pieces", arguments: chunkedCases, [2, 3, 7])
    func pieces(_ testCase: ChunkedCase, step: Int) {
        verify(decodeChunked(testCase.bytes, step: step, maxBody: testCase.maxBody, buffer: buffer), testCase)
    }

    @Test("stops at the end of the body and leaves a pipelined request alone")
    func stopsAtEnd() {
        let bytes = Array("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n".utf8)
        #expect(decodeChunked(bytes, step: .max, buffer: buffer) == .complete(body: Array("abc".utf8), consumed: 13))
    }

    @Test("an unfinished body is incomplete, not an error")
    func unfinished() {
        #expect(decodeChunked(Array("5\r\nhel".utf8), step: 1, buffer: buffer) == .incomplete(body: Array("hel".utf8)))
        #expect(decodeChunked(Array("5\r\nhello\r\n0\r\n".utf8), step: .max, buffer: buffer) == .incomplete(body: Array("hello".utf8)))
    }
}
