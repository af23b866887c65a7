// The database's own fence between tenants, attacked from the runtime roles. Every test here
// runs against the real PostgreSQL with the real migrations, as `enface_app` unless it says not.

import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

/// Two tenants with a row in every tenant table, shared by the suite (read-only for it: tests
/// that write use a fresh tenant or assert that nothing changed).
struct TwoTenants: Sendable {
    let a: UUID
    let b: UUID

    /// Tables holding tenant data, with the column that names the tenant.
    static let tables: [(name: String, tenantColumn: String)] = [
        ("tenants", "id"), ("api_keys", "tenant_id"), ("persons", "tenant_id"),
        ("faces", "tenant_id"), ("audit_events", "tenant_id"), ("usage", "tenant_id"), ("face_changes", "tenant_id"),
        ("idempotent_requests", "tenant_id"),
    ]

    static func seed(in database: ScratchDatabase) async throws -> TwoTenants {
        let tenants = TwoTenants(a: UUID(), b: UUID())
        for tenant in [tenants.a, tenants.b] {
            try await database.createTenant(tenant)
            try await database.withPool(.app) { app in
                try await app.withTenant(tenant) { tx in
                    try await tx.insertOneRowPerTable()
                }
            }
        }
        return tenants
    }
}

/// Runs `body` and expects PostgreSQL to refuse it with SQLSTATE `state`.
func expectRefusal(
    _ state: String = "42501", sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected SQLSTATE \(state), but the statement succeeded", sourceLocation: sourceLocation)
    } catch let error as PSQLError {
        #expect(error.serverInfo?[.sqlState] == state, "\(error.serverInfo?[.message] ?? "")", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected SQLSTATE \(state), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Rows visible in every tenant table, by table name.
func rowCounts(on connection: PostgresConnection) async throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for table in TwoTenants.tables {
        counts[table.name] = try await count(table.name, on: connection)
    }
    return counts
}

func count(_ table: String, on connection: PostgresConnection) async throws -> Int {
    try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: TestEnvironment.logger)
        .collect().first!.decode(Int.self)
}

