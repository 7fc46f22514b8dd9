import Sluice
import Synchronization

/// Runs a server on a free port for the duration of `body`, then shuts it down and
/// checks that `run()` returned.
func withServer(
    configure: (inout Configuration) -> Void = { _ in },
    routes: (inout Router) -> Void,
    _ body: @Sendable (Int) async throws -> Void
) async throws {
    var configuration = Configuration()
    configuration.port = 0
    configure(&configuration)
    var router = Router()
    routes(&router)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = Server(configuration: configuration, router: router) { port in continuation.yield(port) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { return }
        do {
            try await body(port)
        } catch {
            server.shutdown()
            throw error
        }
        server.shutdown()
        try await group.waitForAll()
    }
}

/// Routes most tests share.
func standardRoutes(_ router: inout Router) {
    router.get("/hello") { _, _ in .text("Hello, World!") }
    router.post("/echo") { request, _ in Response(body: request.body) }
    router.get("/n/:value") { _, context in .text(context.parameter("value") ?? "") }
    router.get("/fail") { _, _ in throw TestFailure() }
}

struct TestFailure: Error {}

/// Polls `condition` every millisecond for up to `seconds`; whether it became true.
func eventually(_ seconds: Double = 10, _ condition: @Sendable () -> Bool) async throws -> Bool {
    for _ in 0..<Int(seconds * 1000) {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}

/// A counter tests can share with handlers.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.wrappingAdd(1, ordering: .relaxed) }
    func add(_ delta: Int) { value.wrappingAdd(delta, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// Resident set size of this process, in bytes.
func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(file, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

import Glibc
