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
    private let statsSource: (any StatsSource)?

    public init(
        requestID: String, parameters: [String: String] = [:], shared: SharedState = SharedState(),
        gateOccupancyOnEntry: Int? = nil
    ) {
        self.init(requestID: requestID, parameters: parameters, shared: shared, gateOccupancyOnEntry: gateOccupancyOnEntry, statsSource: nil)
    }

    init(
        requestID: String, parameters: [String: String], shared: SharedState, gateOccupancyOnEntry: Int?,
        statsSource: (any StatsSource)?
    ) {
        self.requestID = requestID
        self.parameters = parameters
        self.shared = shared
        self.gateOccupancyOnEntry = gateOccupancyOnEntry
        self.statsSource = statsSource
    }

    /// The path parameter `name`, or nil.
    public func parameter(_ name: String) -> String? { parameters[name] }

    /// The server's request accounting right now; nil outside a server.
    public var serverStats: ServerStats? { statsSource?.snapshot() }
}

/// What can report a server's stats; a class reference, so a context costs no allocation for it.
protocol StatsSource: AnyObject, Sendable {
    func snapshot() -> ServerStats
}
