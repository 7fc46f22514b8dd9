import Testing

@testable import Sluice

@Suite("Request ids")
struct RequestIDTests {
    @Test("fresh ids are unique, visible ASCII, and short enough to be stored inline")
    func freshIDs() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = RequestID.make()
            // Up to 15 UTF-8 bytes a String needs no allocation: one fewer per request.
            #expect(id.utf8.count <= 15)
            #expect(id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F })
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        let prefixes = Set(seen.map { $0.split(separator: "-").first.map(String.init) ?? "" })
        #expect(prefixes.count == 1, "one random prefix per process")
    }
}
