// A `Date` bound as the timestamptz microsecond nearest to it.

import Foundation
import NIOCore
import PostgresNIO
import Tenancy

/// Binds a `Date` as the microsecond it stands for.
///
/// PostgresNIO's own `Date` encoding truncates (`Int64(seconds * 1e6)`), and a `Date` is a binary
/// fraction: one made from a whole number of microseconds is often a hair below it. About one in
/// four such times is bound one microsecond early, which is enough to make a keyset cursor
/// `(created_at, id) > ($1, $2)` repeat the row it ended on. Bind times that must compare exactly
/// with stored ones through this.
public struct ExactTimestamp: PostgresNonThrowingEncodable, Sendable {
    public static var psqlType: PostgresDataType { .timestamptz }
    public static var psqlFormat: PostgresFormat { .binary }

    /// PostgreSQL counts from 2000-01-01 00:00 UTC.
    static let postgresEpoch = Date(timeIntervalSince1970: 946_684_800)

    public let date: Date

    public init(_ date: Date) {
        self.date = date
    }

    /// Microseconds since PostgreSQL's epoch, rounded to the nearest; a date beyond what an
    /// Int64 of microseconds holds (±292,000 years) is bound as the nearest it can be, never trapped on.
    public var microseconds: Int64 {
        Int64(clampingMicroseconds: date.timeIntervalSince(Self.postgresEpoch) * 1_000_000)
    }

    public func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        buffer.writeInteger(microseconds)
    }
}
