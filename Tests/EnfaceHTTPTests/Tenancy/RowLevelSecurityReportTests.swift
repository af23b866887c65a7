// The operator's view of the fence between tenants, read live from PostgreSQL's catalog: it shows
// what the migrations made, and it shows the moment someone takes a piece of the fence away.

import PostgresNIO
import TestSupport
import Testing
import WireFormats

/// Its own database, one test: it turns a table's FORCE off for a moment.
@Suite(.scratchDatabase)
struct RowLevelSecurityReportTests {
    @Test func theReportShowsEveryTenantTableFencedAndNamesAGapWhenOneOpens() async throws {
        try await LiveService.run { enface in
            let report = try await enface.admin(.get, "/row-level-security")
            #expect(report.status == .ok && report["problems"] == [], "\(report.body)")
            let tables = report["tables"]?.arrayValue ?? []
            let names = Set(tables.compactMap { $0["name"]?.stringValue })
            #expect(names.isSuperset(of: ["tenants", "api_keys", "persons", "faces", "audit_events", "usage", "idempotent_requests"]))
            for table in tables {
                #expect(table["rowLevelSecurity"] == true && table["forced"] == true, "\(table)")
                #expect((table["policies"]?.arrayValue ?? []).isEmpty == false, "\(table)")
            }
            let faces = try #require(tables.first { $0["name"] == "faces" })
            let policy = try #require(faces["policies"]?.arrayValue?.first { $0["name"] == "tenant_isolation" }, "\(faces)")
            #expect(policy["command"] == "ALL" && policy["roles"] == ["public"])
            #expect(policy["using"]?.stringValue?.contains("current_setting('app.tenant_id'") == true && policy["withCheck"] == policy["using"])
            let roles = report["roles"]?.arrayValue ?? []
            #expect(roles.count == 2)
            for role in roles {
                #expect(role["exists"] == true && role["superuser"] == false && role["bypassRowLevelSecurity"] == false, "\(role)")
                #expect(role["createRole"] == false && role["ownedTables"] == [] && role["privilegedRoles"] == [], "\(role)")
            }

            // The owner lifts FORCE on faces: the report names it at once, and again not once restored.
            let database = try ScratchDatabase.required()
            _ = try await database.withConnection(.owner) { connection in
                try await connection.query("ALTER TABLE faces NO FORCE ROW LEVEL SECURITY", logger: TestEnvironment.logger)
            }
            let opened = try await enface.admin(.get, "/row-level-security")
            _ = try await database.withConnection(.owner) { connection in
                try await connection.query("ALTER TABLE faces FORCE ROW LEVEL SECURITY", logger: TestEnvironment.logger)
            }
            #expect(opened["problems"] == ["faces: row-level security is not forced (its owner is not fenced)"], "\(opened.body)")
            #expect(try await enface.admin(.get, "/row-level-security")["problems"] == [])
        }
    }
}
