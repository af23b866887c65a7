// UUIDs on the wire are lowercase (RFC 9562 §4), whatever Foundation's encoder prefers.

import Foundation

/// Encodes the wrapped UUID as its lowercase string; decodes any case.
@propertyWrapper
public struct WireUUID: Sendable, Hashable, Codable {
    public var wrappedValue: UUID

    public init(wrappedValue: UUID) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode(UUID.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue.uuidString.lowercased())
    }
}
