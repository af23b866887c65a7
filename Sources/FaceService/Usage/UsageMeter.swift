// Per-tenant daily usage: counted in memory, checked against the daily quota, written to the
// `usage` table in batches, so a busy tenant costs one write every few seconds, not one per request.

import Foundation
import Logging
import ServiceLifecycle
import Storage
import Synchronization
import Tenancy

public final class UsageMeter: Service, Sendable {
    /// What is known of one tenant's day.
    struct Day {
        var day: String
        /// Totals in the database as of the last read or write.
        var persisted = UsageCounts()
        /// Counted here since, not yet written.
        var pending = UsageCounts()
        /// Taken by a flush that has not committed yet: still counted, or a request admitted
        /// meanwhile would see the day emptier than it is.
        var writing = UsageCounts()

        var total: UsageCounts { persisted + writing + pending }
        var seeded = false
    }

    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var limit: Int
        public var used: Int64
        /// Seconds until the day (UTC) ends.
        public var resetSeconds: Int
    }

    private let app: PostgresPool
    /// The best score of every verify and search, written with the same batches.
    public let decisions = DecisionCounter()
    private let days = Mutex<[UUID: Day]>([:])
    private let keysUsed = Mutex<[UUID: Set<UUID>]>([:])
    private let interval: Duration
    private let logger: Logger

    public init(app: PostgresPool, flushInterval: Duration = .seconds(5), logger: Logger) {
        self.app = app
        self.interval = flushInterval
        self.logger = logger
    }

    /// Counts one request against the tenant's daily quota, or refuses it when the day is used up.
    public func admit(_ tenant: Tenant, now: Date = Date()) async throws -> Decision {
        let day = Self.day(now)
        if !(days.withLock { $0[tenant.id]?.seeded == true && $0[tenant.id]?.day == day }) {
            let persisted = try await app.withTenant(tenant.id) { transaction in
                try await UsageRepository.add(UsageCounts(), day: day, in: transaction)
            }
            days.withLock { days in
                if days[tenant.id]?.day != day || days[tenant.id]?.seeded != true {
                    let pending = days[tenant.id]?.day == day ? days[tenant.id]!.pending : UsageCounts()
                    days[tenant.id] = Day(day: day, persisted: persisted, pending: pending, seeded: true)
                }
            }
        }
        let reset = Self.secondsToMidnight(now)
        return days.withLock { days in
            var entry = days[tenant.id]!
            let used = entry.total.requests
            guard used < Int64(tenant.quotas.requestsPerDay) else {
                return Decision(allowed: false, limit: tenant.quotas.requestsPerDay, used: used, resetSeconds: reset)
            }
            entry.pending.requests += 1
            days[tenant.id] = entry
            return Decision(allowed: true, limit: tenant.quotas.requestsPerDay, used: used + 1, resetSeconds: reset)
        }
    }

    /// Counts work done (enrolls, verifies, searches) for the usage report.
    public func count(_ work: UsageCounts, tenant: UUID, now: Date = Date()) {
        let day = Self.day(now)
        days.withLock { days in
            var entry = days[tenant] ?? Day(day: day)
            if entry.day != day { entry = Day(day: day) }
            entry.pending = entry.pending + work
            days[tenant] = entry
        }
    }

    /// Notes that a key was used; `last_used_at` is written with the next batch.
    public func noteKeyUsed(_ key: UUID, tenant: UUID) {
        keysUsed.withLock { _ = $0[tenant, default: []].insert(key) }
    }

    /// The tenant's decision histograms over the days `from`…`to` (yyyy-MM-dd, UTC, inclusive),
    /// written or not.
    public func decisions(tenant: UUID, from: String, to: String) async throws -> DecisionHistograms {
        try await decisions.histograms(tenant: tenant, from: from, to: to) {
            try await app.withTenant(tenant) { try await UsageRepository.decisions(from: from, to: to, in: $0) }
        }
    }

    /// Today's totals for a tenant, including what is not written yet.
    public func today(_ tenant: UUID, now: Date = Date()) -> UsageCounts? {
        days.withLock { days in
            guard let entry = days[tenant], entry.day == Self.day(now) else { return nil }
            return entry.total
        }
    }

    /// Writes every pending count and key use.
    public func flush() async {
        let pending = days.withLock { days -> [(UUID, String, UsageCounts)] in
            var taken: [(UUID, String, UsageCounts)] = []
            for (tenant, entry) in days where !entry.pending.isZero {
                taken.append((tenant, entry.day, entry.pending))
                days[tenant]!.writing = days[tenant]!.writing + entry.pending
                days[tenant]!.pending = UsageCounts()
            }
            return taken
        }
        for (tenant, day, counts) in pending {
            do {
                let totals = try await app.withTenant(tenant) { transaction in
                    try await UsageRepository.add(counts, day: day, in: transaction)
                }
                days.withLock { days in
                    guard days[tenant]?.day == day else { return }
                    days[tenant]!.persisted = totals
                    days[tenant]!.writing = days[tenant]!.writing - counts
                }
            } catch {
                // Put the counts back for the next attempt: usage is never silently dropped.
                days.withLock { days in
                    guard days[tenant]?.day == day else { return }
                    days[tenant]!.writing = days[tenant]!.writing - counts
                    days[tenant]!.pending = days[tenant]!.pending + counts
                }
                logger.warning("usage: write failed; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        await decisions.flush(app, logger: logger)
        let keys = keysUsed.withLock { used in
            defer { used = [:] }
            return used
        }
        let now = Date()
        for (tenant, ids) in keys {
            _ = try? await app.withTenant(tenant) { transaction in
                try await APIKeyRepository.touch(Array(ids), at: now, in: transaction)
            }
        }
    }

    /// Writes every `interval`, and once more on shutdown.
    public func run() async throws {
        while await pause(for: interval) {
            await flush()
        }
        await flush()
    }

    public static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    static func secondsToMidnight(_ date: Date) -> Int {
        let seconds = Int(date.timeIntervalSince1970)
        return 86_400 - seconds % 86_400
    }
}
