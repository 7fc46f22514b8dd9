@testable import Sluice
import Testing

/// Records the order in which waiters were admitted.
private final class Admissions: Sendable {
    private let entries = Locked<[String]>([])
    func append(_ value: String) { entries.withLock { $0.append(value) } }
    var values: [String] { entries.withLock { $0 } }
}

@Suite("Gate policies: priorities, shares, latency budget")
struct GatePolicyTests {
    @Test("higher priorities are admitted first, FIFO within a class")
    func priorityOrder() async throws {
        let gate = Gate(limit: 1, maxQueue: 10)
        let admissions = Admissions()
        try await gate.acquire()
        let arrivals: [(String, RequestPriority)] = [("low1", .low), ("normal1", .normal), ("high1", .high), ("normal2", .normal), ("critical", .critical), ("high2", .high)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, (name, priority)) in arrivals.enumerated() {
                group.addTask {
                    try await gate.acquire(priority: priority)
                    admissions.append(name)
                    gate.release()
                }
                await waitForQueued(gate, index + 1)
            }
            gate.release()
            try await group.waitForAll()
        }
        #expect(admissions.values == ["critical", "high1", "high2", "normal1", "normal2", "low1"])
    }

    @Test("a full queue sheds its newest lowest-priority waiter for a more important newcomer")
    func displacement() async throws {
        let gate = Gate(limit: 1, maxQueue: 2)
        try await gate.acquire()
        let low1 = Task { try await gate.acquire(priority: .low) }
        await waitForQueued(gate, 1)
        let low2 = Task { try await gate.acquire(priority: .low) }
        await waitForQueued(gate, 2)
        // Full: a low newcomer is refused, a normal one displaces the newest low waiter.
        await #expect(throws: Gate.Rejection.queueFull) { try await gate.acquire(priority: .low) }
        let normal = Task { try await gate.acquire(priority: .normal) }
        await #expect(throws: Gate.Rejection.displaced) { try await low2.value }
        #expect(gate.snapshot.queued == 2)
        #expect(gate.snapshot.shed == [2, 0, 0, 0])
        gate.release()
        _ = try await normal.value
        gate.release()
        _ = try await low1.value
        gate.release()
        #expect(gate.snapshot.inFlight == 0)
    }

    @Test("critical requests are never shed: they queue past the bound and ahead of everyone")
    func criticalNeverShed() async throws {
        let gate = Gate(limit: 1, maxQueue: 0)
        try await gate.acquire()
        await #expect(throws: Gate.Rejection.queueFull) { try await gate.acquire(priority: .high) }
        // Each passes the permit on; the tasks may queue in any order.
        let critical = (0..<3).map { _ in
            Task {
                try await gate.acquire(priority: .critical)
                gate.release()
            }
        }
        await waitForQueued(gate, 3)
        gate.release()
        for task in critical { try await task.value }
        #expect(gate.snapshot.shed[RequestPriority.critical.rawValue] == 0)
        #expect(gate.snapshot.inFlight == 0)
    }

    @Test("a guaranteed share stays available while the shared budget is saturated and queued")
    func guaranteedShare() async throws {
        // Limit 4; budget 1 is guaranteed half of it.
        let gate = Gate(limit: 4, maxQueue: 10, shares: [0.5])
        #expect(gate.tryAcquire(weight: 1, priority: .normal, budget: 0) == 1)
        #expect(gate.tryAcquire(weight: 1, priority: .normal, budget: 0) == 2)
        // The other two permits are budget 1's guarantee: the shared budget must wait.
        #expect(gate.tryAcquire(weight: 1, priority: .normal, budget: 0) == nil)
        let waiting = Task { try await gate.acquire(weight: 1, budget: 0, waiterID: Gate.makeWaiterID()) }
        await waitForQueued(gate, 1)
        // Budget 1 passes the queued shared waiter, up to the limit and beyond its share.
        #expect(gate.tryAcquire(weight: 1, priority: .normal, budget: 1) == 3)
        #expect(gate.tryAcquire(weight: 1, priority: .normal, budget: 1) == 4)
        #expect(gate.tryAcquire(weight: 1, priority: .normal, budget: 1) == nil)
        gate.release(weight: 1, budget: 1, latencyNanos: nil)
        // Budget 1 holds one of its two guaranteed permits; one is set aside, so still no room.
        #expect(gate.snapshot.queued == 1)
        gate.release(weight: 1, budget: 0, latencyNanos: nil)
        _ = try await waiting.value
        #expect(gate.snapshot.inFlight == 3)
        gate.release(weight: 1, budget: 0, latencyNanos: nil)
        gate.release(weight: 1, budget: 0, latencyNanos: nil)
        gate.release(weight: 1, budget: 1, latencyNanos: nil)
        #expect(gate.snapshot.inFlight == 0)
    }

    @Test("weights draw on the budget: a heavy request takes several permits")
    func weightedBudget() async throws {
        let gate = Gate(limit: 10, maxQueue: 10)
        #expect(gate.tryAcquire(weight: 4) == 4)
        #expect(gate.tryAcquire(weight: 4) == 8)
        #expect(gate.tryAcquire(weight: 4) == nil)
        #expect(gate.tryAcquire(weight: 2) == 10)
        gate.release(weight: 4)
        gate.release(weight: 4)
        gate.release(weight: 2)
        // Heavier than the whole limit: it runs alone.
        #expect(gate.tryAcquire(weight: 50) == 10)
        #expect(gate.tryAcquire(weight: 1) == nil)
        gate.release(weight: 50)
    }

    @Test("an adaptive gate refuses at once when the expected wait exceeds a quarter of the target")
    func latencyBudget() async throws {
        let adaptive = AdaptiveConcurrency(minLimit: 2, maxLimit: 2, initialLimit: 2, targetLatency: .milliseconds(800))
        let gate = Gate(limit: 2, maxQueue: 100, adaptive: adaptive)
        // Teach it a 100 ms service time: two permits serve 20 requests a second.
        for _ in 0..<50 {
            _ = gate.tryAcquire()
            gate.release(weight: 1, budget: 0, latencyNanos: 100_000_000)
        }
        _ = gate.tryAcquire()
        _ = gate.tryAcquire()
        // Waits of 0.05, 0.10, 0.15 and 0.20 s fit a 0.2 s budget; the fifth does not.
        let waiters = (0..<4).map { _ in Task { try await gate.acquire() } }
        await waitForQueued(gate, 4)
        await #expect(throws: Gate.Rejection.overBudget) { try await gate.acquire() }
        // A high-priority request waits only behind its own class: it fits.
        let high = Task { try await gate.acquire(priority: .high) }
        await waitForQueued(gate, 5)
        #expect(gate.snapshot.shed == [0, 1, 0, 0])
        #expect(abs((gate.secondsToDrain ?? 0) - 0.3) < 0.01)
        for _ in 0..<7 { gate.release() }
        for task in waiters { _ = try await task.value }
        _ = try await high.value
        #expect(gate.snapshot.inFlight == 0)
    }
}
