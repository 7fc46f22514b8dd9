import Dispatch
import Sluice

#if canImport(Glibc)
import Glibc
#endif

// sluice-demo: the Swift demo server. Its first stdout line is exactly
// "listening on http://HOST:PORT"; SIGINT or SIGTERM drain it and it exits 0.

let options: DemoOptions
do {
    options = try DemoOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    if error.isHelp {
        Output.write("\(error.message)\n", to: 1)
        exit(0)
    }
    Output.write("sluice-demo: \(error.message)\n", to: 2)
    exit(2)
}

let host = options.configuration.host
let server = Server(configuration: options.configuration, router: DemoRoutes.router()) { port in
    let shownHost = host.contains(":") ? "[\(host)]" : host
    Output.write("listening on http://\(shownHost):\(port)\n", to: 1)
}

let signalSources = ShutdownSignals.install(for: server)

do {
    try await server.run()
} catch {
    Output.write("sluice-demo: \(error)\n", to: 2)
    exit(1)
}
withExtendedLifetime(signalSources) {}
exit(0)

/// Unbuffered output, so the "listening on" line reaches a pipe at once.
enum Output {
    static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
