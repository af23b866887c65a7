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
        public enum Kind: String, Sendable {
            case create, update, unchanged
            /// An active tenant left out of a file applied with --prune: suspended, not deleted.
            case suspend
            case delete
            /// A tenant --prune leaves alone, and why (`note`).
            case keep
        }
        public var kind: Kind
        public var slug: String
        /// What changes, field by field (`settings.matchThreshold`), before and after.
        public var changes: [FieldChange]
        public var note: String?

        public init(kind: Kind, slug: String, changes: [FieldChange] = [], note: String? = nil) {
            self.kind = kind
            self.slug = slug
            self.changes = changes
            self.note = note
        }
    }

    /// One field of a tenant as the plan changes it.
    public struct FieldChange: Sendable, Equatable {
        public var field: String
        public var before: String
        public var after: String
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
            try plan(desired, prune: prune, existing: await existing(on: connection), now: AuditChain.timestamp()).map(\.step)
        }
    }

    /// Applies `desired` in one transaction: every step of the plan, or none of them.
    public func apply(_ desired: [DesiredTenant], prune: Bool, by actor: String) async throws -> Outcome {
        let admin = administration.admin
        return try await admin.withTransaction { connection in
            // One apply at a time: a second waits, then plans against what the first did.
            _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended('enface.provisioning', 0))", logger: admin.logger)
                .collect()
            let now = AuditChain.timestamp()
            let planned = try plan(desired, prune: prune, existing: await existing(on: connection), now: now)
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

    // MARK: Planning

    /// A step, and the tenant as it is and as it will be.
    struct Planned {
        var step: Step
        var current: Tenant?
        var target: Tenant
    }

    func plan(_ desired: [DesiredTenant], prune: Bool, existing: [String: Tenant], now: Date) throws -> [Planned] {
        var planned: [Planned] = []
        var errors: [FieldError] = []
        for (index, wanted) in desired.enumerated() {
            let pointer = "/tenants/\(index)"
            guard let current = existing[wanted.slug] else {
                if wanted.status == .deleted {
                    errors.append(FieldError(pointer: pointer + "/status", code: "invalid_value", detail: "\(wanted.slug) does not exist"))
                    continue
                }
                do {
                    // A tenant a file creates is active unless the file says otherwise.
                    let target = try Self.target(
                        wanted, from: Self.fresh(wanted, now: now), status: wanted.status ?? .active, pointer: pointer, now: now)
                    planned.append(Planned(step: Step(kind: .create, slug: wanted.slug), current: nil, target: target))
                } catch { errors += error.errors }
                continue
            }
            if current.status == .deleted {
                errors.append(FieldError(pointer: pointer + "/slug", code: "not_allowed", detail: "\(wanted.slug) is deleted"))
                continue
            }
            if let model = wanted.model, model != current.model {
                errors.append(FieldError(
                    pointer: pointer + "/model", code: "not_allowed",
                    detail: "a tenant's model is fixed at creation (it is \(current.model))"))
            }
            if let status = wanted.status, status != current.status, Self.lifecyclePath(from: current.status, to: status) == nil {
                errors.append(FieldError(
                    pointer: pointer + "/status", code: "invalid_transition",
                    detail: LifecycleError(from: current.status, to: status).detail))
                continue
            }
            do {
                let target = try Self.target(wanted, from: current, status: wanted.status ?? current.status, pointer: pointer, now: now)
                let changes = try Self.changes(current, target)
                planned.append(Planned(
                    step: Step(kind: changes.isEmpty ? .unchanged : .update, slug: wanted.slug, changes: changes),
                    current: current, target: target))
            } catch let failure as ValidationFailure { errors += failure.errors }
        }
        if !errors.isEmpty { throw TenancyError.invalid(ValidationFailure(errors)) }
        if prune {
            let declared = Set(desired.map(\.slug))
            for slug in existing.keys.sorted() where !declared.contains(slug) {
                guard let current = existing[slug], current.status != .deleted else { continue }
                var target = current
                switch current.status {
                case .active:
                    // Deleting a tenant in use is never one step: it is suspended, and the file
                    // must say `"status": "deleted"` for it to go.
                    Self.stamp(&target, to: .suspended, reason: "left out of a provisioning file", now: now)
                    planned.append(Planned(
                        step: Step(
                            kind: .suspend, slug: slug, changes: try Self.changes(current, target),
                            note: "active: suspended, not deleted; declare it with \"status\": \"deleted\" to delete it"),
                        current: current, target: target))
                case .suspended:
                    Self.stamp(&target, to: .deleted, reason: nil, now: now)
                    planned.append(Planned(
                        step: Step(kind: .delete, slug: slug, changes: try Self.changes(current, target)), current: current,
                        target: target))
                case .pending:
                    planned.append(Planned(
                        step: Step(kind: .keep, slug: slug, note: "pending: never activated, left as it is"), current: current,
                        target: current))
                case .deleted:
                    break
                }
            }
        }
        return planned
    }

    /// A tenant the file creates, before the file's fields: the plan's defaults, pending.
    static func fresh(_ wanted: DesiredTenant, now: Date) -> Tenant {
        let plan = wanted.plan ?? .starter
        return Tenant(
            id: UUID(), slug: wanted.slug, name: wanted.name, status: .pending, plan: plan,
            model: wanted.model ?? ModelCatalog.defaultModel, settings: TenantSettings(), quotas: plan.defaultQuotas,
            createdAt: now)
    }

    /// `tenant` with what the file says applied, and nothing else: a field left out stays.
    static func target(
        _ wanted: DesiredTenant, from tenant: Tenant, status: TenantStatus, pointer: String, now: Date
    ) throws(ValidationFailure) -> Tenant {
        var target = tenant
        target.name = wanted.name
        if let plan = wanted.plan, plan != tenant.plan {
            // A new plan brings its quotas, as on the API; the file's quotas apply on top.
            target.plan = plan
            target.quotas = plan.defaultQuotas
        }
        if let patch = wanted.settings { target.settings = try target.settings.applying(patch, pointer: pointer + "/settings") }
        if let patch = wanted.quotas { target.quotas = try target.quotas.applying(patch, pointer: pointer + "/quotas") }
        for step in lifecyclePath(from: tenant.status, to: status) ?? [] {
            stamp(&target, to: step, reason: wanted.suspendReason, now: now)
        }
        if status == .suspended, tenant.status == .suspended, let reason = wanted.suspendReason { target.suspendReason = reason }
        return target
    }

    /// Field by field, what differs between two versions of a tenant (what an operator may change).
    static func changes(_ before: Tenant, _ after: Tenant) throws -> [FieldChange] {
        func flat(_ value: JSONValue, _ prefix: String, into fields: inout [String: String]) {
            if case .object(let members) = value {
                for (key, member) in members { flat(member, prefix.isEmpty ? key : prefix + "." + key, into: &fields) }
            } else {
                fields[prefix] = value.canonical
            }
        }
        var old: [String: String] = [:]
        var new: [String: String] = [:]
        flat(try TenantAdministration.snapshot(before), "", into: &old)
        flat(try TenantAdministration.snapshot(after), "", into: &new)
        if before.suspendReason != after.suspendReason {
            old["suspendReason"] = before.suspendReason.map(JSONValue.quote) ?? "null"
            new["suspendReason"] = after.suspendReason.map(JSONValue.quote) ?? "null"
        }
        return Set(old.keys).union(new.keys).sorted().compactMap { field in
            let (was, will) = (old[field] ?? "null", new[field] ?? "null")
            return was == will ? nil : FieldChange(field: field, before: was, after: will)
        }
    }

    /// The statuses to pass through from `from` to `to`: pending → suspended goes via active,
    /// active → deleted via suspended (deleting a tenant in use is two steps, as the lifecycle asks).
    static func lifecyclePath(from: TenantStatus, to: TenantStatus) -> [TenantStatus]? {
        if from == to { return [] }
        if from.canBecome(to) { return [to] }
        if from == .pending, to == .suspended { return [.active, .suspended] }
        if from == .active, to == .deleted { return [.suspended, .deleted] }
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
