import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Logs lines to standard error, dropping a line rather than blocking when stderr is a pipe
/// nobody reads: a server must never stall on its own logging.
struct DroppingLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(event.level) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)\n"
        var ready = pollfd(fd: 2, events: Int16(POLLOUT), revents: 0)
        guard poll(&ready, 1, 0) == 1, ready.revents & Int16(POLLOUT) != 0 else { return }
        // A line shorter than PIPE_BUF goes to a writable pipe whole, without blocking.
        let bytes = Array(line.utf8.prefix(Int(PIPE_BUF) - 1))
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
