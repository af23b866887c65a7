// What a tenant's own administrators (scope tenant:admin) do: read their tenant, tune what
// their plan lets them, manage their keys.

import Foundation
import Storage
import Tenancy
import WireFormats

/// Runs as `enface_app`, inside the caller's tenant: there is no way to name another tenant.
public struct TenantSelfService: Sendable {
    let app: PostgresPool
    let administration: TenantAdministration
    let audit: AuditTrail

    public init(app: PostgresPool, administration: TenantAdministration, audit: AuditTrail) {
        self.app = app
        self.administration = administration
        self.audit = audit
    }

    /// Changes settings within the plan's self-service list and ceilings.
    public func updateSettings(_ patch: JSONValue, context: TenantContext) async throws -> Tenant {
        try await app.withTenant(context.tenantID) { transaction in
            guard let tenant = try await TenantRepository.find(
                context.tenantID, lock: true, on: transaction.connection, logger: transaction.logger)
            else { throw TenancyError.tenantNotFound }
            let changed = try updated(tenant, with: patch)
            guard changed != tenant else { return tenant }
            try await TenantRepository.updateSettings(changed, in: transaction)
            try await TenantAdministration.settingsChanged(from: tenant.settings, to: changed.settings, in: transaction)
            try await administration.notices.announce(.tenant, in: transaction)
            try await audit.record(
                AuditEvent(
                    tenantID: tenant.id, actor: context.actor, action: "tenant.settings.update",
                    target: tenant.id.uuidString.lowercased(),
                    detail: [
                        "changes": AuditEvent.diff(
                            before: try JSONValue(encoding: tenant.settings), after: try JSONValue(encoding: changed.settings))
                    ]), in: transaction)
            return changed
        }
    }

    /// What `updateSettings` would make of the tenant, with nothing written (`?dryRun=true`).
    public func previewSettings(_ patch: JSONValue, context: TenantContext) async throws -> (before: Tenant, after: Tenant) {
        let tenant = try await app.withTenant(context.tenantID) { transaction in
            try await TenantRepository.find(context.tenantID, on: transaction.connection, logger: transaction.logger)
        }
        guard let tenant else { throw TenancyError.tenantNotFound }
        return (tenant, try updated(tenant, with: patch))
    }

    /// The tenant with `patch` applied to its settings, within its plan's list and ceilings.
    func updated(_ tenant: Tenant, with patch: JSONValue) throws(TenancyError) -> Tenant {
        var changed = tenant
        do throws(ValidationFailure) {
            changed.settings = try tenant.settings.applying(
                patch, pointer: "", allowed: tenant.plan.selfServiceSettings, limits: tenant.plan.selfServiceLimits)
            try administration.models.checkRates(changed.settings, model: tenant.model, pointer: "")
        } catch {
            throw TenancyError.invalid(error)
        }
        return changed
    }

    public func keys(context: TenantContext) async throws -> [APIKeyInfo] {
        try await app.withTenant(context.tenantID) { transaction in try await APIKeyRepository.list(in: transaction) }
    }

    /// A new key of this tenant, with at most the scopes of the credential creating it.
    public func createKey(_ request: JSONValue, context: TenantContext) async throws -> (key: APIKeyInfo, secret: APIKeySecret) {
        try await administration.createKey(
            tenant: context.tenantID, request, creatorScopes: context.scopes, creatorExpiresAt: context.expiresAt,
            by: context.actor, on: app)
    }

    public func revokeKey(_ key: UUID, context: TenantContext) async throws {
        try await administration.revokeKey(tenant: context.tenantID, key: key, by: context.actor, on: app)
    }
}
