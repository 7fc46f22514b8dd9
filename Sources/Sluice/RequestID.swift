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

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func make() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        // 16 hex digits of the prefix, '-', then the counter in hex: built in one buffer.
        return String(unsafeUninitializedCapacity: 33) { buffer in
            var count = 0
            for byte in prefix.utf8 {
                buffer[count] = byte
                count += 1
            }
            buffer[count] = UInt8(ascii: "-")
            count += 1
            var digits = 1
            while digits < 16 && n >> (4 * digits) != 0 { digits += 1 }
            for i in (0..<digits).reversed() {
                buffer[count] = hexDigits[Int((n >> (4 * UInt64(i))) & 0xF)]
                count += 1
            }
            return count
        }
    }

    /// The longest client id echoed back; longer ones are replaced by a fresh id.
    static let maxClientIDLength = 200

    /// Whether a client's id can be echoed: visible ASCII only, bounded length.
    static func isAcceptable(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxClientIDLength else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
