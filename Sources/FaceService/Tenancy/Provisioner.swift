// `enface tenant apply`: bring the tenants to what a file declares, all or nothing. What to do
// is planned without the database (Provisioner+Planning); here it is done, in one transaction.

import Foundation
import PostgresNIO
import Storage
import TemplateProtection
import Tenancy
import WireFormats

public struct Provisioner: Sendable {
    /// What an apply did: the plan, and the key of each tenant it created (shown once).
    public struct Outcome: Sendable {
        public var steps: [Step]
        public var createdKeys: [String: APIKeySecret]
    }

    let administration: TenantAdministration

    public init(administration: TenantAdministration) {
        self.administration = administration
    }

    /// The plan for `desired` against the tenants as they are; nothing is written. Refuses a
    /// plan that needs an impossible step (a model change, a lifecycle move the lifecycle forbids).
    public func plan(_ desired: [DesiredTenant], prune: Bool) async throws -> [Step] {
        try await administration.admin.withTransaction { connection in
            try Self.plan(desired, prune: prune, existing: await existing(on: connection), now: AuditChain.timestamp()).map(\.step)
        }
    }

    /// Applies `desired` in one transaction: every step of the plan, or none of them.
    public func apply(_ desired: [DesiredTenant], prune: Bool, by actor: String) async throws -> Outcome {
        let admin = administration.admin
        return try await admin.withTransaction { connection in
            // One apply at a time: a second waits, then plans against what the first did.
            try await TenantRepository.lockProvisioning(on: connection, logger: admin.logger)
            let now = AuditChain.timestamp()
            let planned = try Self.plan(desired, prune: prune, existing: await existing(on: connection), now: now)
            var keys: [String: APIKeySecret] = [:]
            for item in planned {
                switch item.step.kind {
                case .create: keys[item.step.slug] = try await create(item.target, by: actor, on: connection, now: now)
                case .update, .suspend, .delete:
                    guard let current = item.current else { continue }
                    try await update(current, to: item.target, by: actor, on: connection, now: now)
                case .unchanged, .keep: break
                }
            }
            return Outcome(steps: planned.map(\.step), createdKeys: keys)
        }
    }

    // MARK: Applying, inside the one transaction

    private func existing(on connection: PostgresConnection) async throws -> [String: Tenant] {
        var all: [String: Tenant] = [:]
        var cursor: TenantCursor?
        while true {
            let page = try await TenantRepository.list(
                status: nil, after: cursor, limit: 1_000, on: connection, logger: administration.admin.logger)
            for tenant in page { all[tenant.slug] = tenant }
            guard let last = page.last, page.count == 1_000 else { break }
            cursor = TenantCursor(createdAt: last.createdAt, id: last.id)
        }
        return all
    }

    /// Creates `target` (pending, with its first key), then moves it to the status the file asks,
    /// one audited lifecycle step at a time (the database refuses pending → suspended at once).
    private func create(_ target: Tenant, by actor: String, on connection: PostgresConnection, now: Date) async throws -> APIKeySecret {
        var pending = target
        (pending.status, pending.activatedAt, pending.suspendedAt, pending.suspendReason) = (.pending, nil, nil, nil)
        var secret: APIKeySecret?
        try await asTenant(target.id, on: connection) { transaction in
            secret = try await administration.insert(pending, by: actor, detail: ["via": "apply"], in: transaction).secret
            var before = pending
            for step in Self.lifecyclePath(from: .pending, to: target.status) ?? [] {
                var next = before
                Self.stamp(&next, to: step, reason: target.suspendReason, now: now)
                try await TenantRepository.update(next, on: connection, logger: transaction.logger)
                try await record(before, next, by: actor, in: transaction)
                before = next
            }
        }
        guard let secret else { throw RepositoryError.noRow("the created tenant's key") }
        return secret
    }

    /// Writes `target` over `current`, one audited step per lifecycle move (a deletion also
    /// revokes every key), the rest with the first step.
    private func update(
        _ current: Tenant, to target: Tenant, by actor: String, on connection: PostgresConnection, now: Date
    ) async throws {
        try await asTenant(current.id, on: connection) { transaction in
            var before = current
            var next = current
            (next.name, next.plan, next.settings, next.quotas) = (target.name, target.plan, target.settings, target.quotas)
            if next != before {
                try await TenantRepository.update(next, on: connection, logger: transaction.logger)
                try await TenantAdministration.settingsChanged(from: before.settings, to: next.settings, in: transaction)
                try await record(before, next, by: actor, in: transaction)
                before = next
            }
            for step in Self.lifecyclePath(from: current.status, to: target.status) ?? [] {
                Self.stamp(&next, to: step, reason: target.suspendReason, now: now)
                try await TenantRepository.update(next, on: connection, logger: transaction.logger)
                if step == .deleted { _ = try await APIKeyRepository.revokeAll(at: now, in: transaction) }
                try await record(before, next, by: actor, in: transaction)
                before = next
            }
            if next.suspendReason != target.suspendReason {
                next.suspendReason = target.suspendReason
                try await TenantRepository.update(next, on: connection, logger: transaction.logger)
                try await record(before, next, by: actor, in: transaction)
            }
        }
    }

    static func stamp(_ tenant: inout Tenant, to status: TenantStatus, reason: String?, now: Date) {
        tenant.enter(status, reason: reason, at: now)
    }

    private func record(_ before: Tenant, _ after: Tenant, by actor: String, in transaction: TenantTransaction) async throws {
        try await administration.audit.record(
            AuditEvent(
                tenantID: after.id, actor: actor,
                action: before.status == after.status ? "tenant.update" : "tenant.\(Self.verb(before.status, after.status))",
                target: after.id.uuidString.lowercased(),
                detail: [
                    "changes": AuditEvent.diff(
                        before: try TenantAdministration.snapshot(before), after: try TenantAdministration.snapshot(after)),
                    "via": "apply",
                ]), in: transaction)
    }

    static func verb(_ from: TenantStatus, _ to: TenantStatus) -> String {
        switch (from, to) {
        case (.pending, .active): "activate"
        case (.suspended, .active): "reactivate"
        case (_, .suspended): "suspend"
        case (_, .deleted): "delete"
        default: "update"
        }
    }

    /// Works as `tenant` inside the one transaction, and tells every node it changed.
    private func asTenant(
        _ tenant: UUID, on connection: PostgresConnection, _ body: (TenantTransaction) async throws -> Void
    ) async throws {
        try await TenantTransaction.switching(to: tenant, on: connection, logger: administration.admin.logger) { transaction in
            try await body(transaction)
            try await administration.notices.announce(.tenant, in: transaction)
        }
    }
}
