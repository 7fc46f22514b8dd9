import Glibc

/// Holds bytes at the very end of a readable page followed by an inaccessible one, so a
/// parser that reads one byte past its input crashes the test instead of passing silently.
final class GuardedBuffer {
    private let base: UnsafeMutableRawPointer
    private let mappedSize: Int
    let capacity: Int

    init(capacity: Int = 1 << 16) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataPages = (capacity + page - 1) / page
        self.capacity = dataPages * page
        mappedSize = self.capacity + page
        let mapped = mmap(nil, mappedSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(mapped != MAP_FAILED, "mmap failed")
        base = mapped!
        precondition(mprotect(base + self.capacity, page, PROT_NONE) == 0, "mprotect failed")
    }

    deinit {
        munmap(base, mappedSize)
    }

    /// Copies `bytes` so that they end exactly at the guard page, and calls `body` with them.
    func withBytes<T>(_ bytes: ArraySlice<UInt8>, _ body: (UnsafePointer<CChar>, Int) -> T) -> T {
        precondition(bytes.count <= capacity)
        let start = base + (capacity - bytes.count)
        bytes.withUnsafeBytes { source in
            if let source = source.baseAddress { start.copyMemory(from: source, byteCount: bytes.count) }
        }
        return body(start.assumingMemoryBound(to: CChar.self), bytes.count)
    }
}
