// Rows to attack and to count: a tenant, and one row of it in every tenant table.

import Foundation
import PostgresNIO
import Storage

extension ScratchDatabase {
    /// Tenants are created by the operator role, as the operator API will.
    public func createTenant(_ id: UUID) async throws {
        try await explained("creating a tenant") {
            try await createTenantRow(id)
        }
    }

    private func createTenantRow(_ id: UUID) async throws {
        _ = try await withPool(.admin) { admin in
            try await admin.query(
                """
                INSERT INTO tenants (id, slug, name, plan, model)
                VALUES (\(id), \("t-" + id.uuidString.prefix(8).lowercased()), 'Test tenant', 'starter', 'arcface-buffalo-l')
                """)
        }
    }
}

extension TenantTransaction {
    public func insertOneRowPerTable() async throws {
        try await explained("seeding a row in every tenant table") { try await insertRows() }
    }

    private func insertRows() async throws {
        let keyHash = ByteBuffer(bytes: (0..<32).map { _ in UInt8.random(in: .min ... .max) })
        try await query(
            """
            INSERT INTO api_keys (tenant_id, id, name, prefix, hash, scopes)
            VALUES (\(tenantID), \(UUID()), 'key', 'ef_test', \(keyHash), ARRAY['search'])
            """)
        try await query("INSERT INTO persons (tenant_id, id, wrapped_key) VALUES (\(tenantID), 'alice', '\\x01')")
        try await query(
            """
            INSERT INTO faces (tenant_id, id, person_id, sealed, template)
            VALUES (\(tenantID), \(UUID()), 'alice', '\\x02', '[0.6,0.8,0]')
            """)
        try await query(
            """
            INSERT INTO audit_events (tenant_id, actor, action, outcome, hash)
            VALUES (\(tenantID), 'test', 'seed', 'success', '\\x03')
            """)
        try await query("INSERT INTO usage (tenant_id, day, requests) VALUES (\(tenantID), current_date, 1)")
        try await query(
            "INSERT INTO face_changes (tenant_id, seq, operation, face_id, person_id) VALUES (\(tenantID), 1, 'add', \(UUID()), 'alice')")
        try await query(
            "INSERT INTO idempotent_requests (tenant_id, key, fingerprint) VALUES (\(tenantID), 'seed', \(ByteBuffer(repeating: 9, count: 32)))")
    }
}
