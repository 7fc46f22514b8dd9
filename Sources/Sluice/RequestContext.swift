/// What a handler knows about its request besides the request itself.
public struct RequestContext: Sendable {
    /// The request's `X-Request-ID`, also sent back in the response.
    public let requestID: String
    /// Path parameters by name, percent-decoded; `**` holds the rest of the path for a `/**` pattern.
    public let parameters: [String: String]

    public init(requestID: String, parameters: [String: String] = [:]) {
        self.requestID = requestID
        self.parameters = parameters
    }

    /// The path parameter `name`, or nil.
    public func parameter(_ name: String) -> String? { parameters[name] }
}
