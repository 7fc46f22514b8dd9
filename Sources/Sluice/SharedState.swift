import Synchronization

/// State shared by all handlers of a server, exact under any concurrency: named atomic
/// counters, and a keyed store whose `update` is an atomic read-modify-write.
public final class SharedState: Sendable {
    /// The store is split in shards, each with its own lock, so that updates of
    /// different keys rarely contend.
    private static let shardCount = 16

    private let counters = Locked<[String: SharedCounter]>([:])
    private typealias Shard = Locked<[String: [UInt8]]>
    private let shards: [Shard]

    public init() {
        shards = (0..<Self.shardCount).map { _ in Shard([:]) }
    }

    /// The counter called `name`, created at 0 on first use; the same object every time.
    public func counter(_ name: String) -> SharedCounter {
        counters.withLock { counters in
            if let counter = counters[name] { return counter }
            let counter = SharedCounter()
            counters[name] = counter
            return counter
        }
    }

    /// The names of every counter, sorted.
    public var counterNames: [String] { counters.withLock { $0.keys.sorted() } }

    private func shard(_ key: String) -> Shard {
        var hasher = Hasher()
        hasher.combine(key)
        return shards[Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))]
    }

    /// The value stored under `key`, or nil.
    public func value(forKey key: String) -> [UInt8]? {
        shard(key).withLock { $0[key] }
    }

    /// Stores `value` under `key`; nil removes the key.
    public func setValue(_ value: [UInt8]?, forKey key: String) {
        shard(key).withLock { $0[key] = value }
    }

    /// Reads, changes and writes the value under `key` as one atomic step: no other access
    /// to that key happens in between. Setting the value to nil removes the key.
    /// - Returns: What `body` returns.
    public func update<T>(_ key: String, _ body: (inout [UInt8]?) throws -> T) rethrows -> T {
        try shard(key).withLock { storage in
            var value = storage[key]
            defer { storage[key] = value }
            return try body(&value)
        }
    }
}

/// A named 64-bit counter whose operations are atomic.
public final class SharedCounter: Sendable {
    private let value = Atomic<Int64>(0)

    /// Adds `delta` and returns the value right after this addition.
    @discardableResult
    public func add(_ delta: Int64 = 1) -> Int64 {
        value.wrappingAdd(delta, ordering: .sequentiallyConsistent).newValue
    }

    public func load() -> Int64 { value.load(ordering: .sequentiallyConsistent) }

    public func store(_ newValue: Int64) { value.store(newValue, ordering: .sequentiallyConsistent) }
}
