import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Logs lines to standard error, dropping a line rather than blocking when stderr is a pipe
/// that nobody reads: a server must never stall on its own logging (a supervisor that
/// captures stderr but stops reading it would otherwise freeze every loop that logs).
///
/// One line per event: `LEVEL LABEL: MESSAGE key=value ...`, metadata sorted by key, at most
/// `PIPE_BUF - 1` bytes so that it reaches a pipe whole. The C API logs through it; Swift
/// programs may bootstrap it or keep their own handler (`Configuration.logger`).
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let label: String

    public init(label: String, logLevel: Logger.Level) {
        self.label = label
        self.logLevel = logLevel
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        Self.write(level: event.level, label: label, message: "\(event.message)\(fields.isEmpty ? "" : " " + fields)")
    }

    /// Writes `LEVEL LABEL: MESSAGE` as one line, cut to `PIPE_BUF - 1` bytes so that it
    /// reaches a pipe whole (at a character's start, so the line stays valid UTF-8); a CR or
    /// LF inside becomes a space, so that one call can never forge a second line. Returns
    /// false when the line was dropped (stderr full or closed).
    @discardableResult
    package static func write(level: Logger.Level, label: String, message: String) -> Bool {
        let room = Int(PIPE_BUF) - 2
        // One byte past the room, to see whether the cut falls inside a character.
        var bytes = Array("\(level) \(label): \(message)".utf8.prefix(room + 1))
        if bytes.count > room {
            // Back off the continuation bytes (10xxxxxx) of a character the cut would split.
            var end = room
            while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
            bytes.removeSubrange(end...)
        }
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") || bytes[index] == UInt8(ascii: "\r") {
            bytes[index] = UInt8(ascii: " ")
        }
        bytes.append(UInt8(ascii: "\n"))
        return writeUnlessFull(bytes)
    }

    /// Serializes the check and the write: two threads that both saw room for one line could
    /// otherwise both write, and the second block.
    private static let writer = Locked(())

    private static func writeUnlessFull(_ bytes: [UInt8]) -> Bool {
        writer.withLock { _ in
            // A pipe reports POLLOUT while it has a free slot, which takes a write of up to
            // PIPE_BUF bytes whole and at once.
            var ready = pollfd(fd: 2, events: Int16(POLLOUT), revents: 0)
            guard poll(&ready, 1, 0) == 1, ready.revents & Int16(POLLOUT) != 0 else { return false }
            return bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) } == bytes.count
        }
    }
}
