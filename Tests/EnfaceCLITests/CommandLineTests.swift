// The `enface` command as an operator runs it.

import Foundation
import HTTPTypes
import HummingbirdTesting
import Storage
import TestSupport
import Testing

@Suite struct CommandLineTests {
    /// Variables pointing `enface` at a scratch database as if it were an external server.
    func environment(_ database: ScratchDatabase) -> [String: String] { database.environment }

    @Test func dbURLPrintsOnlyAURLThatPsqlAcceptsAsTheRoleAsked() async throws {
        guard case .embedded(let postgres) = TestEnvironment.server else { return }
        let psql = try postgres.program("psql")
        for role in DatabaseRole.allCases {
            let (status, output) = try await EnfaceProcess.run(["db", "url", "--role", role.rawValue])
            #expect(status == 0)
            let url = output.trimmingCharacters(in: .newlines)
            #expect(!url.contains("\n"), "db url printed more than the URL: \(output)")
            #expect(url == (try postgres.endpoint(for: role)).url)

            let (checked, user) = try await ChildProcess.run(psql, [url, "-Atc", "SELECT current_user"])
            #expect(checked == 0 && user.trimmingCharacters(in: .whitespacesAndNewlines) == role.roleName, "\(user)")
        }
    }

    @Test(.scratchDatabase)
    func psqlAsTheAppRoleCountsNoFacesWhileFacesExist() async throws {
        let database = try ScratchDatabase.required()
        let tenant = UUID()
        try await database.createTenant(tenant)
        try await database.withPool(.app) { app in
            try await app.withTenant(tenant) { tx in try await tx.insertOneRowPerTable() }
        }
        let (status, output) = try await EnfaceProcess.run(["db", "url", "--role", "app"], environment: environment(database))
        #expect(status == 0)
        let psql = try TestEnvironment.embeddedPostgres.program("psql")
        let (checked, count) = try await ChildProcess.run(psql, [output.trimmingCharacters(in: .newlines), "-Atc", "select count(*) from faces"])
        #expect(checked == 0 && count == "0\n", "\(count)")
        let owner = try await database.withConnection(.owner) { connection in
            try await connection.query("SELECT count(*)::int FROM faces", logger: TestEnvironment.logger)
                .collect().first!.decode(Int.self)
        }
        #expect(owner == 0, "even the owner sees no rows without a tenant: RLS is forced")
    }

    @Test(.emptyScratchDatabase)
    func migrateThenCheckReportsACurrentSchema() async throws {
        let database = try ScratchDatabase.required()
        let before = try await EnfaceProcess.run(["migrate", "--check"], environment: environment(database))
        #expect(before.status == 1)
        #expect(before.output.contains("pending migrations: 1"))
        let migrate = try await EnfaceProcess.run(["migrate"], environment: environment(database))
        #expect(migrate.status == 0)
        #expect(migrate.output.contains("applied migrations: 1"))
        let again = try await EnfaceProcess.run(["migrate"], environment: environment(database))
        #expect(again.output.contains("nothing to apply"))
        let after = try await EnfaceProcess.run(["migrate", "--check"], environment: environment(database))
        #expect(after.status == 0)
    }

    @Test func aMalformedVariableStopsTheCommandWithItsName() async throws {
        let (status, output) = try await EnfaceProcess.run(["serve"], environment: ["ENFACE_HTTP_PORT": "eighty"])
        #expect(status != 0)
        #expect(output.contains("ENFACE_HTTP_PORT"))
    }

