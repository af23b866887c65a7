// Writes audit events into their tenant's chain, and keeps floods of refusals from filling it.

import Crypto
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
    /// The chain's keys, once read (rotating the master key re-wraps them; rotating the audit
    /// key adds one).
    private let loaded: Mutex<AuditKeyring?>
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

    /// A trail whose chain keys are stored in `platform_keys`, wrapped by `masterKey`; the first
    /// node to need one stores a random key.
    public init(masterKey: MasterKey) {
        self.masterKey = masterKey
        self.loaded = Mutex(nil)
    }

    /// A trail with a known chain (tests of pure logic).
    public init(chain: AuditChain) {
        self.masterKey = nil
        self.loaded = Mutex(AuditKeyring([chain]))
    }

    /// Every version of the chain's key, read (or the first stored) on `connection` when not yet
    /// known. Throws `KeyError.cannotUnwrap` when a stored key was wrapped by another master key.
    public func keyring(on connection: PostgresConnection, logger: Logger) async throws -> AuditKeyring {
        if let keyring = loaded.withLock({ $0 }) { return keyring }
        guard let masterKey else { throw KeyError.cannotUnwrap }
        var wrapped = try await PlatformKeyRepository.auditChainVersions(on: connection, logger: logger)
        if wrapped.isEmpty {
            // A key of its own, random: nothing derived from any master key. Of two nodes racing
            // to store the first, both read back the winner's.
            let name = PlatformKeyRepository.auditChain
            wrapped[1] = try await PlatformKeyRepository.insertIfAbsent(
                name, wrapped: try masterKey.wrapPlatformKey(SymmetricKey(size: .bits256), name: name), on: connection,
                logger: logger)
        }
        let keyring = AuditKeyring(try wrapped.map { version, key in
            AuditChain(
                key: try masterKey.unwrapPlatformKey(key, name: PlatformKeyRepository.auditChain(version: version)),
                version: version)
        })
        loaded.withLock { $0 = keyring }
        return keyring
    }

    /// The chain new events are appended with: the newest key.
    public func chain(on connection: PostgresConnection, logger: Logger) async throws -> AuditChain {
        guard let chain = try await keyring(on: connection, logger: logger).current else { throw KeyError.cannotUnwrap }
        return chain
    }

    /// The keyring, read in a transaction of its own on `pool`.
    public func keyring(on pool: PostgresPool) async throws -> AuditKeyring {
        if let keyring = loaded.withLock({ $0 }) { return keyring }
        return try await pool.withTransaction { connection in try await self.keyring(on: connection, logger: pool.logger) }
    }

    /// Forgets the keys read, so the next use reads them again (after a rotation).
    public func reload() {
        loaded.withLock { $0 = nil }
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
