// From a presented credential to the one tenant a request acts for.

import Foundation
import Logging
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

    public init(app: PostgresPool, jwt: JWTVerifier?, audit: AuditTrail) {
        self.app = app
        self.jwt = jwt
        self.audit = audit
    }

    /// The tenant context a credential grants: an API key (`efk_…`) or, when issuers are
    /// configured, a JWT. Pending and suspended tenants are refused (403) after the credential
    /// itself was accepted; a deleted tenant's credentials are simply invalid (401).
    public func authenticate(_ credential: String) async throws -> TenantContext {
        if let jwt, JWTVerifier.looksLikeJWT(credential) {
            let token: VerifiedToken
            do {
                token = try await jwt.verify(credential)
            } catch {
                await refuse(.invalidToken, tenant: AuditEvent.platform, detail: ["jwt": .string(error.rawValue)])
                throw AuthenticationFailure.invalidToken
            }
            return try await context(
                tenantID: token.tenantID, scopes: token.scopes,
                credential: .jwt(issuer: token.issuer, subject: token.subject))
        }
        guard let secret = APIKeySecret(presented: credential) else {
            await refuse(.malformedCredential, tenant: AuditEvent.platform)
            throw AuthenticationFailure.malformedCredential
        }
        guard let found = try await APIKeyRepository.authenticate(hash: secret.hash, on: app) else {
            await refuse(.unknownKey, tenant: AuditEvent.platform)
            throw AuthenticationFailure.unknownKey
        }
        switch found.keyStatus {
        case "revoked":
            await refuse(.revokedKey, tenant: found.tenantID, key: found.keyID)
            throw AuthenticationFailure.revokedKey
        case "expired":
            await refuse(.expiredKey, tenant: found.tenantID, key: found.keyID)
            throw AuthenticationFailure.expiredKey
        default:
            break
        }
        return try await context(
            tenantID: found.tenantID, scopes: Scope.parse(found.scopes).scopes,
            credential: .apiKey(id: found.keyID, prefix: secret.prefix))
    }

    private func context(tenantID: UUID, scopes: Set<Scope>, credential: TenantContext.Credential) async throws -> TenantContext {
        let tenant = try await app.withTenant(tenantID) { transaction in
            try await TenantRepository.find(tenantID, on: transaction.connection, logger: transaction.logger)
        }
        guard let tenant else {
            await refuse(.unknownTenant, tenant: AuditEvent.platform)
            throw AuthenticationFailure.unknownTenant
        }
        switch tenant.status {
        case .deleted: throw AuthenticationFailure.tenantDeleted
        case .pending: throw AccessDenied.tenantPending
        case .suspended: throw AccessDenied.tenantSuspended
        case .active: return TenantContext(tenant: tenant, credential: credential, scopes: scopes)
        }
    }

    private func refuse(_ reason: AuthenticationFailure, tenant: UUID, key: UUID? = nil, detail: [String: JSONValue] = [:]) async {
        var detail = detail
        detail["reason"] = .string(reason.rawValue)
        await audit.recordRefusal(
            AuditEvent(
                tenantID: tenant, actor: key.map { "key:\($0.uuidString.lowercased())" } ?? "anonymous",
                action: "auth.failure", outcome: .denied, detail: .object(detail)),
            pool: app)
    }

    /// Records that a credential was used to reach another tenant's host (refused with 403).
    public func recordCrossTenantAttempt(_ context: TenantContext, requestedHost: String) async {
        await audit.recordRefusal(
            AuditEvent(
                tenantID: context.tenantID, actor: context.actor, action: "access.cross_tenant", outcome: .denied,
                detail: ["host": .string(requestedHost)]),
            pool: app)
    }
}
