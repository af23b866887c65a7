// Keyset pages of tenants: every tenant once, in order, whatever microsecond it was created at.

import Foundation
import PostgresNIO
import Storage
import Tenancy
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct TenantListingTests {
    /// The cursor goes to the client as a token and comes back; the time inside it must then
    /// compare equal to the stored one. Bound as a plain `Date`, about one time in four came back
    /// one microsecond early and the page repeated the tenant it had ended on.
    @Test func pagesOfOneRepeatNoTenantAndSkipNone() async throws {
        let database = try ScratchDatabase.required()
        let ids = (0..<60).map { _ in UUID() }.sorted { $0.uuidString < $1.uuidString }
        try await database.withConnection(.admin) { connection in
            for id in ids {
                let tenant = Tenant(
                    id: id, slug: "t-\(id.uuidString.lowercased())", name: "Listed", status: .active, plan: .starter,
                    model: "arcface-buffalo-l", settings: TenantSettings(), quotas: Plan.starter.defaultQuotas, createdAt: Date())
                try await TenantRepository.insert(
                    tenant, wrappedKey: Data(count: 60), keyVersion: 1, on: connection, logger: TestEnvironment.logger)
            }
        }
        // Creation times 1,001 µs apart, so their microsecond digits vary.
        _ = try await database.withConnection(.owner) { connection in
            try await connection.query(
                """
                UPDATE tenants AS t
                   SET created_at = timestamptz '2026-11-24 02:47:01+00' + ordered.n * 1001 * interval '1 microsecond'
                  FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM tenants) AS ordered
                 WHERE t.id = ordered.id
                """, logger: TestEnvironment.logger)
        }

        try await database.withConnection(.admin) { connection in
            var throughTokens: [UUID] = []
            var token: String?
            repeat {
                let cursor = try token.map { try #require(TenantCursor(token: $0)) }
                let page = try await TenantRepository.list(
                    status: nil, after: cursor, limit: 1, on: connection, logger: TestEnvironment.logger)
                throughTokens += page.map(\.id)
                token = page.last.map { TenantCursor(createdAt: $0.createdAt, id: $0.id).token }
            } while token != nil && throughTokens.count <= ids.count
            #expect(throughTokens == ids)

            // The command line pages with the times it read, never turned into tokens.
            var throughDates: [UUID] = []
            var cursor: TenantCursor?
            repeat {
                let page = try await TenantRepository.list(
                    status: nil, after: cursor, limit: 7, on: connection, logger: TestEnvironment.logger)
                throughDates += page.map(\.id)
                cursor = page.count == 7 ? page.last.map { TenantCursor(createdAt: $0.createdAt, id: $0.id) } : nil
            } while cursor != nil && throughDates.count <= ids.count
            #expect(throughDates == ids)
        }
    }

    @Test func anExactTimestampIsTheMicrosecondItWasMadeFrom() {
        var generator = SeededGenerator(seed: 2026)
        let postgresEpochMicros: Int64 = 946_684_800_000_000
        for _ in 0..<10_000 {  // times from 2000 to 2040
            let micros = Int64.random(in: 946_684_800_000_000..<2_208_988_800_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            #expect(ExactTimestamp(date).microseconds == micros - postgresEpochMicros)
        }
    }
}
