// Planning a provisioning file against the tenants as they are: pure, so every rule of it (what
// a file may change, which lifecycle moves it may ask, what --prune does) is decided here
// without the database, and the plan an operator previews is the plan that is applied.

import Foundation
import Tenancy
import WireFormats

extension Provisioner {
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

    /// A step, and the tenant as it is and as it will be.
    struct Planned {
        var step: Step
        var current: Tenant?
        var target: Tenant
    }

    /// The steps that bring `existing` (by slug) to `desired`, every refusal collected; pure.
    static func plan(_ desired: [DesiredTenant], prune: Bool, existing: [String: Tenant], now: Date) throws -> [Planned] {
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
}
