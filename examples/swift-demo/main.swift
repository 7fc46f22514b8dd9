import Logging
import ServiceLifecycle
import Sluice

#if canImport(Glibc)
import Glibc
#endif

// sluice-demo: the Swift demo server. Its first stdout line is exactly
// "listening on http://HOST:PORT"; SIGINT or SIGTERM drain it and it exits 0.

// Started with stdin, stdout or stderr closed, the server's first descriptors would take their
// numbers, and a log line meant for stderr could land in a client's socket: hold them open.
for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) == -1 && errno == EBADF {
    _ = open("/dev/null", O_RDWR)
}

var options: DemoOptions
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

// Many concurrent clients need many descriptors: raise the soft limit to the hard one.
var descriptors = rlimit()
if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &descriptors) == 0 && descriptors.rlim_cur < descriptors.rlim_max {
    descriptors.rlim_cur = descriptors.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &descriptors)
}

let logLevel = options.logLevel
var logger = Logger(label: "sluice-demo") { label in StderrLogHandler(label: label, logLevel: logLevel) }
logger.logLevel = logLevel
options.configuration.logger = logger
options.configuration.priorityClassifier = DemoRoutes.priority

let host = options.configuration.host
let server = Server(configuration: options.configuration, router: DemoRoutes.router(options.routes)) { port in
    let shownHost = host.contains(":") ? "[\(host)]" : host
    Output.write("listening on http://\(shownHost):\(port)\n", to: 1)
}
let services = ServiceGroup(configuration: ServiceGroupConfiguration(
    services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))

do {
    try await services.run()
} catch {
    Output.write("sluice-demo: \(error)\n", to: 2)
    exit(1)
}
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
