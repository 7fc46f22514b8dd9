#if canImport(Glibc)
import Glibc
#endif

/// The routes of parameterless paths, found by the request path's bytes.
///
/// Every request is routed, and most by a literal path: a `Dictionary` keyed by the path
/// and then by the method hashed both with SipHash (about 800 instructions a request, 6% of
/// a small request's work in the engine). Here a path hashes with FNV-1a over its bytes into
/// an open-addressed table, and a path's few methods are compared in a list. Built once
/// while routes are added; read-only (and so shareable) after.
struct LiteralRoutes: Sendable {
    /// One path and the route of each method registered for it, in registration order.
    struct Entry: Sendable {
        let path: String
        var routes: [Route]

        /// The route that answers `method` here: its own, or GET's for HEAD.
        func route(answering method: HTTPMethod) -> Route? {
            routes.first { $0.method == method } ?? (method == .head ? routes.first { $0.method == .get } : nil)
        }
    }

    private(set) var entries: [Entry] = []
    /// Indexes into `entries` plus one (0 marks an empty slot); a power of two in size, at
    /// most half full, so a probe ends quickly at an empty slot.
    private var slots: [Int32] = []

    /// The entry of `path`; nil when no route has that literal path.
    func entry(for path: String) -> Entry? {
        path.withUTF8Bytes { entry(for: $0) }
    }

    /// The entry of the path whose UTF-8 bytes are `bytes`; nil when no route has that
    /// literal path. A request's path is looked up by its bytes, before any string is made
    /// of them: when it is found, the entry's string serves as the request's path.
    func entry(for bytes: UnsafeBufferPointer<UInt8>) -> Entry? {
        index(of: bytes).map { entries[$0] }
    }

    /// The route for `method` at `path` (exactly that method); nil when there is none.
    func route(_ method: HTTPMethod, at path: String) -> Route? {
        entry(for: path)?.routes.first { $0.method == method }
    }

    /// Adds `route` under its literal `path`, replacing one of the same method there.
    mutating func insert(_ route: Route, at path: String) {
        if let index = path.withUTF8Bytes({ index(of: $0) }) {
            if let existing = entries[index].routes.firstIndex(where: { $0.method == route.method }) {
                entries[index].routes[existing] = route
            } else {
                entries[index].routes.append(route)
            }
            return
        }
        entries.append(Entry(path: path, routes: [route]))
        if entries.count * 2 > slots.count {
            rebuildSlots()
        } else {
            place(entries.count - 1)
        }
    }

    /// The index in `entries` of the path whose UTF-8 bytes are `bytes`, by probing from its hash.
    private func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var slot = Self.hash(bytes) & mask
        while slots[slot] != 0 {
            let index = Int(slots[slot]) - 1
            if entries[index].path.withUTF8Bytes({ Self.equal($0, bytes) }) { return index }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private mutating func rebuildSlots() {
        var size = 16
        while size < entries.count * 2 { size *= 2 }
        slots = Array(repeating: 0, count: size)
        for index in entries.indices { place(index) }
    }

    private mutating func place(_ index: Int) {
        let mask = slots.count - 1
        var slot = entries[index].path.withUTF8Bytes { Self.hash($0) } & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(index + 1)
    }

    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }

    /// FNV-1a, 64-bit. Not keyed: the table holds only the server's own paths, so a client
    /// choosing paths that collide makes a probe longer by at most the number of routes.
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 32))
    }
}
