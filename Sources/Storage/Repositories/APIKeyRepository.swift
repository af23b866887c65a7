// API keys in PostgreSQL: found by hash before the tenant is known, managed within it after.

import Foundation
import Logging
import NIOCore
import PostgresNIO
import Tenancy

public enum APIKeyRepository {
    /// What `authenticate_api_key` tells about a key: enough to decide, nothing more.
    public struct Lookup: Sendable, Equatable {
        public var tenantID: UUID
        public var keyID: UUID
        public var scopes: [String]
        /// `active`, `revoked` or `expired`.
        public var keyStatus: String
        public var tenantStatus: TenantStatus
        public var expiresAt: Date?
    }

    /// Finds a key by the SHA-256 of its text, with no tenant set (the one SECURITY DEFINER way).
    public static func authenticate(hash: [UInt8], on pool: PostgresPool, logger: Logger? = nil) async throws -> Lookup? {
        let rows = try await pool.query(
            """
            SELECT tenant_id, key_id, scopes, key_status, tenant_status, expires_at
              FROM authenticate_api_key(\(ByteBuffer(bytes: hash)))
            """, logger: logger)
        guard let row = rows.first else { return nil }
        let (tenant, key, scopes, keyStatus, tenantStatus, expiresAt) =
            try row.decode((UUID, UUID, [String], String, String, Date?).self)
        return Lookup(
            tenantID: tenant, keyID: key, scopes: scopes, keyStatus: keyStatus,
            tenantStatus: TenantStatus(rawValue: tenantStatus) ?? .suspended, expiresAt: expiresAt)
    }

    /// Stores a new key. The operator role may not insert keys itself: as `.admin`, the key goes
    /// through `operator_create_key`, which requires its audit event written earlier in the same
    /// transaction. The data plane (`.app`) inserts within its own tenant.
    public static func insert(
        id: UUID, name: String, secret: APIKeySecret, scopes: Set<Scope>, expiresAt: Date?, createdAt: Date,
        as role: DatabaseRole, in transaction: TenantTransaction
    ) async throws {
        let hash = ByteBuffer(bytes: secret.hash)
        let scopes = scopes.map(\.rawValue).sorted()
        if role == .admin {
            try await transaction.run(
                """
                SELECT operator_create_key(\(transaction.tenantID), \(id), \(name), \(secret.prefix), \(hash), \(scopes),
                                           \(expiresAt), \(createdAt))
                """)
        } else {
            try await transaction.query(
                """
                INSERT INTO api_keys (tenant_id, id, name, prefix, hash, scopes, expires_at, created_at)
                VALUES (\(transaction.tenantID), \(id), \(name), \(secret.prefix), \(hash), \(scopes), \(expiresAt), \(createdAt))
                """)
        }
    }

    public static func list(in transaction: TenantTransaction) async throws -> [APIKeyInfo] {
        try await decode(
            transaction.query(
                """
                SELECT id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at
                  FROM api_keys WHERE tenant_id = \(transaction.tenantID) ORDER BY created_at, id
                """))
    }

    public static func find(_ id: UUID, in transaction: TenantTransaction) async throws -> APIKeyInfo? {
        try await decode(
            transaction.query(
                """
                SELECT id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at
                  FROM api_keys WHERE tenant_id = \(transaction.tenantID) AND id = \(id)
                """)
        ).first
    }

    /// Revokes one key; false when the tenant has no such key or it was already revoked.
    public static func revoke(_ id: UUID, at date: Date, in transaction: TenantTransaction) async throws -> Bool {
        try await !transaction.query(
            """
            UPDATE api_keys SET revoked_at = \(date)
             WHERE tenant_id = \(transaction.tenantID) AND id = \(id) AND revoked_at IS NULL RETURNING id
            """
        ).collect().isEmpty
    }

    /// Revokes every key of the tenant at once (deletion); returns how many were live.
    public static func revokeAll(at date: Date, in transaction: TenantTransaction) async throws -> Int {
        try await transaction.query(
            """
            UPDATE api_keys SET revoked_at = \(date)
             WHERE tenant_id = \(transaction.tenantID) AND revoked_at IS NULL RETURNING id
            """
        ).collect().count
    }

    /// Records that keys were used; written in batches, not once per request.
    public static func touch(_ ids: [UUID], at date: Date, in transaction: TenantTransaction) async throws {
        try await transaction.query(
            """
            UPDATE api_keys SET last_used_at = \(date)
             WHERE tenant_id = \(transaction.tenantID) AND id = ANY(\(ids))
               AND (last_used_at IS NULL OR last_used_at < \(date))
            """)
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [APIKeyInfo] {
        var keys: [APIKeyInfo] = []
        for try await (id, name, prefix, scopes, created, lastUsed, expires, revoked)
            in rows.decode((UUID, String, String, [String], Date, Date?, Date?, Date?).self)
        {
            keys.append(
                APIKeyInfo(
                    id: id, name: name, prefix: prefix, scopes: scopes.compactMap(Scope.init(rawValue:)).sorted(),
                    createdAt: created, lastUsedAt: lastUsed, expiresAt: expires, revokedAt: revoked))
        }
        return keys
    }
}
