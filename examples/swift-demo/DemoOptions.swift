import Logging
import Sluice

/// The demo's command line: the same flags, defaults and errors as the C demo's.
struct DemoOptions {
    var configuration = Configuration()
    var gateLimit = 4
    var logLevel = Logger.Level.warning
    /// The routes' own settings (gated, work, fast share).
    var routes = DemoRoutes.Settings()
    private var adaptiveTargetMs: Int?
    private var minLimit = 1

    static let usage = """
        usage: sluice-demo [--host ADDR] [--port N] [--io-threads N] [--max-concurrency N]
                           [--max-queue N] [--queue-timeout-ms N] [--handler-timeout-ms N]
                           [--gate-limit N] [--max-body-bytes N] [--drain-timeout-ms N]
                           [--adaptive-target-ms N] [--min-limit N] [--overload-status 503|429]
                           [--work-capacity N] [--work-weight N] [--fast-share PERCENT] [--access-log]
                           [--upload-limit-bytes N]
                           [--log-level trace|debug|info|notice|warning|error|critical]
        """

    /// Parses the arguments; throws a readable message for an unknown flag or a bad value.
    init(arguments: [String]) throws(DemoOptionsError) {
        configuration.port = 8080
        configuration.maxConcurrency = 256
        configuration.maxQueue = 1024
        configuration.queueTimeout = .milliseconds(5000)
        configuration.handlerTimeout = .milliseconds(30000)
        configuration.maxBodyBytes = 1_048_576
        configuration.drainTimeout = .milliseconds(10000)
        var remaining = arguments[...]
        while let flag = remaining.popFirst() {
            if flag == "--help" || flag == "-h" { throw DemoOptionsError(message: Self.usage, isHelp: true) }
            if flag == "--access-log" {
                routes.accessLog = true
                continue
            }
            guard let value = remaining.popFirst() else {
                // The usage shows each flag that takes a value as "[--flag VALUE]".
                guard Self.usage.contains("[\(flag) ") else { throw DemoOptionsError(message: "unknown option \(flag)\n\(Self.usage)") }
                throw DemoOptionsError(message: "\(flag) needs a value")
            }
            try apply(flag: flag, value: value)
        }
        routes.gateLimit = gateLimit
        if let adaptiveTargetMs {
            // The adaptive limit moves between --min-limit and --max-concurrency.
            guard minLimit <= configuration.maxConcurrency else {
                throw DemoOptionsError(message: "--min-limit cannot exceed --max-concurrency")
            }
            configuration.adaptiveConcurrency = AdaptiveConcurrency(
                minLimit: minLimit, maxLimit: configuration.maxConcurrency,
                initialLimit: min(configuration.maxConcurrency, max(minLimit, 16)),
                targetLatency: .milliseconds(adaptiveTargetMs))
        }
    }

    private mutating func apply(flag: String, value: String) throws(DemoOptionsError) {
        switch flag {
        case "--host": configuration.host = value
        case "--port": configuration.port = try Self.integer(flag, value, in: 0...65535)
        case "--io-threads": configuration.ioThreads = try Self.integer(flag, value, in: 1...64)
        case "--max-concurrency": configuration.maxConcurrency = try Self.integer(flag, value, in: 1...1_000_000)
        case "--max-queue": configuration.maxQueue = try Self.integer(flag, value, in: 0...10_000_000)
        case "--queue-timeout-ms": configuration.queueTimeout = .milliseconds(try Self.integer(flag, value, in: 1...86_400_000))
        case "--handler-timeout-ms": configuration.handlerTimeout = .milliseconds(try Self.integer(flag, value, in: 1...86_400_000))
        case "--gate-limit": gateLimit = try Self.integer(flag, value, in: 1...1_000_000)
        case "--max-body-bytes": configuration.maxBodyBytes = try Self.integer(flag, value, in: 0...(1 << 40))
        case "--drain-timeout-ms": configuration.drainTimeout = .milliseconds(try Self.integer(flag, value, in: 0...86_400_000))
        case "--adaptive-target-ms": adaptiveTargetMs = try Self.integer(flag, value, in: 1...3_600_000)
        case "--min-limit": minLimit = try Self.integer(flag, value, in: 1...1_000_000)
        case "--overload-status":
            guard value == "503" || value == "429" else { throw DemoOptionsError(message: "--overload-status takes 503 or 429") }
            configuration.overloadStatus = Int(value)!
        case "--work-capacity": routes.workCapacity = try Self.integer(flag, value, in: 0...1_000_000)
        case "--work-weight": routes.workWeight = try Self.integer(flag, value, in: 1...1_000_000)
        case "--fast-share": routes.fastSharePercent = try Self.integer(flag, value, in: 0...100)
        case "--upload-limit-bytes": routes.uploadLimitBytes = try Self.integer(flag, value, in: 0...(1 << 40))
        case "--log-level":
            guard let level = Logger.Level(rawValue: value) else {
                throw DemoOptionsError(message: "--log-level takes trace, debug, info, notice, warning, error or critical")
            }
            logLevel = level
        default: throw DemoOptionsError(message: "unknown option \(flag)\n\(Self.usage)")
        }
    }

    private static func integer(_ flag: String, _ value: String, in range: ClosedRange<Int>) throws(DemoOptionsError) -> Int {
        guard let number = Int(value), range.contains(number) else {
            throw DemoOptionsError(message: "\(flag) takes a whole number in \(range.lowerBound)...\(range.upperBound), not '\(value)'")
        }
        return number
    }
}

struct DemoOptionsError: Error {
    var message: String
    var isHelp = false
}
