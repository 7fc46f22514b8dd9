// make bench's engine micro-benchmarks: the gate (admit and release, uncontended and under
// contention) and the loop -> Swift -> loop hand-off of a request. Figures only; the parser's
// floor is checked by parser_bench.c.

import Glibc
import Logging
import Sluice

/// Runs `body` `count` times per round, five rounds; the best round's nanoseconds per call.
func nanosecondsPerCall(_ count: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<5 {
        let start = ContinuousClock.now
        for _ in 0..<count { body() }
        best = min(best, nanoseconds(ContinuousClock.now - start) / Double(count))
    }
    return best
}

func nanoseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
}

/// `value` with `digits` decimals (no Foundation here, for its formatting alone).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = String(scaled / Int(scale))
    if digits == 0 { return whole }
    let fraction = String(scaled % Int(scale))
    return whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
}

func report(_ name: String, _ nanoseconds: Double, _ detail: String) {
    let column = name + String(repeating: " ", count: max(1, 34 - name.count))
    let time = fixed(nanoseconds, 1)
    print(column + String(repeating: " ", count: max(0, 8 - time.count)) + time + " ns  (" + fixed(1e3 / nanoseconds, 2)
          + " M/s)  " + detail)
}

// MARK: The gate

let free = Gate(name: "free", limit: 1)
report("gate tryAcquire + release", nanosecondsPerCall(2_000_000) {
    _ = free.tryAcquire()
    free.release()
}, "one thread, a free permit each time")

let roundsPerTask = 50_000
func contended(limit: Int, tasks: Int) async -> Double {
    let gate = Gate(name: "contended", limit: limit)
    let start = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<tasks {
            group.addTask {
                for _ in 0..<roundsPerTask {
                    _ = try? await gate.acquire()
                    gate.release()
                }
            }
        }
    }
    return nanoseconds(ContinuousClock.now - start) / Double(tasks * roundsPerTask)
}

let uncontendedAsync = await contended(limit: 1, tasks: 1)
report("gate acquire + release (async)", uncontendedAsync, "one task, never waits")
var best = Double.infinity
for _ in 0..<3 { best = min(best, await contended(limit: 2, tasks: 8)) }
report("gate acquire + release, contended", best, "8 tasks on \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, limit 2: most wait in the queue")

// MARK: The hand-off

/// User CPU seconds of the calling thread, or of the whole process.
func userSeconds(thread: Bool) -> Double {
    var usage = rusage()
    // RUSAGE_THREAD (1, Linux) is not imported by Glibc's module; RUSAGE_SELF is 0.
    getrusage(__rusage_who_t(thread ? 1 : RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
}

/// Sends `count` pipelined requests over one connection in batches and reads every answer.
/// Returns the wall time per request and the user CPU per request of everything but this
/// (the client's) thread: the server's loop parsing, handing the request to a Swift task,
/// the handler, and the answer back to the loop. System time is left out: the writes to the
/// socket (the answers to a batch gathered into writes of up to 16 KiB) are the kernel's work,
/// not the engine's.
func pipelined(port: Int, count: Int, batch: Int) -> (wall: Double, serverUser: Double) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket")
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(connected == 0, "connect")
    let request = Array("GET /h HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
    let answer = Array("HTTP/1.1 200 OK".utf8)
    let batchBytes = [UInt8]((0..<batch).flatMap { _ in request })
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var seen = 0
    var matched = 0  // bytes of `answer` matched so far, across reads
    let start = ContinuousClock.now
    let processStart = userSeconds(thread: false), clientStart = userSeconds(thread: true)
    for _ in 0..<(count / batch) {
        let target = seen + batch
        batchBytes.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let n = send(fd, bytes.baseAddress! + sent, bytes.count - sent, 0)
                precondition(n > 0, "send")
                sent += n
            }
        }
        while seen < target {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            precondition(n > 0, "the server closed the connection")
            for byte in buffer[0..<n] {
                matched = byte == answer[matched] ? matched + 1 : (byte == answer[0] ? 1 : 0)
                if matched == answer.count { seen += 1; matched = 0 }
            }
        }
    }
    let client = userSeconds(thread: true) - clientStart
    let server = userSeconds(thread: false) - processStart - client
    return (nanoseconds(ContinuousClock.now - start) / Double(count), server * 1e9 / Double(count))
}

var configuration = Configuration()
configuration.port = 0
configuration.logger = Logger(label: "microbench") { _ in SwiftLogNoOpLogHandler() }
var router = Router()
router.get("/h") { _, _ in .text("ok") }
let (ports, portContinuation) = AsyncStream<Int>.makeStream()
let server = Server(configuration: configuration, router: router) { portContinuation.yield($0) }
await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await server.run() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { return }
    let (wall, user) = await Task.detached {
        _ = pipelined(port: port, count: 20_000, batch: 100)  // warm-up
        var best = (wall: Double.infinity, serverUser: Double.infinity)
        for _ in 0..<5 {
            let round = pipelined(port: port, count: 100_000, batch: 100)
            if round.serverUser < best.serverUser { best = round }
        }
        return best
    }.value
    report("request through the engine (user)", user,
           "server user CPU per request: loop parse, hand-off to a Swift task, handler, answer to the loop")
    report("  the same, wall time", wall, "per request with 100 pipelined per write, their answers gathered into a few writes")
    server.shutdown()
    try? await group.waitForAll()
}
