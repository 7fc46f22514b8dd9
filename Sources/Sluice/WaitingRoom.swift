import DequeModule

/// A gate's waiters: one FIFO lane per (priority, budget), with arrival sequence numbers so
/// that lanes of one priority are served in arrival order.
///
/// Lanes of different budgets are independent: a waiter that cannot fit does not hold back
/// the waiters of another budget (whose guaranteed permits it cannot use anyway). Within a
/// budget, a blocked head blocks its lane and every lower-priority lane of that budget, so a
/// heavy waiter is never overtaken by lighter ones behind it and cannot starve.
struct WaitingRoom {
    struct Waiter {
        var id: UInt64
        var sequence: UInt64
        var weight: Int
        var budget: Int
        var priority: RequestPriority
        var continuation: UnsafeContinuation<Int, any Error>
    }

    private static let priorities = RequestPriority.allCases.count
    let budgets: Int
    private var lanes: [Deque<Waiter>]
    /// Permits waiting in each lane.
    private var lanePermits: [Int]
    private var nextSequence: UInt64 = 0
    private(set) var count = 0

    init(budgets: Int) {
        precondition(budgets >= 1 && budgets <= 64, "a gate has 1...64 budgets")
        self.budgets = budgets
        self.lanes = Array(repeating: Deque(), count: budgets * Self.priorities)
        self.lanePermits = Array(repeating: 0, count: budgets * Self.priorities)
    }

    var isEmpty: Bool { count == 0 }

    private func lane(_ priority: RequestPriority, _ budget: Int) -> Int { priority.rawValue * budgets + budget }

    /// Permits waiting at `priority` or above, of every budget.
    func permits(atOrAbove priority: RequestPriority) -> Int {
        lanePermits[(priority.rawValue * budgets)...].reduce(0, +)
    }

    /// Permits waiting at `priority` or above in `budget`: what a newcomer of that priority
    /// and budget waits behind (other budgets' lanes do not hold it back).
    func permits(atOrAbove priority: RequestPriority, budget: Int) -> Int {
        (priority.rawValue..<Self.priorities).reduce(0) { $0 + lanePermits[$1 * budgets + budget] }
    }

    /// Whether nothing of `budget` waits at `priority` or above (a newcomer may go straight in).
    func isClear(budget: Int, atOrAbove priority: RequestPriority) -> Bool {
        (priority.rawValue..<Self.priorities).allSatisfy { lanes[$0 * budgets + budget].isEmpty }
    }

    mutating func append(id: UInt64, weight: Int, budget: Int, priority: RequestPriority,
                         continuation: UnsafeContinuation<Int, any Error>) {
        nextSequence += 1
        lanes[lane(priority, budget)].append(
            Waiter(id: id, sequence: nextSequence, weight: weight, budget: budget, priority: priority, continuation: continuation))
        lanePermits[lane(priority, budget)] += weight
        count += 1
    }

    /// Removes the waiter `id`, wherever it waits.
    mutating func remove(id: UInt64) -> Waiter? {
        for index in lanes.indices {
            if let position = lanes[index].firstIndex(where: { $0.id == id }) {
                return took(lanes[index].remove(at: position))
            }
        }
        return nil
    }

    /// Removes the newest waiter of the lowest priority below `priority`: the one to shed
    /// when a more important request finds the queue full.
    mutating func removeNewest(below priority: RequestPriority) -> Waiter? {
        for level in RequestPriority.allCases where level < priority {
            let newest = (0..<budgets).max { a, b in
                (lanes[lane(level, a)].last?.sequence ?? 0) < (lanes[lane(level, b)].last?.sequence ?? 0)
            }
            if let newest, let waiter = lanes[lane(level, newest)].popLast() { return took(waiter) }
        }
        return nil
    }

    /// Admits waiters in order while `fits` accepts them: priorities from the top, budgets
    /// interleaved by arrival, each budget's lanes stopping at the first head that does not fit.
    mutating func admit(where fits: (Waiter) -> Bool) -> [Waiter] {
        var admitted: [Waiter] = []
        var blocked: UInt64 = 0
        for level in RequestPriority.allCases.reversed() {
            while let budget = oldestHead(at: level, skipping: blocked) {
                let index = lane(level, budget)
                if fits(lanes[index][lanes[index].startIndex]) {
                    admitted.append(took(lanes[index].removeFirst()))
                } else {
                    blocked |= 1 << UInt64(budget)
                }
            }
        }
        return admitted
    }

    private func oldestHead(at level: RequestPriority, skipping blocked: UInt64) -> Int? {
        var best: Int?
        var bestSequence = UInt64.max
        for budget in 0..<budgets where blocked & (1 << UInt64(budget)) == 0 {
            if let head = lanes[lane(level, budget)].first, head.sequence < bestSequence {
                best = budget
                bestSequence = head.sequence
            }
        }
        return best
    }

    private mutating func took(_ waiter: Waiter) -> Waiter {
        lanePermits[lane(waiter.priority, waiter.budget)] -= waiter.weight
        count -= 1
        return waiter
    }
}
