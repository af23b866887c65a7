// A page of the tenant list, as a client carries it to the next request.

import Foundation

/// Where a page of tenants ends: the last one's creation time and id.
public struct TenantCursor: Sendable, Equatable {
    public var createdAt: Date
    public var id: UUID

    public init(createdAt: Date, id: UUID) {
        self.createdAt = createdAt
        self.id = id
    }

    /// Opaque to clients: base64url of "<microseconds>.<uuid>".
    public var token: String {
        let text = "\(Int64(clampingMicroseconds: createdAt.timeIntervalSince1970 * 1_000_000)).\(id.uuidString.lowercased())"
        return Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public init?(token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard token.count <= 100, let data = Data(base64Encoded: base64),
              let parts = String(data: data, encoding: .utf8)?.split(separator: "."), parts.count == 2,
              let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])),
              // Tokens are made from creation times; any other number is not one of ours.
              (0...253_402_300_799_000_000).contains(micros)
        else { return nil }
        self.init(createdAt: Date(timeIntervalSince1970: Double(micros) / 1_000_000), id: id)
    }
}

extension Int64 {
    /// `value` rounded to the nearest Int64, saturating at the ends (and 0 for NaN) instead of
    /// trapping, for numbers that may come from outside.
    public init(clampingMicroseconds value: Double) {
        let rounded = value.rounded()
        if rounded.isNaN {
            self = 0
        } else if rounded >= 9.2e18 {
            self = .max
        } else if rounded <= -9.2e18 {
            self = .min
        } else {
            self = Int64(rounded)
        }
    }
}
