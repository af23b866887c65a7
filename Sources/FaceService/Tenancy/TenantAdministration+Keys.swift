// An operator's (or a tenant admin's) API keys: create within the creator's own scopes and
// lifetime, list, revoke. Each change is audited and tells every node, which drop the key.

import Foundation
import Storage
import Tenancy
import WireFormats

extension TenantAdministration {
    /// A new key, made by an operator (who may grant every scope, for as long as asked).
    public func createKey(tenant id: UUID, _ request: JSONValue, by actor: String) async throws -> (key: APIKeyInfo, secret: APIKeySecret) {
        try await createKey(tenant: id, request, creatorScopes: nil, creatorExpiresAt: nil, by: actor, on: admin)
    }

    /// A new key, written as `pool`'s role; `creatorScopes` bounds what it may grant and
    /// `creatorExpiresAt` how long it may live (nil: no bound). A key made with a credential that
    /// expires must expire no later: a short-lived key never mints a permanent one.
    func createKey(
        tenant id: UUID, _ request: JSONValue, creatorScopes: Set<Scope>?, creatorExpiresAt: Date?, by actor: String,
        on pool: PostgresPool
    ) async throws -> (key: APIKeyInfo, secret: APIKeySecret) {
        var reader = FieldReader(request, allowed: ["name", "scopes", "expiresAt"])
        let name = reader.string("name", required: true, lengths: 1...200)
        var scopes = Set<Scope>()
        if let value = reader.value("scopes", required: true) {
            let names = (value.arrayValue ?? []).compactMap(\.stringValue)
            if let items = value.arrayValue, !items.isEmpty, names.count == items.count {
                let parsed = Scope.parse(names)
                if parsed.unknown.isEmpty {
                    scopes = parsed.scopes
                } else {
                    reader.fail("scopes", "invalid_value", "unknown scopes: \(parsed.unknown.joined(separator: ", "))")
                }
            } else {
                reader.fail("scopes", "wrong_type", "must be a non-empty array of scope names")
            }
        }
        var expiresAt: Date?
        if let text = reader.string("expiresAt") {
            if let date = RFC3339.date(text), date > Date() {
                expiresAt = AuditChain.timestamp(date)
            } else {
                reader.fail("expiresAt", "invalid_value", "must be an RFC 3339 time in the future, before the year 10000")
            }
        }
        if let creatorExpiresAt, reader.errors.allSatisfy({ $0.pointer != "/expiresAt" }) {
            let limit = creatorExpiresAt.formatted(.iso8601)
            if let expiresAt, expiresAt > creatorExpiresAt {
                reader.fail("expiresAt", "out_of_range", "must be no later than \(limit), when the credential creating it expires")
            } else if expiresAt == nil {
                reader.fail("expiresAt", "required", "is required: the credential creating it expires at \(limit)")
            }
        }
        do { try reader.check() } catch { throw TenancyError.invalid(error) }
        if let creatorScopes {
            let beyond = scopes.subtracting(creatorScopes)
            if !beyond.isEmpty { throw TenancyError.scopesNotGrantable(beyond.sorted()) }
        }
        guard let name else { throw TenancyError.invalid(ValidationFailure(pointer: "/name", code: "required", detail: "is required")) }
        let secret = APIKeySecret.generate()
        let info = APIKeyInfo(
            id: UUID(), name: name, prefix: secret.prefix, scopes: scopes.sorted(), createdAt: AuditChain.timestamp(),
            lastUsedAt: nil, expiresAt: expiresAt, revokedAt: nil)
        try await pool.withTenant(id) { transaction in
            let tenant = try await lockedTenant(id, in: transaction, lock: false)
            guard tenant.status != .deleted else { throw TenancyError.tenantDeleted }
            try await audit.record(
                AuditEvent(
                    tenantID: id, actor: actor, action: "key.create", target: info.id.uuidString.lowercased(),
                    detail: try JSONValue(encoding: info)), in: transaction)
            try await APIKeyRepository.insert(
                id: info.id, name: info.name, secret: secret, scopes: scopes, expiresAt: expiresAt,
                createdAt: info.createdAt, as: pool.role, in: transaction)
            try await notices.announce(.tenant, in: transaction)
        }
        return (info, secret)
    }

    public func keys(tenant id: UUID) async throws -> [APIKeyInfo] {
        try await admin.withTenant(id) { transaction in
            _ = try await lockedTenant(id, in: transaction, lock: false)
            return try await APIKeyRepository.list(in: transaction)
        }
    }

    /// Revokes a key, as an operator.
    public func revokeKey(tenant id: UUID, key: UUID, by actor: String) async throws {
        try await revokeKey(tenant: id, key: key, by: actor, on: admin)
    }

    /// Revokes a key, written as `pool`'s role.
    func revokeKey(tenant id: UUID, key: UUID, by actor: String, on pool: PostgresPool) async throws {
        try await pool.withTenant(id) { transaction in
            _ = try await lockedTenant(id, in: transaction, lock: false)
            guard try await APIKeyRepository.revoke(key, at: AuditChain.timestamp(), in: transaction) else {
                throw TenancyError.keyNotFound
            }
            try await notices.announce(.tenant, in: transaction)
            try await audit.record(
                AuditEvent(tenantID: id, actor: actor, action: "key.revoke", target: key.uuidString.lowercased()),
                in: transaction)
        }
    }
}
