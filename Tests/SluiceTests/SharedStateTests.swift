@testable import Sluice
import Testing

@Suite("Shared state")
struct SharedStateTests {
    @Test("counters are exact under concurrency and every value is returned once")
    func counters() async throws {
        let shared = SharedState()
        let values = await withTaskGroup(of: [Int64].self) { group in
            for _ in 0..<50 {
                group.addTask { (0..<200).map { _ in shared.counter("hits").add() } }
            }
            return await group.reduce(into: [Int64]()) { $0 += $1 }
        }
        let exact = values.sorted() == Array(1...10_000) // a Bool: the values, 1...N once each
        #expect(exact)
        #expect(shared.counter("hits").load() == 10_000)
        #expect(shared.counter("hits") === shared.counter("hits"))
    }

    @Test("update is an atomic read-modify-write")
    func update() async throws {
        let shared = SharedState()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    for _ in 0..<250 {
                        shared.update("n") { value in
                            let n = value.map { Int(String(decoding: $0, as: UTF8.self))! } ?? 0
                            value = Array(String(n + 1).utf8)
                        }
                    }
                }
            }
        }
        #expect(shared.value(forKey: "n") == Array("10000".utf8))
        shared.setValue(nil, forKey: "n")
        #expect(shared.value(forKey: "n") == nil)
    }
}

@Suite("Locked")
struct LockedTests {
    /// Tracks how many instances are alive, to catch a value destroyed twice or never.
    final class Tracked: Sendable {
        static let alive = Counter()
        init() { Self.alive.add(1) }
        deinit { Self.alive.add(-1) }
    }

    @Test("destroys its value exactly once")
    func lifetime() {
        let before = Tracked.alive.current
        do {
            let lock = Locked<[String: Tracked]>(["a": Tracked()])
            lock.withLock { $0["b"] = Tracked() }
            #expect(Tracked.alive.current == before + 2)
        }
        #expect(Tracked.alive.current == before)
    }
}
