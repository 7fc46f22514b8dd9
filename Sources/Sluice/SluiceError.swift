/// An error of the server itself (not of a request), with a code to switch on.
public struct SluiceError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The configuration has a value out of range.
        case invalidConfiguration
        /// Binding or listening failed (address in use, permission, bad address).
        case listenFailed
        /// `run()` was called on a server that is running or has run.
        case alreadyRunning
        /// The I/O layer failed otherwise.
        case io
    }

    public let code: Code
    public let message: String
    /// The I/O layer's negative error code, when there is one.
    public let ioError: Int32?

    public init(_ code: Code, _ message: String, ioError: Int32? = nil) {
        self.code = code
        self.message = message
        self.ioError = ioError
    }

    public var description: String { message }
}
