import CSluiceAPI
import Logging

/// The SLUICE_LOG_* levels of Include/sluice.h as swift-log levels.
enum CLogLevel {
    /// nil for a level out of range, .some(nil) for SLUICE_LOG_OFF.
    static func from(_ level: Int32) -> Logger.Level?? {
        switch level {
        case SLUICE_LOG_TRACE: return .trace
        case SLUICE_LOG_DEBUG: return .debug
        case SLUICE_LOG_INFO: return .info
        case SLUICE_LOG_NOTICE: return .notice
        case SLUICE_LOG_WARNING: return .warning
        case SLUICE_LOG_ERROR: return .error
        case SLUICE_LOG_CRITICAL: return .critical
        case SLUICE_LOG_OFF: return .some(nil)
        default: return nil
        }
    }
}
