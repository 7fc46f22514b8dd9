@testable import Sluice
import Synchronization
import Testing

/// Records the order in which waiters were admitted.
private final class Order: Sendable {
    private let entries = Locked<[Int]>([])
    func append(_ value: Int) { entries.withLock { $0.append(value) } }
    var values: [Int] { entries.withLock { $0 } }
}

/// Counts holders inside a section and remembers the most at once.
private final class Occupancy: Sendable {
    private let inside = Atomic<Int>(0)
    private let most = Atomic<Int>(0)
    func enter() { most.max(inside.wrappingAdd(1, ordering: .relaxed).newValue, ordering: .relaxed) }
    func leave() { inside.wrappingSubtract(1, ordering: .relaxed) }
    var worst: Int { most.load(ordering: .relaxed) }
}

/// Waits (without sleeping) until `count` waiters are queued at `gate`.
func waitForQueued(_ gate: Gate, _ count: Int) async {
    while gate.snapshot.queued < count { await Task.yield() }
}

@Suite("Gate")
struct GateTests {
    @Test("admits up to the limit at once, then queues")
    func admitsUpToLimit() async throws {
        let gate = Gate(limit: 3, maxQueue: 10)
        for _ in 0..<3 { try await gate.acquire() }
        #expect(gate.snapshot.inFlight == 3)
        #expect(gate.tryAcquire() == nil)
        gate.release()
        #expect(gate.tryAcquire() == 3)
        for _ in 0..<3 { gate.release() }
        #expect(gate.snapshot == Gate.Snapshot(limit: 3, inFlight: 0, maxInFlight: 3, queued: 0))
    }

    @Test("hands permits to waiters in arrival order")
    func fifo() async throws {
        let gate = Gate(limit: 1, maxQueue: 100)
        let order = Order()
        try await gate.acquire()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask {
                    try await gate.acquire()
                    order.append(i)
                    gate.release()
                }
                await waitForQueued(gate, i + 1)
            }
            gate.release()
            try await group.waitForAll()
        }
        #expect(order.values == Array(0..<20))
        #expect(gate.snapshot.inFlight == 0)
    }

    @Test("refuses at once when the queue is full")
    func queueFull() async throws {
        let gate = Gate(limit: 1, maxQueue: 2)
        try await gate.acquire()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await gate.acquire()
                    gate.release()
                }
            }
            await waitForQueued(gate, 2)
            await #expect(throws: Gate.Rejection.queueFull) { try await gate.acquire() }
            gate.release()
            try await group.waitForAll()
        }
        #expect(gate.snapshot.inFlight == 0)
    }

    @Test("a cancelled waiter leaves the queue and takes no permit")
    func cancellationWhileWaiting() async throws {
        let gate = Gate(limit: 1, maxQueue: 10)
        try await gate.acquire()
        let waiter = Task {
            try await gate.acquire()
            gate.release()
        }
        await waitForQueued(gate, 1)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(gate.snapshot.queued == 0)
        gate.release()
        #expect(gate.snapshot.inFlight == 0)
        #expect(gate.tryAcquire() == 1)
        gate.release()
    }

    @Test("withPermit releases on success, on error and on cancellation")
    func permitReleasedOnEveryPath() async throws {
        let gate = Gate(limit: 2, maxQueue: 0)
        _ = try await gate.withPermit { 1 }
        await #expect(throws: TestFailure.self) { try await gate.withPermit { throw TestFailure() } }
        let sleeper = Task { try await gate.withPermit { try await Task.sleep(for: .seconds(60)) } }
        while gate.snapshot.inFlight == 0 { await Task.yield() }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(gate.snapshot.inFlight == 0)
        #expect(gate.snapshot.maxInFlight == 1)
    }

    @Test("never exceeds its limit under heavy contention")
    func contention() async throws {
        let gate = Gate(limit: 4, maxQueue: .max)
        let occupancy = Occupancy()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<500 {
                group.addTask {
                    try await gate.withPermit {
                        occupancy.enter()
                        await Task.yield()
                        occupancy.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(occupancy.worst <= 4)
        #expect(gate.snapshot.maxInFlight == 4)
        #expect(gate.snapshot.inFlight == 0)
    }

    @Test("weighted waiters keep FIFO order: a heavy head is not overtaken")
    func weights() async throws {
        let gate = Gate(limit: 4, maxQueue: 10)
        let order = Order()
        #expect(gate.tryAcquire(weight: 3) == 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let occupancy = try await gate.acquire(weight: 4)
                #expect(occupancy == 4)
                order.append(4)
                gate.release(weight: 4)
            }
            await waitForQueued(gate, 1)
            group.addTask {
                try await gate.acquire(weight: 1)
                order.append(1)
                gate.release(weight: 1)
            }
            await waitForQueued(gate, 2)
            // One permit is free, but the light waiter must not pass the heavy one ahead of it.
            #expect(gate.snapshot.inFlight == 3)
            gate.release(weight: 3)
            try await group.waitForAll()
        }
        #expect(order.values == [4, 1])
        #expect(gate.snapshot.inFlight == 0)
    }

    @Test("a waiter removed by id resumes with the given error and the queue moves on")
    func leaveByID() async throws {
        let gate = Gate(limit: 1, maxQueue: 10)
        try await gate.acquire()
        let id = Gate.makeWaiterID()
        let waiter = Task { try await gate.acquire(weight: 1, waiterID: id) }
        await waitForQueued(gate, 1)
        gate.leave(id: id, with: Gate.Rejection.timedOut)
        await #expect(throws: Gate.Rejection.timedOut) { try await waiter.value }
        #expect(gate.snapshot.queued == 0)
        gate.leave(id: id, with: Gate.Rejection.timedOut) // no longer queued: a no-op
        gate.release()
        #expect(gate.snapshot.inFlight == 0)
    }
}
