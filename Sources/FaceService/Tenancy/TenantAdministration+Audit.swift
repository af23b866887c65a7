// The operator's view of the audit trail (filtered, and verified link by link) and of usage.

import Foundation
import Storage
import Tenancy

extension TenantAdministration {
    /// Records, in the tenant's own trail, that an operator read something of the tenant's that
    /// operators otherwise never see (its calibration names person ids): the tenant can tell.
    public func recordOperatorRead(_ id: UUID, action: String, by actor: String) async throws {
        try await admin.withTenant(id) { transaction in
            _ = try await audit.record(
                AuditEvent(tenantID: id, actor: actor, action: action, target: id.uuidString.lowercased()),
                in: transaction)
        }
    }

    public func auditEvents(_ filter: AuditRepository.Filter) async throws -> [RecordedAuditEvent] {
        try await admin.withTransaction { connection in
            try await AuditRepository.list(filter, on: connection, logger: admin.logger)
        }
    }

    /// What walking the audit trail found.
    public struct AuditVerification: Sendable {
        public var events = 0
        public var tenants = 0
        public var firstBreak: AuditChain.Break?
    }

    /// Walks every tenant's chain a page at a time and stops at the first broken link.
    public func verifyAudit(pageSize: Int = 1_000) async throws -> AuditVerification {
        var result = AuditVerification()
        let keyring = try await audit.keyring(on: admin)
        var cursor: (tenant: UUID, id: Int64)?
        var previous: [UInt8]?
        while true {
            let page = try await admin.withTransaction { connection in
                try await AuditRepository.all(
                    afterTenant: cursor?.tenant, afterID: cursor?.id ?? 0, limit: pageSize, on: connection, logger: admin.logger)
            }
            for record in page {
                if record.event.tenantID != cursor?.tenant {
                    result.tenants += 1
                    previous = nil
                }
                result.events += 1
                if let broken = keyring.check(record, follows: previous) {
                    result.firstBreak = broken
                    return result
                }
                previous = record.hash
                cursor = (record.event.tenantID, record.id)
            }
            if page.count < pageSize { return result }
        }
    }

    public func usage(tenant id: UUID, from: String, to: String) async throws -> [UsageDay] {
        try await admin.withTenant(id) { transaction in
            _ = try await lockedTenant(id, in: transaction, lock: false)
            return try await UsageRepository.days(
                from: from, to: to, tenantID: id, on: transaction.connection, logger: transaction.logger)
        }
    }
}
