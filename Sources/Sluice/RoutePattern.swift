/// A route's path pattern: literal segments, `:name` parameters, `*` for any one segment,
/// and a final `**` for the rest of the path.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
        case anySegment
        case rest
    }

    /// Why a pattern string was refused.
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public let pattern: String
        public let reason: String
        public var description: String { "invalid route pattern \"\(pattern)\": \(reason)" }
    }

    let segments: [Segment]
    public let description: String

    /// Parses a pattern such as `/users/:id/files/**`.
    /// - Throws: `SyntaxError` when the pattern does not start with '/', names a parameter
    ///   badly or twice, or puts `**` anywhere but last.
    public init(_ pattern: String) throws {
        guard pattern.hasPrefix("/") else { throw SyntaxError(pattern: pattern, reason: "must start with '/'") }
        var segments: [Segment] = []
        var names = Set<String>()
        let parts = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() where !(parts.count == 1 && part.isEmpty) {
            let segment = try Self.segment(part, isLast: index == parts.count - 1, pattern: pattern)
            if case .parameter(let name) = segment, !names.insert(name).inserted {
                throw SyntaxError(pattern: pattern, reason: "parameter ':\(name)' appears twice")
            }
            segments.append(segment)
        }
        self.segments = segments
        self.description = pattern
    }

    private static func segment(_ part: Substring, isLast: Bool, pattern: String) throws -> Segment {
        if part == "**" {
            guard isLast else { throw SyntaxError(pattern: pattern, reason: "'**' must be the last segment") }
            return .rest
        }
        if part == "*" { return .anySegment }
        if part.hasPrefix(":") {
            let name = part.dropFirst()
            guard !name.isEmpty, name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
                throw SyntaxError(pattern: pattern, reason: "parameter names are letters, digits and '_'")
            }
            return .parameter(String(name))
        }
        if part.isEmpty && !isLast { throw SyntaxError(pattern: pattern, reason: "empty segment") }
        if part.contains(where: { $0 == ":" || $0 == "*" || $0 == "?" || $0 == "#" }) {
            throw SyntaxError(pattern: pattern, reason: "':', '*', '?' and '#' are not allowed inside a literal segment")
        }
        return .literal(String(part))
    }

    /// The literal path when the pattern has no parameter or wildcard.
    var literalPath: String? {
        segments.allSatisfy({ if case .literal = $0 { true } else { false } }) ? description : nil
    }

    /// Matches path segments; returns the parameters (percent-decoded) or nil.
    func match(_ pathSegments: [Substring]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .rest:
                parameters["**"] = pathSegments[min(index, pathSegments.count)...].joined(separator: "/")
                return parameters
            case _ where index >= pathSegments.count:
                return nil
            case .literal(let literal):
                if pathSegments[index] != literal { return nil }
            case .parameter(let name):
                if pathSegments[index].isEmpty { return nil }
                parameters[name] = PercentDecoding.decode(pathSegments[index])
            case .anySegment:
                if pathSegments[index].isEmpty { return nil }
            }
        }
        return pathSegments.count == segments.count ? parameters : nil
    }
}
