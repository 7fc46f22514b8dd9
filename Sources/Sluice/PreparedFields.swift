/// Field lists that nearly every answer carries — a lone `Content-Type` with a common value —
/// built, checked and laid out as lines once. An answer that still holds one of these lists
/// (the same storage: a handler that changed it holds a copy) is encoded by copying its lines.
package enum PreparedFields {
    private struct Entry: @unchecked Sendable {
        // @unchecked: immutable; `storage` only identifies `headers`' array, which the entry
        // keeps alive for the life of the process, and is never dereferenced.
        let headers: HTTPHeaders
        let storage: UnsafeRawPointer?
        let lines: [UInt8]
    }

    /// The common `Content-Type` values (the C API also reads these from C as constants).
    package static let contentTypeValues = [
        "text/plain; charset=utf-8", "text/html; charset=utf-8", "application/json",
        "application/json; charset=utf-8", "application/octet-stream",
    ]

    private static let contentTypes: [Entry] = contentTypeValues.map { value in
        let headers: HTTPHeaders = ["Content-Type": value]
        return Entry(headers: headers, storage: headers.storageIdentity, lines: Array("Content-Type: \(value)\r\n".utf8))
    }

    /// The shared list of one field, `Content-Type: value`, when value is a common one.
    package static func contentType(_ value: String) -> HTTPHeaders? {
        contentTypes.first { $0.headers["Content-Type"] == value }?.headers
    }

    /// The laid-out lines of `headers` when it is one of the shared lists.
    static func lines(of headers: HTTPHeaders) -> [UInt8]? {
        guard let storage = headers.storageIdentity else { return nil }
        for entry in contentTypes where entry.storage == storage { return entry.lines }
        return nil
    }
}
