// Tenants in PostgreSQL. The operator role sees every tenant; the app role only its own.

import Foundation
import Logging
import NIOCore
import PostgresNIO
import Tenancy

public enum TenantRepository {
    static let columns = """
        id, slug, name, status, plan, model, settings::text, quotas::text, created_at, activated_at,
        suspended_at, suspend_reason, deleted_at, purge_after, purged_at, key_version
        """

    /// Inserts a new tenant with its wrapped key. A taken slug throws `StorageConflict.slugTaken`.
    public static func insert(
        _ tenant: Tenant, wrappedKey: Data, keyVersion: Int, on connection: PostgresConnection, logger: Logger
    ) async throws {
        do {
            try await connection.query(
                """
                INSERT INTO tenants (id, slug, name, status, plan, model, settings, quotas, wrapped_key, key_version, created_at)
                VALUES (\(tenant.id), \(tenant.slug), \(tenant.name), \(tenant.status.rawValue), \(tenant.plan.rawValue),
                        \(tenant.model), \(try json(tenant.settings))::jsonb, \(try json(tenant.quotas))::jsonb,
                        \(ByteBuffer(bytes: wrappedKey)), \(keyVersion), \(tenant.createdAt))
                """, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StorageConflict.slugTaken(tenant.slug)
        }
    }

    /// The tenant with `id`; `lock` holds its row until the transaction ends.
    public static func find(
        _ id: UUID, lock: Bool = false, on connection: PostgresConnection, logger: Logger
    ) async throws -> Tenant? {
        let query = PostgresQuery(
            unsafeSQL: "SELECT \(columns) FROM tenants WHERE id = $1" + (lock ? " FOR UPDATE" : ""),
            binds: try PostgresBindings(binding: id))
        return try await decode(connection.query(query, logger: logger)).first
    }

    public static func find(slug: String, on connection: PostgresConnection, logger: Logger) async throws -> Tenant? {
        let query = PostgresQuery(unsafeSQL: "SELECT \(columns) FROM tenants WHERE slug = $1", binds: try PostgresBindings(binding: slug))
        return try await decode(connection.query(query, logger: logger)).first
    }

    /// A page of tenants in creation order, after `cursor`, optionally of one status.
    public static func list(
        status: TenantStatus?, after cursor: TenantCursor?, limit: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> [Tenant] {
        var sql = "SELECT \(columns) FROM tenants WHERE true"
        var bindings = PostgresBindings()
        if let status {
            bindings.append(status.rawValue)
            sql += " AND status = $\(bindings.count)"
        }
        if let cursor {
            bindings.append(ExactTimestamp(cursor.createdAt))
            bindings.append(cursor.id)
            sql += " AND (created_at, id) > ($\(bindings.count - 1), $\(bindings.count))"
        }
        bindings.append(limit)
        sql += " ORDER BY created_at, id LIMIT $\(bindings.count)"
        return try await decode(connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger))
    }

    /// Writes what may change of a tenant: name, plan, settings, quotas, lifecycle.
    public static func update(_ tenant: Tenant, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE tenants
               SET name = \(tenant.name), plan = \(tenant.plan.rawValue), status = \(tenant.status.rawValue),
                   settings = \(try json(tenant.settings))::jsonb, quotas = \(try json(tenant.quotas))::jsonb,
                   activated_at = \(tenant.activatedAt), suspended_at = \(tenant.suspendedAt),
                   suspend_reason = \(tenant.suspendReason), deleted_at = \(tenant.deletedAt),
                   purge_after = \(tenant.purgeAfter)
             WHERE id = \(tenant.id)
            """, logger: logger)
    }

    /// Only the settings: what the app role may change (a tenant's own administrators).
    public static func updateSettings(_ tenant: Tenant, in transaction: TenantTransaction) async throws {
        try await transaction.query(
            """
            UPDATE tenants SET settings = \(try json(tenant.settings))::jsonb
             WHERE id = \(transaction.tenantID) AND id = \(tenant.id)
            """)
    }

    /// The tenant key wrapped by the master key, and the master key version that wrapped it.
    public static func wrappedKey(
        of id: UUID, on connection: PostgresConnection, logger: Logger
    ) async throws -> (key: Data, version: Int)? {
        let rows = try await connection.query(
            "SELECT wrapped_key, key_version FROM tenants WHERE id = \(id) AND wrapped_key IS NOT NULL", logger: logger
        ).collect()
        guard let row = rows.first else { return nil }
        let (buffer, version) = try row.decode((ByteBuffer, Int).self)
        return (Data(buffer.readableBytesView), version)
    }

    /// Every stored tenant key, its row locked until the transaction ends (a master key rotation).
    public static func lockWrappedKeys(on connection: PostgresConnection, logger: Logger) async throws -> [(id: UUID, key: Data)] {
        try await connection.query(
            "SELECT id, wrapped_key FROM tenants WHERE wrapped_key IS NOT NULL ORDER BY id FOR UPDATE", logger: logger
        ).collect().map { row in
            let (id, wrapped) = try row.decode((UUID, ByteBuffer).self)
            return (id, Data(wrapped.readableBytesView))
        }
    }

    /// Stores the same tenant key wrapped by a new master key, whose version counts up by one.
    public static func rewrapKey(of id: UUID, as wrapped: Data, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE tenants SET wrapped_key = \(ByteBuffer(bytes: wrapped)), key_version = key_version + 1 WHERE id = \(id)",
            logger: logger)
    }

    /// Stores a new tenant key (a re-key); returns the new `key_version`.
    public static func replaceKey(of id: UUID, with wrapped: Data, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        try await connection.query(
            """
            UPDATE tenants SET wrapped_key = \(ByteBuffer(bytes: wrapped)), key_version = key_version + 1
             WHERE id = \(id) RETURNING key_version
            """, logger: logger
        ).collect().first.orThrow(RepositoryError.noRow("tenant \(id)")).decode(Int.self)
    }

    /// Tenants deleted whose grace period is over and not yet purged.
    public static func duePurges(on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        try await connection.query(
            "SELECT id FROM tenants WHERE status = 'deleted' AND purged_at IS NULL AND purge_after <= now() ORDER BY purge_after",
            logger: logger
        ).collect().map { try $0.decode(UUID.self) }
    }

    /// Runs the purge function (operator role); false when the tenant is not due.
    public static func purge(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("SELECT purge_tenant(\(id))", logger: logger).collect().first?.decode(Bool.self) ?? false
    }

    /// The id of the tenant with this slug, for any role: `tenant_id_for_slug` answers the id
    /// alone (SECURITY DEFINER), so the data plane can name a tenant it may not read.
    public static func id(slug: String, on pool: PostgresPool) async throws -> UUID? {
        try await pool.query("SELECT tenant_id_for_slug(\(slug))").first?.decode(UUID?.self)
    }

    /// Holds provisioning's lock until the transaction ends: one `enface tenant apply` at a
    /// time, and a second plans against what the first did.
    public static func lockProvisioning(on connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended('enface.provisioning', 0))", logger: logger)
            .collect()
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [Tenant] {
        var tenants: [Tenant] = []
        for try await row in rows {
            let (
                id, slug, name, status, plan, model, settings, quotas, createdAt, activatedAt,
                suspendedAt, suspendReason, deletedAt, purgeAfter, purgedAt, keyVersion
            ) = try row.decode(
                (UUID, String, String, String, String, String, String, String, Date, Date?, Date?, String?, Date?, Date?, Date?, Int).self)
            tenants.append(
                Tenant(
                    id: id, slug: slug, name: name, status: TenantStatus(rawValue: status) ?? .suspended,
                    plan: Plan(rawValue: plan) ?? .starter, model: model,
                    settings: try JSONDecoder().decode(TenantSettings.self, from: Data(settings.utf8)),
                    quotas: try JSONDecoder().decode(Quotas.self, from: Data(quotas.utf8)),
                    createdAt: createdAt, activatedAt: activatedAt, suspendedAt: suspendedAt,
                    suspendReason: suspendReason, deletedAt: deletedAt, purgeAfter: purgeAfter, purgedAt: purgedAt,
                    keyVersion: keyVersion))
        }
        return tenants
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A write refused because of another row.
public enum StorageConflict: Error, Equatable, Sendable {
    case slugTaken(String)
}
