// Writes audit events into their tenant's chain, and keeps floods of refusals from filling it.

import Foundation
import Storage
import Synchronization
import Tenancy

public final class AuditTrail: Sendable {
    public let chain: AuditChain
    private let sampler = RateLimiter()
    private let suppressed = Mutex<[UUID: Int]>([:])

    /// Refusals recorded per tenant per minute at most; the rest are counted, and the count
    /// rides on the next one recorded.
    public static let refusalsPerMinute = 30

    public init(chain: AuditChain) {
        self.chain = chain
    }

    /// Records `event` in the caller's transaction (whose tenant is the event's).
    @discardableResult
    public func record(_ event: AuditEvent, in transaction: TenantTransaction) async throws -> RecordedAuditEvent {
        try await AuditRepository.append(event, chain: chain, in: transaction)
    }

    /// Records a refusal (bad credential, cross-tenant attempt) in its own transaction, unless
    /// this tenant's refusals are already flooding in.
    public func recordRefusal(_ event: AuditEvent, pool: PostgresPool) async {
        guard sampler.acquire(tenant: event.tenantID, limit: Self.refusalsPerMinute).allowed else {
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
