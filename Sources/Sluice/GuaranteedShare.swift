/// A share of the global concurrency budget that the routes using it are guaranteed.
///
/// Other routes cannot take the share's permits while it leaves them unused, so a slow route
/// that saturates the rest of the budget cannot starve the routes of a share. A share borrows
/// freely beyond its guarantee when permits are free. Routes may use one share together.
public final class GuaranteedShare: Sendable {
    /// How stats and logs call it.
    public let name: String
    /// The guaranteed fraction of the global limit, in (0, 1]; its permits are rounded down, but at least 1.
    public let fraction: Double

    /// Whether guaranteed fractions fit in one budget: each positive, at most 1 in all (with
    /// room for rounding, so that five shares of 0.2 fit).
    public static func fitInOneBudget(_ fractions: [Double]) -> Bool {
        fractions.allSatisfy { $0 > 0 } && fractions.reduce(0, +) <= 1.000_001
    }

    /// Creates a share. The fractions of all shares a server uses must add up to at most 1.
    public init(name: String, fraction: Double) {
        precondition(fraction > 0 && fraction <= 1, "a guaranteed share is a fraction in (0, 1]")
        self.name = name
        self.fraction = fraction
    }

}
