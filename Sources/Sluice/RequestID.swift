import Synchronization

/// Request ids: a client's `X-Request-ID` when it is safe to echo, else a fresh unique one.
enum RequestID {
    /// Fresh ids are a per-process random prefix, '-', and a counter, in base 32: unique
    /// without a lock. Short on purpose: up to 15 bytes a Swift string is stored inline, so
    /// an id (one per request, copied into the context, the answer and the log) costs no
    /// allocation and no reference counting until the counter passes 2^40.
    private static let prefixDigits = 6
    private static let prefix: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        let random: UInt64 = generator.next()
        return random & (1 << (5 * UInt64(prefixDigits)) - 1)
    }()
    private static let counter = Atomic<UInt64>(0)

    private static let digits = Array("0123456789abcdefghijklmnopqrstuv".utf8)

    static func make() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        var counterDigits = 1
        while counterDigits < 13 && n >> (5 * UInt64(counterDigits)) != 0 { counterDigits += 1 }
        // Exactly the id's length: a capacity of 15 or less makes the inline (small) string.
        return String(unsafeUninitializedCapacity: prefixDigits + 1 + counterDigits) { buffer in
            write(prefix, digits: prefixDigits, into: buffer, at: 0)
            buffer[prefixDigits] = UInt8(ascii: "-")
            write(n, digits: counterDigits, into: buffer, at: prefixDigits + 1)
            return prefixDigits + 1 + counterDigits
        }
    }

    /// Writes the low `count` base-32 digits of `value`, most significant first.
    private static func write(_ value: UInt64, digits count: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        for i in 0..<count {
            buffer[start + i] = digits[Int((value >> (5 * UInt64(count - 1 - i))) & 31)]
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
