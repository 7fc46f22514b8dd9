import Synchronization

/// Request ids: a client's `X-Request-ID` when it is safe to echo, else a fresh unique one.
enum RequestID {
    /// Fresh ids are a per-process random prefix and a counter: unique without a lock.
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }()
    private static let counter = Atomic<UInt64>(0)

    static func make() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "-" + String(n, radix: 16)
    }

    /// The longest client id echoed back; longer ones are replaced by a fresh id.
    static let maxClientIDLength = 200

    /// Whether a client's id can be echoed: visible ASCII only, bounded length.
    static func isAcceptable(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxClientIDLength else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
