import Sluice

/// The demo's command line: the same flags as the C demo's.
struct DemoOptions {
    var configuration = Configuration()

    static let usage = """
        usage: sluice-demo [--host ADDR] [--port N] [--io-threads N] [--max-concurrency N]
                           [--max-queue N] [--max-body-bytes N] [--drain-timeout-ms N]
        """

    /// Parses the arguments; throws a readable message for an unknown flag or a bad value.
    init(arguments: [String]) throws(DemoOptionsError) {
        var remaining = arguments[...]
        while let flag = remaining.popFirst() {
            if flag == "--help" || flag == "-h" { throw DemoOptionsError(message: Self.usage, isHelp: true) }
            guard let value = remaining.popFirst() else { throw DemoOptionsError(message: "\(flag) needs a value") }
            try apply(flag: flag, value: value)
        }
    }

    private mutating func apply(flag: String, value: String) throws(DemoOptionsError) {
        switch flag {
        case "--host": configuration.host = value
        case "--port": configuration.port = try Self.integer(flag, value, in: 0...65535)
        case "--io-threads": configuration.ioThreads = try Self.integer(flag, value, in: 1...64)
        case "--max-concurrency": configuration.maxConcurrency = try Self.integer(flag, value, in: 1...1_000_000)
        case "--max-queue": configuration.maxQueue = try Self.integer(flag, value, in: 0...10_000_000)
        case "--max-body-bytes": configuration.maxBodyBytes = try Self.integer(flag, value, in: 0...(1 << 40))
        case "--drain-timeout-ms":
            configuration.drainTimeout = .milliseconds(try Self.integer(flag, value, in: 0...86_400_000))
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
