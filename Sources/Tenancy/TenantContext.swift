// The one tenant a request acts for: set once, from a credential, and never from the request.

import Foundation

public struct TenantContext: Sendable {
    /// How the caller proved who it is.
    public enum Credential: Sendable, Equatable {
        case apiKey(id: UUID, prefix: String)
        case jwt(issuer: String, subject: String?)
    }

    public let tenant: Tenant
    public let credential: Credential
    public let scopes: Set<Scope>
    /// When the credential stops being valid (a key's `expiresAt`, a token's `exp`); nil for a key
    /// that never expires. What it creates may not outlive it.
    public let expiresAt: Date?

    public init(tenant: Tenant, credential: Credential, scopes: Set<Scope>, expiresAt: Date? = nil) {
        self.tenant = tenant
        self.credential = credential
        self.scopes = scopes
        self.expiresAt = expiresAt
    }

    public var tenantID: UUID { tenant.id }

    public func allows(_ scope: Scope) -> Bool { scopes.contains(scope) }

    /// Who did it, as the audit trail records it.
    public var actor: String {
        switch credential {
        case .apiKey(let id, let prefix): "key:\(prefix):\(id.uuidString.lowercased())"
        case .jwt(let issuer, let subject): "jwt:\(issuer):\(subject ?? "-")"
        }
    }
}