    @Test(.emptyScratchDatabase)
    func serveMigratesListensAndShutsDownGracefullyOnSIGTERM() async throws {
        let database = try ScratchDatabase.required()
        let server = try EnfaceProcess(
            ["serve"], environment: environment(database).merging(["ENFACE_HTTP_PORT": "0"]) { $1 })
        let port = try await poll(timeout: .seconds(30), "the server to listen") { () -> Int? in
            guard let match = server.text.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/) else { return nil }
            return Int(match.1)
        }
        let client = TestClient(host: "127.0.0.1", port: port)
        client.connect()
        let ready = try await client.execute(TestClient.Request("/readyz", method: .get), heldTo: .served)
        #expect(ready.status == .ok)
        // Every 401 says why in the log (never with the credential): no key, an unknown key, an
        // operator token whose hash is not configured.
        let wrongKey = "efk_" + String(repeating: "x", count: 43)
        for (path, headers) in [
            ("/v1/tenant", HTTPFields()), ("/v1/tenant", [HTTPField.Name("X-API-Key")!: wrongKey]),
            ("/admin/v1/tenants", [.authorization: "Bearer not-a-configured-token"]),
        ] {
            let refused = try await client.execute(TestClient.Request(path, method: .get, headers: headers), heldTo: .served)
            #expect(refused.status == .unauthorized)
        }
        try await client.shutdown()
        let logLines = server.text.split(separator: "\n")
        for reason in ["missingCredential", "unknownKey"] {
            #expect(logLines.contains { $0.contains(#""msg":"credential refused""#) && $0.contains(#""reason":"\#(reason)""#) }, "\(reason)")
        }
        #expect(logLines.contains { $0.contains(#""msg":"operator credential refused""#) && $0.contains("not among ENFACE_ADMIN_TOKENS") })
        #expect(!server.text.contains(wrongKey) && !server.text.contains("not-a-configured-token"))
        // Announced once bound, with the port the kernel gave (never the :0 asked for).
        #expect(server.text.contains(#""msg":"serving""#) && server.text.contains(#""url":"http://127.0.0.1:\#(port)""#))
        #expect(!server.text.contains("127.0.0.1:0\""))

        // A second node on the same port says which port and which variable, and exits.
        let second = try await EnfaceProcess.run(
            ["serve"], environment: environment(database).merging(["ENFACE_HTTP_PORT": "\(port)"]) { $1 })
        #expect(second.status != 0)
        #expect(second.output.contains("ENFACE_HTTP_PORT: 127.0.0.1:\(port) is already in use"), "\(second.output.suffix(2_000))")

        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)
        // The shutdown is logged with its reason, and its end.
        #expect(server.text.contains(#""msg":"stopping""#) && server.text.contains(#""reason":"SIGTERM received""#))
        #expect(server.text.contains(#""msg":"stopped""#))
        // Logs are JSON lines carrying request ids, and never the database password.
        let lines = server.text.split(separator: "\n")
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
        #expect(lines.contains { $0.contains(#""http.route":"/readyz""#) && $0.contains(#""requestId""#) })
        #expect(!server.text.contains(database.endpoint(.app).password!))
    }
}

/// Migrations are a step of their own, as the owner; serving nodes hold only the app and admin
/// roles' credentials.
@Suite(.emptyScratchDatabase)
struct LeastPrivilegeTests {
    @Test func aNodeServesWithoutTheOwnersCredentialsOnceMigrated() async throws {
        let database = try ScratchDatabase.required()
        let migrated = try await EnfaceProcess.run(["migrate"], environment: database.environment)
        #expect(migrated.status == 0, "\(migrated.output)")
        // Without the owner's URL, migrating on start is refused with what to do instead.
        var serving = database.environment
        serving["ENFACE_DATABASE_URL"] = ""
        let refused = try await EnfaceProcess.run(["serve"], environment: serving.merging(["ENFACE_HTTP_PORT": "0"]) { $1 })
        #expect(refused.status != 0 && refused.output.contains("ENFACE_MIGRATE_ON_START=false"), "\(refused.output)")
        // With migrations done elsewhere, it serves.
        let node = try await Node.start(["ENFACE_DATABASE_URL": "", "ENFACE_MIGRATE_ON_START": "false"])
        #expect(try await node.client.call(.get, "/readyz").status == .ok)
        let (_, headers) = try await node.createTenant("least-privilege")
        #expect(try await node.persons(matching: Node.embedding(1), headers: headers).isEmpty)
        try await node.stop()
    }
}
