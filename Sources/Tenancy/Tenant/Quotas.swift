// How much a tenant may use.

import WireFormats

public struct Quotas: Sendable, Codable, Equatable {
    /// Faces the tenant may hold.
    public var maxFaces: Int
    public var requestsPerMinute: Int
    public var requestsPerDay: Int
    /// Largest request body accepted, refused with 413 before it is read whole.
    public var maxBodyBytes: Int
    /// Days a deleted tenant's data is kept before it is purged (its grace period).
    public var retentionDays: Int

    public init(maxFaces: Int, requestsPerMinute: Int, requestsPerDay: Int, maxBodyBytes: Int, retentionDays: Int) {
        self.maxFaces = maxFaces
        self.requestsPerMinute = requestsPerMinute
        self.requestsPerDay = requestsPerDay
        self.maxBodyBytes = maxBodyBytes
        self.retentionDays = retentionDays
    }

    static let fields: Set<String> = ["maxFaces", "requestsPerMinute", "requestsPerDay", "maxBodyBytes", "retentionDays"]

    /// These quotas with the fields of `patch` (a JSON object) applied; every bad field is
    /// reported with its pointer under `pointer`.
    public func applying(_ patch: JSONValue, pointer: String = "/quotas") throws(ValidationFailure) -> Quotas {
        var reader = FieldReader(patch, pointer: pointer, allowed: Self.fields)
        var result = self
        if let value = reader.integer("maxFaces", in: 0...1_000_000_000) { result.maxFaces = value }
        if let value = reader.integer("requestsPerMinute", in: 1...10_000_000) { result.requestsPerMinute = value }
        if let value = reader.integer("requestsPerDay", in: 1...10_000_000_000) { result.requestsPerDay = value }
        if let value = reader.integer("maxBodyBytes", in: 1_024...(64 << 20)) { result.maxBodyBytes = value }
        if let value = reader.integer("retentionDays", in: 0...3_650) { result.retentionDays = value }
        try reader.check()
        return result
    }
}
