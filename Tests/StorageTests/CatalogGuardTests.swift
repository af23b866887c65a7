// Guards that fail the build when a future migration forgets the rules: every tenant table
// fenced, every index usable per tenant, no runtime role with a way around the fence.

import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct CatalogGuardTests {
    /// Tables in `public` that have a `tenant_id` column.
    static let tenantTables = """
        SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
           AND EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
        """

    @Test func everyTenantTableHasForcedRowLevelSecurityAndAPolicy() async throws {
        let rows = try await ScratchDatabase.required().withConnection(.owner) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: """
                    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                           (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid)
                      FROM pg_class c WHERE c.oid IN (SELECT oid FROM (\(Self.tenantTables)) t)
                         OR c.oid = 'public.tenants'::regclass
                    """), logger: TestEnvironment.logger
            ).collect().map { try $0.decode((String, Bool, Bool, Int).self) }
        }
        #expect(Set(rows.map(\.0)).isSuperset(of: ["tenants", "api_keys", "persons", "faces", "audit_events", "usage"]))
        for (table, enabled, forced, policies) in rows {
            #expect(enabled, "\(table): row-level security is not enabled")
            #expect(forced, "\(table): row-level security is not forced")
            #expect(policies > 0, "\(table): has no policy")
        }
    }

    @Test func everyIndexOfATenantTableLeadsWithTenantID() async throws {
        let rows = try await ScratchDatabase.required().withConnection(.owner) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: """
                    SELECT c.relname, i.relname, coalesce(a.attname, '(expression)')
                      FROM pg_index x
                      JOIN pg_class c ON c.oid = x.indrelid
                      JOIN pg_class i ON i.oid = x.indexrelid
                      LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
                     WHERE c.oid IN (SELECT oid FROM (\(Self.tenantTables)) t)
                    """), logger: TestEnvironment.logger
            ).collect().map { try $0.decode((String, String, String).self) }
        }
        #expect(rows.count >= 6)
        // A key is found by its hash before its tenant is known (DESIGN.md's exception), and a
        // probed face id is looked up across tenants, as a boolean, to audit the probe (0005).
        let exceptions: Set = ["api_keys_hash_key", "faces_id"]
        for (table, index, firstColumn) in rows where !exceptions.contains(index) {
            #expect(firstColumn == "tenant_id", "\(table).\(index) leads with \(firstColumn)")
        }
    }

    @Test func noRuntimeRoleIsSuperuserBypassesRLSOrOwnsAnything() async throws {
        let database = try ScratchDatabase.required()
        let (roles, owned) = try await database.withConnection(.owner) { connection in
            let roles = try await connection.query(
                """
                SELECT rolname, rolsuper, rolbypassrls, rolcreaterole
                  FROM pg_roles WHERE rolname IN ('enface_owner', 'enface_app', 'enface_admin')
                """, logger: TestEnvironment.logger
            ).collect().map { try $0.decode((String, Bool, Bool, Bool).self) }
            let owned = try await connection.query(
                """
                SELECT c.relname || ' owned by ' || pg_get_userbyid(c.relowner)
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) IN ('enface_app', 'enface_admin')
                UNION ALL
                SELECT p.proname || ' owned by ' || pg_get_userbyid(p.proowner)
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) IN ('enface_app', 'enface_admin')
                """, logger: TestEnvironment.logger
            ).collect().map { try $0.decode(String.self) }
            return (roles, owned)
        }
        #expect(roles.count == 3)
        for (role, superuser, bypassRLS, createRole) in roles {
            #expect(!superuser, "\(role) is a superuser")
            #expect(!bypassRLS, "\(role) bypasses row-level security")
            #expect(!createRole, "\(role) can create roles")
        }
        #expect(owned.isEmpty, "\(owned)")
    }

    @Test func everySecurityDefinerFunctionPinsItsSearchPath() async throws {
        let functions = try await ScratchDatabase.required().withConnection(.owner) { connection in
            try await connection.query(
                """
                SELECT p.proname, coalesce(array_to_string(p.proconfig, ','), '')
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'public' AND p.prosecdef
                """, logger: TestEnvironment.logger
            ).collect().map { try $0.decode((String, String).self) }
        }
        #expect(functions.map(\.0).contains("authenticate_api_key"))
        for (name, configuration) in functions {
            #expect(configuration.contains(#"search_path="""#), "\(name) runs with the caller's search_path")
        }
    }

    @Test func templatesAreStoredInlineNotToasted() async throws {
        let storage = try await ScratchDatabase.required().withConnection(.owner) { connection in
            try await connection.query(
                "SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'public.faces'::regclass AND attname = 'template'",
                logger: TestEnvironment.logger
            ).collect().first?.decode(String.self)
        }
        #expect(storage == "p")
    }
}
