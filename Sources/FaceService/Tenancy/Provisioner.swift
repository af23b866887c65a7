// `enface tenant apply`: bring the tenants to what a file declares, all or nothing.

import Foundation
import PostgresNIO
import Storage
import TemplateProtection
import Tenancy
import WireFormats

public struct Provisioner: Sendable {
    /// One line of the plan.
    public struct Step: Sendable, Equatable {
        public enum Kind: String, Sendable { case create, update, unchanged, delete }
        public var kind: Kind
        public var slug: String
        /// What changes (for updates): field paths.
        public var changes: [String]
    }

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
            try await plan(desired, prune: prune, existing: existing(on: connection))
        }
    }

    /// Applies `desired` in one transaction: every create, update and (with `prune`) delete, or
    /// none of them.
    public func apply(_ desired: [DesiredTenant], prune: Bool, by actor: String) async throws -> Outcome {
        let admin = administration.admin
        return try await admin.withTransaction { connection in
            // One apply at a time: a second waits, then plans against what the first did.
            _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended('enface.provisioning', 0))", logger: admin.logger)
                .collect()
            let current = try await existing(on: connection)
            let steps = try plan(desired, prune: prune, existing: current)
            var keys: [String: APIKeySecret] = [:]
            for tenant in desired {
                let step = steps.first { $0.slug == tenant.slug }!
                switch step.kind {
                case .create: keys[tenant.slug] = try await create(tenant, by: actor, on: connection)
                case .update: try await update(current[tenant.slug]!, to: tenant, by: actor, on: connection)
                case .unchanged, .delete: break
                }
            }
            for step in steps where step.kind == .delete {
                try await delete(current[step.slug]!, by: actor, on: connection)
            }
            return Outcome(steps: steps, createdKeys: keys)
        }
    }

    // MARK: Planning

    func plan(_ desired: [DesiredTenant], prune: Bool, existing: [String: Tenant]) throws -> [Step] {
        var steps: [Step] = []
        var errors: [FieldError] = []
        for (index, tenant) in desired.enumerated() {
            guard let current = existing[tenant.slug] else {
                steps.append(Step(kind: .create, slug: tenant.slug, changes: []))
                continue
            }
            if current.status == .deleted {
                errors.append(FieldError(pointer: "/tenants/\(index)/slug", code: "not_allowed", detail: "\(tenant.slug) is deleted"))
                continue
            }
            if current.model != tenant.model {
                errors.append(FieldError(
                    pointer: "/tenants/\(index)/model", code: "not_allowed",
                    detail: "a tenant's model is fixed at creation (it is \(current.model))"))
            }
            if current.status != tenant.status, lifecyclePath(from: current.status, to: tenant.status) == nil {
                errors.append(FieldError(
                    pointer: "/tenants/\(index)/status", code: "invalid_transition",
                    detail: LifecycleError(from: current.status, to: tenant.status).detail))
            }
            let changes = Self.changes(current, tenant)
            steps.append(Step(kind: changes.isEmpty ? .unchanged : .update, slug: tenant.slug, changes: changes))
        }
        if !errors.isEmpty { throw TenancyError.invalid(ValidationFailure(errors)) }
        if prune {
            let declared = Set(desired.map(\.slug))
            for slug in existing.keys.sorted() where !declared.contains(slug) && existing[slug]!.status != .deleted {
                steps.append(Step(kind: .delete, slug: slug, changes: []))
            }
        }
        return steps
    }

    static func changes(_ current: Tenant, _ desired: DesiredTenant) -> [String] {
        var changes: [String] = []
        if current.name != desired.name { changes.append("name") }
        if current.plan != desired.plan { changes.append("plan") }
        if current.status != desired.status { changes.append("status") }
        if desired.status == .suspended, current.suspendReason != desired.suspendReason { changes.append("suspendReason") }
        if current.settings != desired.settings { changes.append("settings") }
        if current.quotas != desired.quotas { changes.append("quotas") }
        return changes
    }

    /// The statuses to pass through from `from` to `to` (pending → suspended goes via active).
    func lifecyclePath(from: TenantStatus, to: TenantStatus) -> [TenantStatus]? {
        if from == to { return [] }
        if from.canBecome(to) { return [to] }
        if from == .pending, to == .suspended { return [.active, .suspended] }
        return nil
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

    private func create(_ desired: DesiredTenant, by actor: String, on connection: PostgresConnection) async throws -> APIKeySecret {
        let now = AuditChain.timestamp()
        var tenant = Tenant(
            id: UUID(), slug: desired.slug, name: desired.name, status: .pending, plan: desired.plan, model: desired.model,
            settings: desired.settings, quotas: desired.quotas, createdAt: now)
        var secret: APIKeySecret?
        try await asTenant(tenant.id, on: connection) { transaction in
            secret = try await administration.insert(tenant, by: actor, detail: ["via": "apply"], in: transaction).secret
            for step in lifecyclePath(from: .pending, to: desired.status) ?? [] {
                let before = tenant
                Self.stamp(&tenant, to: step, reason: desired.suspendReason, now: now)
                try await TenantRepository.update(tenant, on: connection, logger: transaction.logger)
                try await record(before, tenant, by: actor, in: transaction)
            }
        }
        guard let secret else { throw RepositoryError.noRow("the created tenant's key") }
        return secret
    }

    private func update(_ current: Tenant, to desired: DesiredTenant, by actor: String, on connection: PostgresConnection) async throws {
        let now = AuditChain.timestamp()
        try await asTenant(current.id, on: connection) { transaction in
            var tenant = current
            tenant.name = desired.name
            tenant.plan = desired.plan
            tenant.settings = desired.settings
            tenant.quotas = desired.quotas
            if tenant != current {
                try await TenantRepository.update(tenant, on: connection, logger: transaction.logger)
                try await record(current, tenant, by: actor, in: transaction)
            }
            for step in lifecyclePath(from: current.status, to: desired.status) ?? [] {
                let before = tenant
                Self.stamp(&tenant, to: step, reason: desired.suspendReason, now: now)
                try await TenantRepository.update(tenant, on: connection, logger: transaction.logger)
                try await record(before, tenant, by: actor, in: transaction)
            }
            if desired.status == .suspended, current.status == .suspended, tenant.suspendReason != desired.suspendReason {
                let before = tenant
                tenant.suspendReason = desired.suspendReason
                try await TenantRepository.update(tenant, on: connection, logger: transaction.logger)
                try await record(before, tenant, by: actor, in: transaction)
            }
        }
    }

    /// Prune: suspend if needed, then delete (keys revoked, purge scheduled), as the lifecycle asks.
    private func delete(_ current: Tenant, by actor: String, on connection: PostgresConnection) async throws {
        let now = AuditChain.timestamp()
        try await asTenant(current.id, on: connection) { transaction in
            var tenant = current
            let path: [TenantStatus] = current.status == .suspended ? [.deleted] : current.status == .active ? [.suspended, .deleted] : [.active, .suspended, .deleted]
            for step in path {
                let before = tenant
                Self.stamp(&tenant, to: step, reason: "pruned by tenant apply", now: now)
                try await TenantRepository.update(tenant, on: connection, logger: transaction.logger)
                if step == .deleted { _ = try await APIKeyRepository.revokeAll(at: now, in: transaction) }
                try await record(before, tenant, by: actor, in: transaction)
            }
        }
    }

    static func stamp(_ tenant: inout Tenant, to status: TenantStatus, reason: String?, now: Date) {
        tenant.status = status
        switch status {
        case .active:
            if tenant.activatedAt == nil { tenant.activatedAt = now }
            tenant.suspendedAt = nil
            tenant.suspendReason = nil
        case .suspended:
            tenant.suspendedAt = now
            tenant.suspendReason = reason
        case .deleted:
            tenant.deletedAt = now
            tenant.purgeAfter = now.addingTimeInterval(Double(tenant.quotas.retentionDays) * 86_400)
        case .pending:
            break
        }
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
