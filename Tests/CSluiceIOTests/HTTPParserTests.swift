import CSluiceIO
import Testing

@Suite("HTTP/1.1 request-head parser")
struct HTTPParserTests {
    let buffer = GuardedBuffer()

    private func verify(_ outcome: HeadOutcome, against testCase: HeadCase) {
        switch (testCase.expected, outcome) {
        case (.ok(let check), .parsed(let head)):
            #expect(head.length == testCase.bytes.count, "consumed the whole head")
            #expect(head.method == check.method)
            #expect(head.path == check.path)
            if case .some(let query) = check.query { #expect(head.query == query) }
            #expect(head.minorVersion == check.minor)
            #expect(head.bodyKind == check.bodyKind)
            #expect(head.contentLength == check.contentLength)
            #expect(head.keepAlive == check.keepAlive)
            #expect(head.expectContinue == check.expectContinue)
            #expect(head.form == check.form)
            #expect(head.isHead == (check.method == "HEAD"))
            if let count = check.fieldCount { #expect(head.fields.count == count) }
        case (.refused(let code, let status), .failure(let actual)):
            #expect(actual == code, "\(String(cString: sluice_http_error_message(actual)))")
            #expect(Int(sluice_http_error_status(actual)) == status)
        default:
            Issue.record("expected \(testCase.expected), got \(outcome)")
        }
    }

    @Test("parses or refuses each case fed at once", arguments: allHeadCases)
    func wholeBuffer(_ testCase: HeadCase) {
        verify(parseHead(testCase.bytes[...], limits: testCase.limits, buffer: buffer), against: testCase)
    }

    @Test("gives the same answer when the case arrives one byte at a time", arguments: allHeadCases)
    func byteByByte(_ testCase: HeadCase) {
        let (outcome, _) = parseHeadByteByByte(testCase.bytes, limits: testCase.limits, buffer: buffer)
        verify(outcome, against: testCase)
        #expect(outcome == parseHead(testCase.bytes[...], limits: testCase.limits, buffer: buffer))
    }

    @Test("every strict prefix of a valid head is incomplete", arguments: validHeadCases)
    func prefixesAreIncomplete(_ testCase: HeadCase) {
        for end in 0..<testCase.bytes.count {
            #expect(parseHead(testCase.bytes[..<end], limits: testCase.limits, buffer: buffer) == .incomplete, "prefix \(end)")
        }
    }

    @Test("has at least 100 cases, valid and refused")
    func caseCount() {
        #expect(allHeadCases.count >= 100)
        #expect(validHeadCases.count >= 30)
    }

    @Test("stops at the end of the first of two pipelined heads")
    func pipelinedHeads() {
        let first = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
        let both = Array((first + "GET /two HTTP/1.1\r\nHost: a\r\n\r\n").utf8)
        guard case .parsed(let head) = parseHead(both[...], limits: limits(), buffer: buffer) else {
            Issue.record("first head did not parse")
            return
        }
        #expect(head.length == first.utf8.count)
        #expect(head.path == "/one")
        guard case .parsed(let second) = parseHead(both[head.length...], limits: limits(), buffer: buffer) else {
            Issue.record("second head did not parse")
            return
        }
        #expect(second.path == "/two")
    }

    @Test("keeps field names and values exactly, whitespace trimmed")
    func fieldValues() {
        let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-A:  one two \t\r\nx-b:\r\n\r\n".utf8)
        guard case .parsed(let head) = parseHead(bytes[...], limits: limits(), buffer: buffer) else {
            Issue.record("did not parse")
            return
        }
        #expect(head.fields == ["Host=a", "X-A=one two", "x-b="])
    }

    @Test("maps every error to a status and a message")
    func errorTable() {
        for raw in SLUICE_HTTP_ERR_BAD_REQUEST_LINE.rawValue..<SLUICE_HTTP_ERR_LAST_.rawValue {
            let status = sluice_http_error_status(Int32(raw))
            #expect([400, 411, 413, 414, 417, 431, 501, 505].contains(status))
            #expect(!String(cString: sluice_http_error_message(Int32(raw))).isEmpty)
        }
    }
}
