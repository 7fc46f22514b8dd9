import Dispatch
import Sluice

#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a graceful `Server.shutdown()`.
///
/// Kept out of main.swift on purpose: closures formed in top-level code are main-actor
/// isolated, and a signal source runs its handler on a dispatch queue.
enum ShutdownSignals {
    static func install(for server: Server) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.shutdown() }
            source.resume()
            return source
        }
    }
}
