/// What a handler knows about its request besides the request itself.
public struct RequestContext: Sendable {
    /// The request's `X-Request-ID`, also sent back in the response.
    public let requestID: String
    /// Path parameters by name, percent-decoded; `**` holds the rest of the path for a `/**` pattern.
    public let parameters: [String: String]
    /// State shared by every handler of the server.
    public let shared: SharedState
    /// Permits of the route's gate in use when this request entered it (its own included);
    /// nil when the route has no gate.
    public let gateOccupancyOnEntry: Int?
    private let statsProvider: (@Sendable () -> ServerStats)?

    public init(
        requestID: String, parameters: [String: String] = [:], shared: SharedState = SharedState(),
        gateOccupancyOnEntry: Int? = nil, statsProvider: (@Sendable () -> ServerStats)? = nil
    ) {
        self.requestID = requestID
        self.parameters = parameters
        self.shared = shared
        self.gateOccupancyOnEntry = gateOccupancyOnEntry
        self.statsProvider = statsProvider
    }

    /// The path parameter `name`, or nil.
    public func parameter(_ name: String) -> String? { parameters[name] }

    /// The server's request accounting right now; nil outside a server.
    public var serverStats: ServerStats? { statsProvider?() }
}
