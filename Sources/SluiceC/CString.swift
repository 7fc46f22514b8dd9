import Sluice

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

/// Field values C handlers send on nearly every answer. Read from C, one of these is the
/// constant itself (a literal: its bytes stay in the binary), where a copy of a string longer
/// than 15 bytes, which is not stored inline, would cost an allocation per answer.
enum CommonFieldValue {
    private static let known = PreparedFields.contentTypeValues

    /// The C string at pointer as a Swift string, or nil for NULL.
    static func read(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        if let index = knownIndex(pointer) { return known[index] }
        return String(cString: pointer)
    }

    /// An answer's only field when it is `Content-Type` (spelled so) with one of the known
    /// values: built and checked once, shared by every such answer, as `Response.text` does.
    static func contentTypeAlone(name: UnsafePointer<CChar>, value: UnsafePointer<CChar>) -> HTTPHeaders? {
        guard strcmp(name, "Content-Type") == 0, let index = knownIndex(value) else { return nil }
        return contentTypeFields[index]
    }

    private static let contentTypeFields: [HTTPHeaders] = known.map { PreparedFields.contentType($0)! }

    private static func knownIndex(_ pointer: UnsafePointer<CChar>) -> Int? {
        let length = strlen(pointer)
        for (index, value) in known.enumerated() where value.utf8.count == length {
            let same = value.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, pointer, length) == 0 }
            if same == true { return index }
        }
        return nil
    }
}
