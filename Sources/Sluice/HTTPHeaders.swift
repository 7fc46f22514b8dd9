/// An ordered list of header fields with case-insensitive lookup by name.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    public init() {
        fields = []
    }

    public init(_ fields: [Element]) {
        self.fields = fields
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    public var count: Int { fields.count }

    /// Where the fields are stored, which only this list and its unchanged copies share; nil
    /// for an empty list.
    var storageIdentity: UnsafeRawPointer? {
        fields.isEmpty ? nil : fields.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    public func makeIterator() -> IndexingIterator<[Element]> { fields.makeIterator() }

    /// The first value of the field `name`, or nil.
    public subscript(name: String) -> String? {
        fields.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }

    /// Every value of the field `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }

    /// Appends a field, keeping any others of the same name.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` with one field.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        fields.append((name: name, value: value))
    }

    public mutating func remove(name: String) {
        fields.removeAll { $0.name.equalsIgnoringASCIICase(name) }
    }

    public func contains(name: String) -> Bool {
        fields.contains { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// The first field whose name is `name`'s bytes, ignoring ASCII case: a lookup for a
    /// caller holding bytes (a C string), with no string made for a name that is absent.
    package func first(namedBytes name: UnsafeBufferPointer<UInt8>) -> Element? {
        fields.first { field in field.name.withUTF8Bytes { equalIgnoringASCIICase($0, name) } }
    }
}

/// Whether two byte runs are equal but for the case of ASCII letters.
@inline(__always)
func equalIgnoringASCIICase(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
    guard x.count == y.count else { return false }
    for i in 0..<x.count where x[i].asciiLowercased != y[i].asciiLowercased { return false }
    return true
}

extension String {
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return withUTF8Bytes { x in other.withUTF8Bytes { y in equalIgnoringASCIICase(x, y) } }
    }

    /// Calls `body` with the string's UTF-8 bytes. A native string lends its own storage (no
    /// copy, no retain: `withUTF8` needs a mutable copy); any other is copied once.
    @inline(__always)
    func withUTF8Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = self
        return try copy.withUTF8(body)
    }
}

extension UInt8 {
    var asciiLowercased: UInt8 { self >= 65 && self <= 90 ? self | 0x20 : self }
}
