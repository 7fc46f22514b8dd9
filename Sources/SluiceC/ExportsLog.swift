import CSluiceAPI
import Sluice

// The log entry point of Include/sluice.h: C programs write their own lines (access logs,
// events) through the writer the servers' log uses, so they neither interleave with the
// library's lines nor block on a full stderr.

@_cdecl("sluice_log")
public func sluiceLog(_ level: Int32, _ label: UnsafePointer<CChar>?, _ message: UnsafePointer<CChar>?) -> Int32 {
    guard case let .some(.some(level)) = CLogLevel.from(level), let label = CString.read(label),
          let message = CString.read(message) else { return ErrorCode.invalid }
    return StderrLogHandler.write(level: level, label: label, message: message) ? ErrorCode.ok : 1
}
