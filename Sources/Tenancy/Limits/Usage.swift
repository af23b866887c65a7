// What a tenant used: requests, enrolls, verifies and searches, counted per UTC day.

public struct UsageCounts: Sendable, Codable, Equatable {
    public var requests: Int64
    public var enrolls: Int64
    public var verifies: Int64
    public var searches: Int64

    public init(requests: Int64 = 0, enrolls: Int64 = 0, verifies: Int64 = 0, searches: Int64 = 0) {
        self.requests = requests
        self.enrolls = enrolls
        self.verifies = verifies
        self.searches = searches
    }

    /// Sums saturate: counts come back from the database, and no count may trap the process.
    public static func + (a: UsageCounts, b: UsageCounts) -> UsageCounts {
        UsageCounts(
            requests: a.requests.saturatingAdd(b.requests), enrolls: a.enrolls.saturatingAdd(b.enrolls),
            verifies: a.verifies.saturatingAdd(b.verifies), searches: a.searches.saturatingAdd(b.searches))
    }

    public static func - (a: UsageCounts, b: UsageCounts) -> UsageCounts {
        UsageCounts(
            requests: a.requests.saturatingSubtract(b.requests), enrolls: a.enrolls.saturatingSubtract(b.enrolls),
            verifies: a.verifies.saturatingSubtract(b.verifies), searches: a.searches.saturatingSubtract(b.searches))
    }

    public var isZero: Bool { self == UsageCounts() }
}

public struct UsageDay: Sendable, Codable, Equatable {
    /// yyyy-MM-dd, UTC.
    public var day: String
    public var counts: UsageCounts

    public init(day: String, counts: UsageCounts) {
        self.day = day
        self.counts = counts
    }
}

extension Int64 {
    /// Sums and differences of counts that come back from the database: clamped, never a trap.
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    public func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
