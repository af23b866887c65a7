// From a presented credential to the one tenant a request acts for.

import Foundation
import Logging
import PostgresNIO
import Storage
import Tenancy
import WireFormats

/// A credential that proves nothing. Every case is the same 401 on the wire: a client learns
/// nothing about which keys exist, were revoked or expired. The case goes to metrics and audit.
public enum AuthenticationFailure: String, Error, Sendable {
    case missingCredential, malformedCredential, unknownKey, revokedKey, expiredKey, invalidToken
    case unknownTenant, tenantDeleted
}

/// A valid credential that may not do this.
public enum AccessDenied: Error, Equatable, Sendable {
    case tenantPending
    case tenantSuspended
    case missingScope(Scope)
    /// The host names another tenant than the credential's.
    case hostMismatch
}

public struct Authenticator: Sendable {
    let app: PostgresPool
    let jwt: JWTVerifier?
    let audit: AuditTrail
    let cache: CredentialCache

    public init(app: PostgresPool, jwt: JWTVerifier?, audit: AuditTrail, cache: CredentialCache) {
        self.app = app
        self.jwt = jwt
        self.audit = audit
        self.cache = cache
    }

    /// The tenant context a credential grants: an API key (`efk_…`) or, when issuers are
    /// configured, a JWT. Pending and suspended tenants are refused (403) after the credential
    /// itself was accepted; a deleted tenant's credentials are simply invalid (401). Keys and
    /// tenants come from the node's cache: a request of a tenant in memory costs no round trip.
    public func authenticate(_ credential: String, now: Date = Date()) async throws -> TenantContext {
        if let jwt, JWTVerifier.looksLikeJWT(credential) {
            let token: VerifiedToken
            do {
                token = try await jwt.verify(credential, now: now)
            } catch {
                await refuse(.invalidToken, tenant: AuditEvent.platform, detail: ["jwt": .string(error.rawValue)])
                throw AuthenticationFailure.invalidToken
            }
            return try await context(of: token)
        }
        guard let secret = APIKeySecret(presented: credential) else {
            await refuse(.malformedCredential, tenant: AuditEvent.platform)
            throw AuthenticationFailure.malformedCredential
        }
        guard let found = try await cache.key(secret.hash, fetch: { try await APIKeyRepository.authenticate(hash: secret.hash, on: app) })
        else {
            await refuse(.unknownKey, tenant: AuditEvent.platform)
            throw AuthenticationFailure.unknownKey
        }
        // A cached key's expiry is checked now, not when it was read.
        let expired = found.keyStatus == "expired" || found.expiresAt.map { $0 <= now } == true
        switch found.keyStatus {
        case "revoked":
            await refuse(.revokedKey, tenant: found.tenantID, key: found.keyID)
            throw AuthenticationFailure.revokedKey
        case _ where expired:
            await refuse(.expiredKey, tenant: found.tenantID, key: found.keyID)
            throw AuthenticationFailure.expiredKey
        default:
            break
        }
        return try await context(
            tenant: try await tenant(found.tenantID), scopes: Scope.parse(found.scopes).scopes,
            credential: .apiKey(id: found.keyID, prefix: secret.prefix), expiresAt: found.expiresAt)
    }

    /// Whether `credential` is an API key this node holds, valid, from its cache: no lookup.
    public func isKnownValid(_ credential: String) -> Bool {
        guard let secret = APIKeySecret(presented: credential), let key = cache.cachedKey(secret.hash) else { return false }
        return key.keyStatus == "active" && key.expiresAt.map { $0 > Date() } != false
    }

    /// A verified token acts for the tenant it names only if its issuer may speak for that
    /// tenant; anything else is a foreign token, refused and always audited.
    private func context(of token: VerifiedToken) async throws -> TenantContext {
        let tenantID: UUID?
        switch token.tenant {
        case .id(let id): tenantID = id
        case .slug(let slug): tenantID = try await tenant(slug: slug)?.id
        }
        let tenant = try await tenantID.asyncMap { try await self.tenant($0) }
        guard let tenant, token.allowedTenants.contains(where: { $0.names(tenant) }) else {
            audit.recordRefusal(
                AuditEvent(
                    tenantID: AuditEvent.platform, actor: "jwt:\(token.issuer):\(token.subject ?? "-")", action: "access.foreign_jwt",
                    outcome: .denied, detail: ["issuer": .string(token.issuer), "tenant": .string(tenantID?.uuidString.lowercased() ?? "unknown")]), always: true)
            throw AuthenticationFailure.invalidToken
        }
        return try await context(
            tenant: tenant, scopes: token.scopes, credential: .jwt(issuer: token.issuer, subject: token.subject),
            expiresAt: token.expiresAt)
    }

    /// The tenant with this slug, from the cache (for answers given before any credential).
    public func tenant(slug: String) async throws -> Tenant? {
        let id = try await cache.tenantID(slug: slug) {
            try await TenantRepository.id(slug: slug, on: app)
        }
        return try await id.asyncMap { try await tenant($0) }
    }

    private func tenant(_ id: UUID) async throws -> Tenant? {
        try await cache.tenant(id) {
            try await app.withTenant(id) { transaction in
                try await TenantRepository.find(id, on: transaction.connection, logger: transaction.logger)
            }
        }
    }

    private func context(
        tenant: Tenant?, scopes: Set<Scope>, credential: TenantContext.Credential, expiresAt: Date?
    ) async throws -> TenantContext {
        guard let tenant else {
            await refuse(.unknownTenant, tenant: AuditEvent.platform)
            throw AuthenticationFailure.unknownTenant
        }
        switch tenant.status {
        case .deleted: throw AuthenticationFailure.tenantDeleted
        case .pending: throw AccessDenied.tenantPending
        case .suspended: throw AccessDenied.tenantSuspended
        case .active: return TenantContext(tenant: tenant, credential: credential, scopes: scopes, expiresAt: expiresAt)
        }
    }

    private func refuse(_ reason: AuthenticationFailure, tenant: UUID, key: UUID? = nil, detail: [String: JSONValue] = [:]) async {
        var detail = detail
        detail["reason"] = .string(reason.rawValue)
        audit.recordRefusal(
            AuditEvent(
                tenantID: tenant, actor: key.map { "key:\($0.uuidString.lowercased())" } ?? "anonymous",
                action: "auth.failure", outcome: .denied, detail: .object(detail)))
    }

    /// Records that a credential was used to reach another tenant's host (refused with 403).
    public func recordCrossTenantAttempt(_ context: TenantContext, requestedHost: String) async {
        audit.recordRefusal(
            AuditEvent(
                tenantID: context.tenantID, actor: context.actor, action: "access.cross_tenant", outcome: .denied,
                detail: ["host": .string(requestedHost)]), always: true)
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
