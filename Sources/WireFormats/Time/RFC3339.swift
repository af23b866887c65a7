// Times clients send (key expiries, audit ranges): RFC 3339, within years the database and every
// conversion on the way can hold. Foundation accepts "300000-01-01T00:00:00Z", and PostgresNIO
// traps binding a Date that far out; nothing past 9999 is a time anyone means.

import Foundation

public enum RFC3339 {
    /// The first and last instants accepted: 1970-01-01 and the end of 9999 (UTC).
    public static let earliest = Date(timeIntervalSince1970: 0)
    public static let latest = Date(timeIntervalSince1970: 253_402_300_799)

    /// `text` as a time, with or without fractional seconds, or nil when it is not an RFC 3339
    /// time in 1970…9999.
    public static func date(_ text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions.insert(.withFractionalSeconds)
        guard let date = plain.date(from: text) ?? fractional.date(from: text), (earliest...latest).contains(date) else {
            return nil
        }
        return date
    }
}
