// Writes audit events into their tenant's chain, and keeps floods of refusals from filling it.

import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage
import Synchronization
import TemplateProtection
import Tenancy
import WireFormats

public final class AuditTrail: Sendable {
    /// Where the chain's key comes from: the database, wrapped by this master key.
    private let masterKey: MasterKey?
    /// The chain, once its key was read (it never changes: rotating the master key re-wraps it).
    private let loaded: Mutex<AuditChain?>
    /// Refusals sampled per tenant and action, so a flood of one kind cannot silence another;
    /// anonymous ones (no credential that names a tenant) have budgets of their own.
    private let sampler = RateLimiter<SampledRefusal>()
    /// Refusals not written, by tenant and action, since the last summary.
    private let dropped = Mutex<[SampledRefusal: Int]>([:])
    /// Refusals waiting to be written.
    private let refusals = AsyncStream<AuditEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    private let logger = Logger(label: "enface.audit")

    struct SampledRefusal: Hashable, Sendable {
        var tenant: UUID
        var action: String
        var anonymous: Bool
    }

    /// Refusals of one action recorded per tenant per minute at most; the rest are counted, and
    /// the counts written once a minute (`audit.refusals_dropped`).
    public static let refusalsPerMinute = 30
    /// Attempts on other tenants' data are never sampled away: each one is recorded.
    public static let neverDropped: Set = ["access.foreign_face", "access.cross_tenant", "access.foreign_jwt"]

    /// A trail whose chain key is stored in `platform_keys`, wrapped by `masterKey`; the first
    /// node to need it stores it.
    public init(masterKey: MasterKey) {
        self.masterKey = masterKey
        self.loaded = Mutex(nil)
    }

    /// A trail with a known chain (tests of pure logic).
    public init(chain: AuditChain) {
        self.masterKey = nil
        self.loaded = Mutex(chain)
    }

    /// The chain, its key read (or first stored) on `connection` when not yet known. Throws
    /// `KeyError.cannotUnwrap` when the stored key was wrapped by another master key.
    public func chain(on connection: PostgresConnection, logger: Logger) async throws -> AuditChain {
        if let chain = loaded.withLock({ $0 }) { return chain }
        guard let masterKey else { preconditionFailure("a trail without a master key has its chain") }
        let name = PlatformKeyRepository.auditChain
        var wrapped = try await PlatformKeyRepository.wrapped(name, on: connection, logger: logger)
        if wrapped == nil {
            wrapped = try await PlatformKeyRepository.insertIfAbsent(
                name, wrapped: try masterKey.wrapPlatformKey(masterKey.initialAuditKey, name: name), on: connection, logger: logger)
        }
        let chain = AuditChain(key: try masterKey.unwrapPlatformKey(wrapped!, name: name))
        loaded.withLock { $0 = chain }
        return chain
    }

    /// The chain, read in a transaction of its own on `pool`.
    public func chain(on pool: PostgresPool) async throws -> AuditChain {
        if let chain = loaded.withLock({ $0 }) { return chain }
        return try await pool.withTransaction { connection in try await self.chain(on: connection, logger: pool.logger) }
    }

    /// Records `event` in the caller's transaction (whose tenant is the event's).
    @discardableResult
    public func record(_ event: AuditEvent, in transaction: TenantTransaction) async throws -> RecordedAuditEvent {
        try await AuditRepository.append(
            event, chain: try await chain(on: transaction.connection, logger: transaction.logger), in: transaction)
    }

    /// Records a refusal (bad credential, cross-tenant attempt), unless refusals of its tenant and
    /// action are already flooding in (`always`: never sampled). Queued and written by `run`, in
    /// a transaction of its own, so a refusal is answered as fast whether or not the database
    /// can take its record; a full queue keeps the newest.
    public func recordRefusal(_ event: AuditEvent, always: Bool = false) {
        if !always && !Self.neverDropped.contains(event.action) {
            let key = SampledRefusal(tenant: event.tenantID, action: event.action, anonymous: event.actor == "anonymous")
            guard sampler.acquire(key, limit: Self.refusalsPerMinute).allowed else {
                dropped.withLock { $0[key, default: 0] += 1 }
                return
            }
        }
        refusals.continuation.yield(event)
    }

    /// Writes queued refusals as they come, on `pool`, and once a minute how many were sampled
    /// away. Runs in `enface serve`'s service group; at shutdown it writes what is queued.
    public func run(pool: PostgresPool, summaryInterval: Duration = .seconds(60)) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in self.refusals.stream {
                    do {
                        try await pool.withTenant(event.tenantID) { try await self.record(event, in: $0) }
                    } catch {
                        self.logger.warning("a refusal could not be recorded", metadata: ["action": "\(event.action)"])
                    }
                }
            }
            group.addTask {
                while await pause(for: summaryInterval) {
                    await self.summarizeDropped(pool: pool, window: summaryInterval)
                }
                await self.summarizeDropped(pool: pool, window: summaryInterval)
                self.refusals.continuation.finish()
            }
        }
    }

    /// Writes, per tenant, how many refusals of each action were not recorded since the last
    /// summary, and starts counting again. Counts that cannot be written are kept for the next.
    public func summarizeDropped(pool: PostgresPool, window: Duration) async {
        let counts = dropped.withLock { dropped in
            defer { dropped = [:] }
            return dropped
        }
        for (tenant, actions) in Dictionary(grouping: counts, by: \.key.tenant) {
            var detail: [String: JSONValue] = ["windowSeconds": .number(Double(window.components.seconds))]
            for (key, count) in actions {
                detail[key.anonymous ? "anonymous \(key.action)" : key.action] = .number(Double(count))
            }
            let event = AuditEvent(
                tenantID: tenant, actor: "system", action: "audit.refusals_dropped", outcome: .success, detail: .object(detail))
            do {
                try await pool.withTenant(tenant) { try await self.record(event, in: $0) }
            } catch {
                dropped.withLock { dropped in for (key, count) in actions { dropped[key, default: 0] += count } }
            }
        }
    }
}

/// The audit trail's writer of refusals, as a service of `enface serve`.
public struct AuditRefusals: Service {
    let audit: AuditTrail
    let pool: PostgresPool

    public init(audit: AuditTrail, pool: PostgresPool) {
        self.audit = audit
        self.pool = pool
    }

    public func run() async {
        await audit.run(pool: pool)
    }
}
