// Writes audit events into their tenant's chain, and keeps floods of refusals from filling it.

import Foundation
import Logging
import PostgresNIO
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
    private let sampler = RateLimiter<UUID>()
    private let suppressed = Mutex<[UUID: Int]>([:])

    /// Refusals recorded per tenant per minute at most; the rest are counted, and the count
    /// rides on the next one recorded.
    public static let refusalsPerMinute = 30

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

    /// Records a refusal (bad credential, cross-tenant attempt) in its own transaction, unless
    /// this tenant's refusals are already flooding in.
    public func recordRefusal(_ event: AuditEvent, pool: PostgresPool) async {
        guard sampler.acquire(event.tenantID, limit: Self.refusalsPerMinute).allowed else {
            suppressed.withLock { $0[event.tenantID, default: 0] += 1 }
            return
        }
        var event = event
        let skipped = suppressed.withLock { $0.removeValue(forKey: event.tenantID) ?? 0 }
        if skipped > 0, case .object(var detail) = event.detail {
            detail["suppressedSinceLast"] = .number(Double(skipped))
            event.detail = .object(detail)
        }
        let recorded = event
        // A refusal is answered whether or not its record could be written.
        _ = try? await pool.withTenant(recorded.tenantID) { transaction in
            try await self.record(recorded, in: transaction)
        }
    }
}
