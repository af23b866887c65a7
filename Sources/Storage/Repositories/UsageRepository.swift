// Per-tenant, per-day usage counters in PostgreSQL, written in batches.

import Foundation
import Logging
import PostgresNIO
import Tenancy

public enum UsageRepository {
    /// Adds `delta` to the tenant's counters of `day` and returns the new totals.
    public static func add(_ delta: UsageCounts, day: String, in transaction: TenantTransaction) async throws -> UsageCounts {
        let row = try await transaction.query(
            """
            INSERT INTO usage (tenant_id, day, requests, enrolls, verifies, searches)
            VALUES (\(transaction.tenantID), \(day)::date, \(delta.requests), \(delta.enrolls), \(delta.verifies), \(delta.searches))
            ON CONFLICT (tenant_id, day) DO UPDATE
               SET requests = usage.requests + excluded.requests, enrolls = usage.enrolls + excluded.enrolls,
                   verifies = usage.verifies + excluded.verifies, searches = usage.searches + excluded.searches
            RETURNING requests, enrolls, verifies, searches
            """
        ).collect().first.orThrow(RepositoryError.noRow("usage upsert"))
        let (requests, enrolls, verifies, searches) = try row.decode((Int64, Int64, Int64, Int64).self)
        return UsageCounts(requests: requests, enrolls: enrolls, verifies: verifies, searches: searches)
    }

    /// Days from `from` to `to` inclusive (yyyy-MM-dd), oldest first.
    public static func days(
        from: String, to: String, tenantID: UUID, on connection: PostgresConnection, logger: Logger
    ) async throws -> [UsageDay] {
        var days: [UsageDay] = []
        let rows = try await connection.query(
            """
            SELECT to_char(day, 'YYYY-MM-DD'), requests, enrolls, verifies, searches FROM usage
             WHERE tenant_id = \(tenantID) AND day BETWEEN \(from)::date AND \(to)::date ORDER BY day
            """, logger: logger)
        for try await (day, requests, enrolls, verifies, searches) in rows.decode((String, Int64, Int64, Int64, Int64).self) {
            days.append(
                UsageDay(
                    day: day, counts: UsageCounts(requests: requests, enrolls: enrolls, verifies: verifies, searches: searches)))
        }
        return days
    }

    /// Adds `delta` to the tenant's decision histograms of `day`, bin by bin.
    public static func add(_ delta: DecisionHistograms, day: String, in transaction: TenantTransaction) async throws {
        try await transaction.query(
            """
            INSERT INTO usage (tenant_id, day, verify_scores, search_scores)
            VALUES (\(transaction.tenantID), \(day)::date, \(delta.verify.counts), \(delta.search.counts))
            ON CONFLICT (tenant_id, day) DO UPDATE
               SET verify_scores = (SELECT array_agg(coalesce(a, 0) + coalesce(b, 0) ORDER BY i)
                                      FROM unnest(usage.verify_scores, excluded.verify_scores) WITH ORDINALITY AS t(a, b, i)),
                   search_scores = (SELECT array_agg(coalesce(a, 0) + coalesce(b, 0) ORDER BY i)
                                      FROM unnest(usage.search_scores, excluded.search_scores) WITH ORDINALITY AS t(a, b, i))
            """)
    }

    /// The tenant's decision histograms from `from` to `to` (yyyy-MM-dd, inclusive), summed.
    public static func decisions(from: String, to: String, in transaction: TenantTransaction) async throws -> DecisionHistograms {
        var sum = DecisionHistograms()
        let rows = try await transaction.query(
            """
            SELECT verify_scores, search_scores FROM usage
             WHERE tenant_id = \(transaction.tenantID) AND day BETWEEN \(from)::date AND \(to)::date
            """)
        for try await row in rows {
            // The schema's CHECK keeps 200 bins a row; a row that still does not read as such (a
            // NULL among them, written by hand) is not counted, rather than fail every read.
            guard let (verify, search) = try? row.decode(([Int64]?, [Int64]?).self) else { continue }
            sum = sum + DecisionHistograms(
                verify: verify.flatMap(ScoreHistogram.init(counts:)) ?? ScoreHistogram(),
                search: search.flatMap(ScoreHistogram.init(counts:)) ?? ScoreHistogram())
        }
        return sum
    }
}
