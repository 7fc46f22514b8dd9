import CSluiceAPI
import Sluice

/// The C API's error codes, and the mapping of Swift errors onto them at the boundary.
enum ErrorCode {
    static let ok: Int32 = 0
    static let invalid: Int32 = SLUICE_EINVAL
    static let noMemory: Int32 = SLUICE_ENOMEM
    static let state: Int32 = SLUICE_ESTATE
    static let listen: Int32 = SLUICE_ELISTEN
    static let pattern: Int32 = SLUICE_EPATTERN
    static let cancelled: Int32 = SLUICE_ECANCELED
    static let notFound: Int32 = SLUICE_ENOTFOUND
    static let range: Int32 = SLUICE_ERANGE
    static let io: Int32 = SLUICE_EIO

    static func from(_ error: any Error) -> Int32 {
        switch error {
        case let error as SluiceError:
            switch error.code {
            case .invalidConfiguration: return invalid
            case .listenFailed: return listen
            case .alreadyRunning: return state
            default: return io
            }
        case is RoutePattern.SyntaxError: return pattern
        default: return io
        }
    }

    static func message(_ code: Int32) -> StaticString {
        switch code {
        case ok: "success"
        case invalid: "invalid argument"
        case noMemory: "out of memory"
        case state: "not allowed in this state"
        case listen: "cannot bind or listen on the address"
        case pattern: "invalid route pattern"
        case cancelled: "the request was cancelled"
        case notFound: "not found"
        case range: "buffer too small"
        case io: "I/O failure"
        default: "unknown error"
        }
    }
}
