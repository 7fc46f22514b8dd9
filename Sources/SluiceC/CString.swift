#if canImport(Glibc)
import Glibc
#endif

/// A NUL-terminated copy of a Swift string on the C heap; the owner frees it.
enum CString {
    static func copy(_ text: String) -> UnsafeMutablePointer<CChar> {
        text.withCString { strdup($0)! }
    }

    /// The C string at pointer as a Swift string, or nil for NULL.
    static func read(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
