// What operators do to tenants: create, change, move through the lifecycle (keys in
// TenantAdministration+Keys, the audit trail and usage in TenantAdministration+Audit).

import Foundation
import Logging
import PostgresNIO
import Storage
import TemplateProtection
import Tenancy
import WireFormats

/// The operator plane's use cases. Runs as `enface_admin`, which can read and change tenants,
/// their keys and their audit trail, but has no privilege at all on persons or faces.
public struct TenantAdministration: Sendable {
    let admin: PostgresPool
    let masterKey: MasterKey
    let models: ModelCatalog
    let audit: AuditTrail
    /// Every change to a tenant tells every node, which forget what they cached of it.
    let notices: ChangeNotices

    public init(admin: PostgresPool, masterKey: MasterKey, models: ModelCatalog, audit: AuditTrail, notices: ChangeNotices) {
        self.admin = admin
        self.masterKey = masterKey
        self.models = models
        self.audit = audit
        self.notices = notices
    }

    /// The actor string of an operator, as the audit trail records it.
    public static func actor(operator name: String) -> String { "operator:\(name)" }

    // MARK: Creating

    /// `{"name","slug","plan"?,"model"?,"settings"?,"quotas"?}`: a tenant (pending), its
    /// wrapped key and its first API key (every scope), in one transaction. The key's text is
    /// returned here and never again.
    public func create(_ request: JSONValue, by actor: String) async throws -> (tenant: Tenant, key: APIKeySecret, keyID: UUID) {
        var reader = FieldReader(request, allowed: ["name", "slug", "plan", "model", "settings", "quotas"])
        let name = reader.string("name", required: true, lengths: 1...200)
        let slug = reader.string("slug", required: true)
        if let slug, !Tenant.isValidSlug(slug) {
            reader.fail("slug", "invalid_format", "must match ^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
        }
        var plan = Plan.starter
        if let text = reader.string("plan") {
            if let parsed = Plan(rawValue: text) { plan = parsed } else {
                reader.fail("plan", "invalid_value", "must be one of \(Plan.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        let model = reader.string("model") ?? ModelCatalog.defaultModel
        if models.model(model) == nil {
            reader.fail("model", "invalid_value", "must be one of \(models.models.keys.sorted().joined(separator: ", "))")
        }
        var settings = TenantSettings()
        var quotas = plan.defaultQuotas
        do {
            if let patch = reader.value("settings") { settings = try settings.applying(patch) }
            if models.model(model) != nil { try models.checkRates(settings, model: model) }
        } catch { reader.record(error.errors) }
        do {
            if let patch = reader.value("quotas") { quotas = try quotas.applying(patch) }
        } catch { reader.record(error.errors) }
        do { try reader.check() } catch { throw TenancyError.invalid(error) }

        let now = AuditChain.timestamp()
        let tenant = Tenant(
            id: UUID(), slug: slug!, name: name!, status: .pending, plan: plan, model: model, settings: settings,
            quotas: quotas, createdAt: now)
        do {
            let (secret, keyID) = try await admin.withTenant(tenant.id) { transaction in
                try await insert(tenant, by: actor, in: transaction)
            }
            return (tenant, secret, keyID)
        } catch StorageConflict.slugTaken(let slug) {
            throw TenancyError.slugTaken(slug)
        }
    }

    /// Stores a new tenant, its wrapped key, its creation's audit event and its first key (every
    /// scope), in `transaction`; the key's text is returned here and never again. One way for
    /// the API and for provisioning files alike.
    func insert(
        _ tenant: Tenant, by actor: String, detail: [String: JSONValue] = [:], in transaction: TenantTransaction
    ) async throws -> (secret: APIKeySecret, keyID: UUID) {
        let secret = APIKeySecret.generate()
        let keyID = UUID()
        try await TenantRepository.insert(
            tenant, wrappedKey: try masterKey.wrap(TenantKey.generate(), tenantID: tenant.id), keyVersion: 1,
            on: transaction.connection, logger: transaction.logger)
        // The record first: the operator role creates a key only after its event (operator_create_key).
        try await audit.record(
            AuditEvent(
                tenantID: tenant.id, actor: actor, action: "tenant.create", target: tenant.id.uuidString.lowercased(),
                detail: .object(detail.merging([
                    "after": try Self.snapshot(tenant),
                    "key": ["id": .string(keyID.uuidString.lowercased()), "prefix": .string(secret.prefix)],
                ]) { $1 })), in: transaction)
        try await APIKeyRepository.insert(
            id: keyID, name: "initial", secret: secret, scopes: Set(Scope.allCases), expiresAt: nil,
            createdAt: tenant.createdAt, as: .admin, in: transaction)
        return (secret, keyID)
    }

    // MARK: Reading

    /// By id or slug.
    public func tenant(_ idOrSlug: String) async throws -> Tenant {
        let found = try await admin.withTransaction { connection in
            if let id = UUID(uuidString: idOrSlug) {
                return try await TenantRepository.find(id, on: connection, logger: admin.logger)
            }
            return try await TenantRepository.find(slug: idOrSlug, on: connection, logger: admin.logger)
        }
        guard let found else { throw TenancyError.tenantNotFound }
        return found
    }

    /// The id of the tenant `reference` names: an id as it is, a slug looked up. Text that is
    /// neither names no tenant, without asking the database.
    public func tenantID(_ reference: String) async throws -> UUID {
        if let id = UUID(uuidString: reference) { return id }
        guard Tenant.isValidSlug(reference) else { throw TenancyError.tenantNotFound }
        return try await tenant(reference).id
    }

    /// Row-level security as the live catalog has it, and the attributes of the roles the service
    /// connects as (`runtimeRoles`).
    public func securityCatalog(runtimeRoles: [String]) async throws -> SecurityCatalog {
        try await admin.withTransaction(snapshot: true) { connection in
            try await SecurityCatalog.read(runtimeRoles: runtimeRoles, on: connection, logger: admin.logger)
        }
    }

    public func list(status: TenantStatus?, after cursor: TenantCursor?, limit: Int) async throws -> [Tenant] {
        try await admin.withTransaction { connection in
            try await TenantRepository.list(status: status, after: cursor, limit: limit, on: connection, logger: admin.logger)
        }
    }

    // MARK: Changing

    /// `{"name"?, "plan"?, "settings"?, "quotas"?}`. A new plan brings its default quotas,
    /// unless the same request sets quotas too.
    public func update(_ id: UUID, _ patch: JSONValue, by actor: String) async throws -> Tenant {
        try await change(id, by: actor, action: "tenant.update") { try updated($0, with: patch) }
    }

    /// What `update` would make of the tenant, with nothing written or audited (`?dryRun=true`).
    public func preview(_ id: UUID, _ patch: JSONValue) async throws -> (before: Tenant, after: Tenant) {
        guard let tenant = try await admin.withTransaction({ try await TenantRepository.find(id, on: $0, logger: admin.logger) })
        else { throw TenancyError.tenantNotFound }
        guard tenant.status != .deleted else { throw TenancyError.tenantDeleted }
        return (tenant, try updated(tenant, with: patch))
    }

    func updated(_ tenant: Tenant, with patch: JSONValue) throws(TenancyError) -> Tenant {
        var reader = FieldReader(patch, allowed: ["name", "plan", "settings", "quotas"])
        var changed = tenant
        if let name = reader.string("name", lengths: 1...200) { changed.name = name }
        if let text = reader.string("plan") {
            if let plan = Plan(rawValue: text) {
                if plan != tenant.plan { changed.quotas = plan.defaultQuotas }
                changed.plan = plan
            } else {
                reader.fail("plan", "invalid_value", "must be one of \(Plan.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        do throws(ValidationFailure) {
            if let settings = reader.value("settings") {
                changed.settings = try changed.settings.applying(settings)
                try models.checkRates(changed.settings, model: changed.model)
            }
        } catch { reader.record(error.errors) }
        do throws(ValidationFailure) {
            if let quotas = reader.value("quotas") { changed.quotas = try changed.quotas.applying(quotas) }
        } catch { reader.record(error.errors) }
        do throws(ValidationFailure) { try reader.check() } catch { throw TenancyError.invalid(error) }
        return changed
    }

    public func activate(_ id: UUID, by actor: String) async throws -> Tenant {
        try await transition(id, from: [.pending], to: .active, by: actor, action: "tenant.activate") { tenant, now in
            tenant.enter(.active, at: now)
        }
    }

    public func suspend(_ id: UUID, reason: String?, by actor: String) async throws -> Tenant {
        if let reason, reason.count > 500 {
            throw TenancyError.invalid(ValidationFailure(pointer: "/reason", code: "out_of_range", detail: "must be at most 500 characters"))
        }
        return try await transition(id, from: [.active], to: .suspended, by: actor, action: "tenant.suspend") { tenant, now in
            tenant.enter(.suspended, reason: reason, at: now)
        }
    }

    public func reactivate(_ id: UUID, by actor: String) async throws -> Tenant {
        try await transition(id, from: [.suspended], to: .active, by: actor, action: "tenant.reactivate") { tenant, now in
            tenant.enter(.active, at: now)
        }
    }

    /// Deletes a suspended or pending tenant: every key revoked at once, its data purged once its
    /// grace period (`retentionDays`) is over.
    public func delete(_ id: UUID, by actor: String) async throws -> Tenant {
        try await transition(id, from: [.suspended, .pending], to: .deleted, by: actor, action: "tenant.delete") { tenant, now in
            tenant.enter(.deleted, at: now)
        } also: { transaction, now in
            let revoked = try await APIKeyRepository.revokeAll(at: now, in: transaction)
            return ["keysRevoked": .number(Double(revoked))]
        }
    }

    /// Purges every deleted tenant whose grace period is over; returns their ids.
    public func purgeDue(by actor: String) async throws -> [UUID] {
        let due = try await admin.withTransaction { connection in
            try await TenantRepository.duePurges(on: connection, logger: admin.logger)
        }
        var purged: [UUID] = []
        for id in due {
            let done = try await admin.withTenant(id) { transaction in
                guard try await TenantRepository.purge(id, on: transaction.connection, logger: transaction.logger) else {
                    return false
                }
                try await notices.announce(.tenant, in: transaction)
                try await audit.record(
                    AuditEvent(tenantID: id, actor: actor, action: "tenant.purge", target: id.uuidString.lowercased()),
                    in: transaction)
                return true
            }
            if done { purged.append(id) }
        }
        return purged
    }

    // MARK: The shape of every change

    /// Locks the tenant, lets `modify` produce the new tenant, writes it and its audit diff.
    func change(
        _ id: UUID, by actor: String, action: String, _ modify: (Tenant) throws -> Tenant
    ) async throws -> Tenant {
        try await admin.withTenant(id) { transaction in
            let tenant = try await lockedTenant(id, in: transaction)
            guard tenant.status != .deleted else { throw TenancyError.tenantDeleted }
            let changed = try modify(tenant)
            guard changed != tenant else { return tenant }
            try await TenantRepository.update(changed, on: transaction.connection, logger: transaction.logger)
            try await Self.settingsChanged(from: tenant.settings, to: changed.settings, in: transaction)
            try await notices.announce(.tenant, in: transaction)
            try await audit.record(
                AuditEvent(
                    tenantID: id, actor: actor, action: action, target: id.uuidString.lowercased(),
                    detail: ["changes": AuditEvent.diff(before: try Self.snapshot(tenant), after: try Self.snapshot(changed))]),
                in: transaction)
            return changed
        }
    }

    /// A lifecycle step: `from` → `to`, refused (409) from any other status.
    func transition(
        _ id: UUID, from: Set<TenantStatus>, to: TenantStatus, by actor: String, action: String,
        _ stamp: (inout Tenant, Date) -> Void,
        also: ((TenantTransaction, Date) async throws -> JSONValue)? = nil
    ) async throws -> Tenant {
        try await admin.withTenant(id) { transaction in
            let tenant = try await lockedTenant(id, in: transaction)
            guard from.contains(tenant.status), tenant.status.canBecome(to) else {
                throw TenancyError.invalidTransition(LifecycleError(from: tenant.status, to: to))
            }
            let now = AuditChain.timestamp()
            var changed = tenant
            changed.status = to
            stamp(&changed, now)
            try await TenantRepository.update(changed, on: transaction.connection, logger: transaction.logger)
            try await notices.announce(.tenant, in: transaction)
            var detail: [String: JSONValue] = ["from": .string(tenant.status.rawValue), "to": .string(to.rawValue)]
            if let reason = changed.suspendReason, to == .suspended { detail["reason"] = .string(reason) }
            if let also, case .object(let extra) = try await also(transaction, now) {
                detail.merge(extra) { $1 }
            }
            try await audit.record(
                AuditEvent(tenantID: id, actor: actor, action: action, target: id.uuidString.lowercased(), detail: .object(detail)),
                in: transaction)
            return changed
        }
    }

    func lockedTenant(_ id: UUID, in transaction: TenantTransaction, lock: Bool = true) async throws -> Tenant {
        guard let tenant = try await TenantRepository.find(id, lock: lock, on: transaction.connection, logger: transaction.logger)
        else { throw TenancyError.tenantNotFound }
        return tenant
    }

    /// What a change of settings means for stored faces, in the change's transaction: turning
    /// searchable templates off empties the column (a tenant that asks for sealed templates only
    /// has no rotated copy left behind). Turning them back on fills it in as shards load.
    static func settingsChanged(from before: TenantSettings, to after: TenantSettings, in transaction: TenantTransaction) async throws {
        if before.searchableTemplates, !after.searchableTemplates {
            try await FaceRepository.clearTemplates(in: transaction)
        }
    }

    /// What an audit diff compares: everything an operator may change.
    static func snapshot(_ tenant: Tenant) throws -> JSONValue {
        [
            "name": .string(tenant.name), "slug": .string(tenant.slug), "plan": .string(tenant.plan.rawValue),
            "model": .string(tenant.model), "status": .string(tenant.status.rawValue),
            "settings": try JSONValue(encoding: tenant.settings), "quotas": try JSONValue(encoding: tenant.quotas),
        ]
    }
}