@Suite(.scratchDatabase)
struct RowLevelSecurityTests {
    @Test func aTenantSeesOnlyItsOwnRowsInEveryTable() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            for tenant in [tenants.a, tenants.b] {
                try await app.withTenant(tenant) { tx in
                    for table in TwoTenants.tables {
                        let rows = try await tx.query(
                            PostgresQuery(unsafeSQL: "SELECT DISTINCT \(table.tenantColumn) FROM \(table.name)")
                        ).collect().map { try $0.decode(UUID.self) }
                        #expect(rows == [tenant], "\(table.name)")
                    }
                }
            }
        }
    }

    @Test func withNoTenantSetEveryTableIsEmpty() async throws {
        let database = try ScratchDatabase.required()
        _ = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let counts = try await app.withTransaction { connection in try await rowCounts(on: connection) }
            #expect(counts.count == TwoTenants.tables.count && counts.values.allSatisfy { $0 == 0 }, "\(counts)")
        }
    }

    @Test func anEmptyTenantSettingIsTheSameAsNone() async throws {
        let database = try ScratchDatabase.required()
        _ = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let counts = try await app.withTransaction { connection in
                try await connection.query("SELECT set_config('app.tenant_id', '', true)", logger: TestEnvironment.logger)
                return try await rowCounts(on: connection)
            }
            #expect(counts.values.allSatisfy { $0 == 0 }, "\(counts)")
        }
    }

    @Test func aTenantThatDoesNotExistSeesNoRows() async throws {
        let database = try ScratchDatabase.required()
        _ = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let counts = try await app.withTenant(UUID()) { tx in try await rowCounts(on: tx.connection) }
            #expect(counts.count == TwoTenants.tables.count && counts.values.allSatisfy { $0 == 0 }, "\(counts)")
        }
    }

    @Test func insertingIntoAnotherTenantIsRefusedInEveryTable() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let b = tenants.b
            let statements: [PostgresQuery] = [
                "INSERT INTO api_keys (tenant_id, id, name, prefix, hash, scopes) VALUES (\(b), \(UUID()), 'k', 'p', \(ByteBuffer(repeating: 7, count: 32)), '{}')",
                "INSERT INTO persons (tenant_id, id, wrapped_key) VALUES (\(b), 'mallory', '\\x00')",
                "INSERT INTO faces (tenant_id, id, person_id, sealed) VALUES (\(b), \(UUID()), 'alice', '\\x00')",
                "INSERT INTO audit_events (tenant_id, actor, action, outcome, hash) VALUES (\(b), 'x', 'forged', 'success', '\\x00')",
                "INSERT INTO usage (tenant_id, day) VALUES (\(b), current_date - 1)",
                "INSERT INTO face_changes (tenant_id, seq, operation, person_id) VALUES (\(b), 99, 'remove_person', 'alice')",
                "INSERT INTO idempotent_requests (tenant_id, key, fingerprint) VALUES (\(b), 'forged', \(ByteBuffer(repeating: 1, count: 32)))",
                "INSERT INTO tenants (id, slug, name, plan, model) VALUES (\(UUID()), 'evil-corp', 'x', 'starter', 'm')",
            ]
            for statement in statements {
                await expectRefusal {
                    try await app.withTenant(tenants.a) { tx in _ = try await tx.query(statement) }
                }
            }
        }
    }

    @Test func updatingOrDeletingAnotherTenantsRowsChangesNothing() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let b = tenants.b
            try await app.withTenant(tenants.a) { tx in
                let statements: [PostgresQuery] = [
                    "UPDATE faces SET sealed = '\\xff' WHERE tenant_id = \(b) RETURNING 1",
                    "UPDATE persons SET face_count = 99 WHERE tenant_id = \(b) RETURNING 1",
                    "UPDATE usage SET requests = 99 WHERE tenant_id = \(b) RETURNING 1",
                    "UPDATE tenants SET settings = '{\"matchThreshold\": 0}' WHERE id = \(b) RETURNING 1",
                    "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = \(b) RETURNING 1",
                    "DELETE FROM faces WHERE tenant_id = \(b) RETURNING 1",
                    "DELETE FROM persons WHERE tenant_id = \(b) RETURNING 1",
                    "UPDATE idempotent_requests SET status = 201, body = '\\x7b7d' WHERE tenant_id = \(b) RETURNING 1",
                    "DELETE FROM idempotent_requests WHERE tenant_id = \(b) RETURNING 1",
                ]
                for statement in statements {
                    let rows = try await tx.query(statement).collect()
                    #expect(rows.isEmpty, "\(statement.sql)")
                }
            }
            try await app.withTenant(b) { tx in
                #expect(try await count("faces", on: tx.connection) == 1)
                #expect(try await count("persons", on: tx.connection) == 1)
                let sealed = try await tx.query("SELECT sealed FROM faces").collect().first!.decode(ByteBuffer.self)
                #expect(sealed == ByteBuffer(bytes: [2]))
                let revoked = try await tx.query("SELECT count(*)::int FROM api_keys WHERE revoked_at IS NOT NULL")
                    .collect().first!.decode(Int.self)
                #expect(revoked == 0)
            }
        }
    }

    @Test func movingARowToAnotherTenantIsRefused() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.app) { app in
            let b = tenants.b
            let statements: [PostgresQuery] = [
                "UPDATE faces SET tenant_id = \(b)",
                "UPDATE persons SET tenant_id = \(b)",
                "UPDATE usage SET tenant_id = \(b)",
                "UPDATE api_keys SET tenant_id = \(b)",
                "UPDATE tenants SET id = \(b)",
            ]
            for statement in statements {
                await expectRefusal {
                    try await app.withTenant(tenants.a) { tx in _ = try await tx.query(statement) }
                }
            }
        }
    }

    @Test func theAppRoleCannotLowerTheFence() async throws {
        let database = try ScratchDatabase.required()
        _ = try await TwoTenants.seed(in: database)
        let attacks = [
            "ALTER TABLE faces DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE faces NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY tenant_isolation ON faces",
            "CREATE POLICY open ON faces USING (true)",
            "SET ROLE enface_owner",
            "SET ROLE enface_admin",
            "TRUNCATE faces",
            "TRUNCATE audit_events",
            "UPDATE audit_events SET outcome = 'denied'",
            "DELETE FROM audit_events",
            "ALTER FUNCTION authenticate_api_key(bytea) SECURITY INVOKER",
            "CREATE TABLE sneaky (tenant_id uuid)",
        ]
        for attack in attacks {
            await expectRefusal {
                try await database.withConnection(.app) { connection in
                    _ = try await connection.query(PostgresQuery(unsafeSQL: attack), logger: TestEnvironment.logger)
                }
            }
        }
    }

    @Test func turningRowSecurityOffMakesReadsFailNotSucceed() async throws {
        let database = try ScratchDatabase.required()
        _ = try await TwoTenants.seed(in: database)
        for table in TwoTenants.tables {
            await expectRefusal {
                try await database.withConnection(.app) { connection in
                    try await connection.query("SET row_security = off", logger: TestEnvironment.logger)
                    _ = try await count(table.name, on: connection)
                }
            }
        }
    }

    @Test func theOperatorRoleCannotTouchPersonsOrFaces() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.admin) { admin in
            for statement: PostgresQuery in [
                "SELECT * FROM faces", "SELECT * FROM persons", "SELECT count(*) FROM faces", "SELECT * FROM idempotent_requests",
                "DELETE FROM faces", "UPDATE persons SET face_count = 0",
                "INSERT INTO persons (tenant_id, id, wrapped_key) VALUES (\(tenants.a), 'x', '\\x00')",
            ] {
                await expectRefusal {
                    // Not even with the tenant set: there is no admin bypass.
                    try await admin.withTenant(tenants.a) { tx in _ = try await tx.query(statement) }
                }
            }
        }
    }

    @Test func theOperatorRoleSeesEveryTenantAndTheAuditTrailButNoKeysWithoutNamingIt() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        try await database.withPool(.admin) { admin in
            let listed = try await admin.withTransaction { connection in
                try await connection.query("SELECT id FROM tenants", logger: TestEnvironment.logger)
                    .collect().map { try $0.decode(UUID.self) }
            }
            #expect(Set(listed).isSuperset(of: [tenants.a, tenants.b]))
            let unscoped = try await admin.withTransaction { connection in
                [try await count("api_keys", on: connection), try await count("audit_events", on: connection)]
            }
            // The audit trail is the operator's to read across tenants (GET /admin/v1/audit);
            // keys are not.
            #expect(unscoped[0] == 0 && unscoped[1] > 0)
            let keysOfA = try await admin.withTenant(tenants.a) { tx in try await count("api_keys", on: tx.connection) }
            #expect(keysOfA == 1)
        }
    }

    @Test func aPooledConnectionNeverCarriesATenantIntoTheNextTransaction() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        // One connection only, so the second transaction must reuse the first one's connection.
        try await database.withPool(.app, maximumConnections: 1) { app in
            let backendOfA = try await app.withTenant(tenants.a) { tx in
                #expect(try await count("faces", on: tx.connection) == 1)
                return try await tx.query("SELECT pg_backend_pid()").collect().first!.decode(Int32.self)
            }
            try await app.withTransaction { connection in
                let backend = try await connection.query("SELECT pg_backend_pid()", logger: TestEnvironment.logger)
                    .collect().first!.decode(Int32.self)
                #expect(backend == backendOfA)
                let setting = try await connection.query(
                    "SELECT coalesce(current_setting('app.tenant_id', true), '')", logger: TestEnvironment.logger
                ).collect().first!.decode(String.self)
                #expect(setting == "")
                for table in TwoTenants.tables {
                    #expect(try await count(table.name, on: connection) == 0, "\(table.name)")
                }
            }
        }
    }

    @Test func aFailedTransactionLeavesNoTenantBehindEither() async throws {
        let database = try ScratchDatabase.required()
        let tenants = try await TwoTenants.seed(in: database)
        struct Abort: Error {}
        try await database.withPool(.app, maximumConnections: 1) { app in
            await #expect(throws: Abort.self) {
                try await app.withTenant(tenants.a) { tx in
                    try await tx.query("DELETE FROM faces")
                    throw Abort()
                }
            }
            let visibleWithoutTenant = try await app.withTransaction { connection in
                try await count("faces", on: connection)
            }
            #expect(visibleWithoutTenant == 0)
            let visibleToA = try await app.withTenant(tenants.a) { tx in
                try await count("faces", on: tx.connection)
            }
            #expect(visibleToA == 1, "the delete was rolled back")
        }
    }

    @Test func theKeyLookupFindsATenantByHashAlone() async throws {
        let database = try ScratchDatabase.required()
        let tenant = UUID()
        try await database.createTenant(tenant)
        let hash = ByteBuffer(bytes: (0..<32).map { UInt8($0) })
        try await database.withPool(.app) { app in
            try await app.withTenant(tenant) { tx in
                try await tx.query(
                    """
                    INSERT INTO api_keys (tenant_id, id, name, prefix, hash, scopes)
                    VALUES (\(tenant), \(UUID()), 'k', 'ef_x', \(hash), ARRAY['search', 'verify'])
                    """)
            }
            // No tenant set: the SECURITY DEFINER function is the only way in, and it answers
            // only for the exact hash.
            try await app.withTransaction { connection in
                let rows = try await connection.query(
                    "SELECT tenant_id, scopes, key_status, tenant_status FROM authenticate_api_key(\(hash))",
                    logger: TestEnvironment.logger
                ).collect()
                #expect(rows.count == 1)
                let (found, scopes, keyStatus, tenantStatus) = try rows[0].decode((UUID, [String], String, String).self)
                #expect(found == tenant)
                #expect(scopes == ["search", "verify"])
                #expect(keyStatus == "active")
                #expect(tenantStatus == "pending")
                let other = try await connection.query(
                    "SELECT * FROM authenticate_api_key(\(ByteBuffer(repeating: 9, count: 32)))",
                    logger: TestEnvironment.logger
                ).collect()
                #expect(other.isEmpty)
                #expect(try await count("api_keys", on: connection) == 0)
            }
        }
    }

    @Test func onlyTheAppRoleMayCallTheKeyLookup() async throws {
        let database = try ScratchDatabase.required()
        await expectRefusal {
            try await database.withConnection(.admin) { connection in
                _ = try await connection.query(
                    "SELECT * FROM authenticate_api_key(\(ByteBuffer(repeating: 0, count: 32)))",
                    logger: TestEnvironment.logger)
            }
        }
    }

    /// An operator database login cannot make a key without its audit record, nor pull a
    /// tenant's purge forward: the database refuses, whatever SQL is typed.
    @Test func theOperatorRoleMakesKeysOnlyWithTheirRecordAndCannotMoveAPurge() async throws {
        let database = try ScratchDatabase.required()
        let tenant = UUID()
        try await database.createTenant(tenant)
        let hash = ByteBuffer(bytes: (0..<32).map { UInt8($0 &* 7) })
        try await database.withPool(.admin) { admin in
            // No direct insert at all.
            await expectRefusal {
                try await admin.withTenant(tenant) { tx in
                    _ = try await tx.query(
                        "INSERT INTO api_keys (tenant_id, id, name, prefix, hash, scopes) VALUES (\(tenant), \(UUID()), 'k', 'efk_x', \(hash), '{}')")
                }
            }
            // The function alone refuses a key whose record is not in the transaction.
            await expectRefusal {
                try await admin.withTenant(tenant) { tx in
                    // Rows read: a SELECT reports its function's error only as they are.
                    _ = try await tx.query(
                        "SELECT operator_create_key(\(tenant), \(UUID()), 'k', 'efk_x', \(hash), ARRAY['search'], NULL, now())"
                    ).collect()
                }
            }
            // purge_after is the lifecycle's to set, once: not on a live tenant, not moved later.
            await expectRefusal("23514") {
                try await admin.withTenant(tenant) { tx in
                    _ = try await tx.query("UPDATE tenants SET purge_after = now() WHERE id = \(tenant)")
                }
            }
        }
    }
}
