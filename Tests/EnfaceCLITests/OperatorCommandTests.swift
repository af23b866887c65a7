// The operator commands (`enface tenant|key|audit|operator`) run as an operator runs them:
// the binary, against a scratch database, with its own master key.

import Crypto
import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing
import WireFormats

/// Runs `enface` as an operator would, against the enclosing suite's scratch database.
enum OperatorCLI {
    /// The master key of these tests: the CLI needs it to wrap tenant keys and to key the audit chain.
    static let masterKey = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()

    static func enface(_ arguments: String...) async throws -> (status: Int32, output: String) {
        var environment = try ScratchDatabase.required().environment
        environment["ENFACE_MASTER_KEY"] = OperatorCLI.masterKey
        environment["ENFACE_LOG_LEVEL"] = "error"
        return try await EnfaceProcess.run(arguments, environment: environment)
    }

    /// The JSON the command printed on standard output (logs go to standard error, which
    /// EnfaceProcess captures too: they are JSON lines that start with `{"ts"`).
    static func json(_ output: String) throws -> JSONValue {
        let start = try #require(output.range(of: "{\n"))
        let text = output[start.lowerBound...]
        let end = try #require(text.range(of: "\n}", options: .backwards))
        return try #require(JSONValue.parse(Array(text[..<end.upperBound].utf8)), "not JSON: \(text)")
    }
}

@Suite(.scratchDatabase)
struct OperatorCommandTests {
    @Test func aTenantsCalibrationIsPrintedAsTablesFromARunningNode() async throws {
        let node = try await Node.start(["ENFACE_MASTER_KEY": OperatorCLI.masterKey])
        defer { node.process.signal(SIGTERM) }
        let (_, headers) = try await node.createTenant("cli-calibrated")
        // Two persons with one face each, close to each other (a near-duplicate), and a stranger.
        let base = Node.embedding(1)
        for (person, vector) in [("ann", base), ("anne", base.map { $0 * 1.01 + 0.001 }), ("zed", Node.embedding(2))] {
            let enrolled = try await node.client.call(
                .post, "/v1/persons/\(person)/faces", headers: headers, body: Node.json(vector))
            try #require(enrolled.status == .created, "\(enrolled.body)")
        }
        var environment = try ScratchDatabase.required().environment
        environment["ENFACE_MASTER_KEY"] = OperatorCLI.masterKey
        environment["ENFACE_OPERATOR_TOKEN"] = Node.operatorToken
        let url = "http://127.0.0.1:\(node.port)"
        let printed = try await EnfaceProcess.run(["tenant", "calibration", "cli-calibrated", "--url", url], environment: environment)
        #expect(printed.status == 0, "\(printed.output)")
        #expect(printed.output.contains("3 persons, 3 faces; exact (3 persons measured)"), "\(printed.output)")
        #expect(printed.output.contains("| best impostor per person | 3 |") && printed.output.contains("near-duplicate persons (1):"))
        #expect(printed.output.contains("ann  anne  1.0000"))
        // Without a token, or for no such tenant, it says why and fails.
        environment["ENFACE_OPERATOR_TOKEN"] = nil
        let anonymous = try await EnfaceProcess.run(["tenant", "calibration", "cli-calibrated", "--url", url], environment: environment)
        #expect(anonymous.status != 0 && anonymous.output.contains("ENFACE_OPERATOR_TOKEN"))
        environment["ENFACE_OPERATOR_TOKEN"] = "wrong"
        let refused = try await EnfaceProcess.run(["tenant", "calibration", "cli-calibrated", "--url", url], environment: environment)
        #expect(refused.status != 0 && refused.output.contains("401 unauthenticated"), "\(refused.output)")
    }

    @Test func tenantsAndKeysFromTheCommandLine() async throws {
        let created = try await OperatorCLI.enface("tenant", "create", "--slug", "cli-acme", "--name", "Acme", "--plan", "pro")
        #expect(created.status == 0, "\(created.output)")
        let body = try OperatorCLI.json(created.output)
        let key = try #require(body["apiKey"]?.stringValue)
        #expect(key.hasPrefix("efk_") && key.count == 47)
        let tenant = try #require(body["tenant"])
        #expect(tenant["status"] == "pending" && tenant["plan"] == "pro")

        #expect(try await OperatorCLI.enface("tenant", "activate", "cli-acme").status == 0)
        // A state error says what is so (and what to do), exits non-zero, and prints no usage text:
        // the command was called rightly.
        let refused = try await OperatorCLI.enface("tenant", "activate", "cli-acme")
        #expect(refused.status != 0 && refused.output.contains("Error: the tenant is active already"), "\(refused.output)")
        let deleting = try await OperatorCLI.enface("tenant", "delete", "cli-acme")
        #expect(deleting.status != 0 && deleting.output.contains("enface tenant suspend T, then enface tenant delete T"), "\(deleting.output)")
        for failed in [refused, deleting] { #expect(!failed.output.contains("USAGE:") && !failed.output.contains("Usage:")) }
        #expect(try await OperatorCLI.enface("tenant", "suspend", "cli-acme", "--reason", "audit").status == 0)
        let wrongVerb = try await OperatorCLI.enface("tenant", "activate", "cli-acme")
        #expect(wrongVerb.status != 0 && wrongVerb.output.contains("enface tenant reactivate T"), "\(wrongVerb.output)")
        let shown = try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "cli-acme").output)
        #expect(shown["status"] == "suspended" && shown["suspendReason"] == "audit")
        #expect(try await OperatorCLI.enface("tenant", "reactivate", "cli-acme").status == 0)
        let listed = try await OperatorCLI.enface("tenant", "list", "--status", "active")
        #expect(listed.output.contains("cli-acme") && listed.output.contains("active"))

        let made = try await OperatorCLI.enface("key", "create", "cli-acme", "--name", "ci", "--scope", "search", "--scope", "verify")
        let madeKey = try OperatorCLI.json(made.output)
        let keyID = try #require(madeKey["key"]?["id"]?.stringValue)
        #expect(madeKey["key"]?["scopes"] == ["search", "verify"])
        let keys = try await OperatorCLI.enface("key", "list", "cli-acme")
        let madeSecret = try #require(madeKey["apiKey"]?.stringValue)
        #expect(keys.output.contains(keyID) && !keys.output.contains(key) && !keys.output.contains(madeSecret))
        let revoked = try await OperatorCLI.enface("key", "revoke", "cli-acme", keyID)
        #expect(revoked.status == 0 && revoked.output.contains("revoked \(keyID)"), "\(revoked.output)")
        #expect(try await OperatorCLI.enface("key", "revoke", "cli-acme", keyID).output.contains("no such key"))
        let nobody = try await OperatorCLI.enface("tenant", "show", "nobody-here")
        #expect(nobody.status != 0 && nobody.output.contains("no such tenant (enface tenant list") && !nobody.output.contains("USAGE:"))

        let token = try await OperatorCLI.enface("operator", "token", "alice")
        let lines = token.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].hasPrefix("efo_"))
        let hash = SHA256.hash(data: Data(lines[0].utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(lines[1] == "alice:\(hash)")
    }
}

/// Its own database: `audit verify` walks every chain, and no other test may add to them meanwhile.
@Suite(.scratchDatabase)
struct AuditVerifyTests {
    @Test func auditVerifyNamesTheRowSomeoneAltered() async throws {
        for slug in ["audit-a", "audit-b"] {
            #expect(try await OperatorCLI.enface("tenant", "create", "--slug", slug, "--name", slug, "--activate").status == 0)
            #expect(try await OperatorCLI.enface("tenant", "suspend", slug, "--reason", "test").status == 0)
        }
        let clean = try await OperatorCLI.enface("audit", "verify")
        #expect(clean.status == 0 && clean.output.contains("ok: 6 events in 2 chains"), "\(clean.output)")

        // The owner (who could do anything) rewrites history: one event of audit-b's chain.
        let tenantB = try #require(try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "audit-b").output)["id"]?.stringValue)
        let database = try ScratchDatabase.required()
        let altered = try await database.withConnection(.owner) { connection in
            try await connection.query("SELECT set_config('app.tenant_id', \(tenantB), false)", logger: TestEnvironment.logger)
            return try await connection.query(
                "UPDATE audit_events SET actor = 'operator:nobody' WHERE id = (SELECT min(id) + 1 FROM audit_events WHERE tenant_id = \(UUID(uuidString: tenantB)!)) RETURNING id",
                logger: TestEnvironment.logger
            ).collect().first!.decode(Int64.self)
        }
        let broken = try await OperatorCLI.enface("audit", "verify")
        #expect(broken.status == 1)
        #expect(broken.output.contains("BROKEN: event \(altered) of tenant \(tenantB) was altered"), "\(broken.output)")

        // Deleting an event instead breaks the link that follows it.
        try await database.withConnection(.owner) { connection in
            try await connection.query("SELECT set_config('app.tenant_id', \(tenantB), false)", logger: TestEnvironment.logger)
            try await connection.query("DELETE FROM audit_events WHERE id = \(altered)", logger: TestEnvironment.logger)
        }
        let unlinked = try await OperatorCLI.enface("audit", "verify")
        #expect(unlinked.status == 1 && unlinked.output.contains("does not follow the event before it"), "\(unlinked.output)")
    }
}

/// Its own database: `--prune` deletes every tenant the file does not name.
@Suite(.scratchDatabase)
struct ProvisioningTests {
    @Test func provisioningAppliesOnceThenIsUnchangedAndRefusesABadFileWhole() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("tenants.json", """
            {"tenants": [
              {"slug": "prov-one", "name": "One", "plan": "pro", "status": "active",
               "settings": {"matchThreshold": 0.42}, "quotas": {"requestsPerMinute": 1200}},
              {"slug": "prov-two", "name": "Two"},
              {"slug": "prov-paused", "name": "Paused", "status": "suspended", "suspendReason": "not yet"}
            ]}
            """)
        let file = directory.url.appendingPathComponent("tenants.json").path
        let first = try await OperatorCLI.enface("tenant", "apply", "--file", file)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("create prov-one") && first.output.contains("create prov-two"))
        let keyLines = first.output.split(separator: "\n").filter { $0.hasPrefix("key ") }
        #expect(keyLines.count == 3 && keyLines.allSatisfy { $0.contains(" efk_") })
        // Created suspended: through active, as the lifecycle asks.
        #expect(try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "prov-paused").output)["status"] == "suspended")
        let one = try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "prov-one").output)
        #expect(one["status"] == "active")
        #expect(one["settings"]?["matchThreshold"] == 0.42)
        #expect(one["quotas"]?["requestsPerMinute"] == 1200)

        let again = try await OperatorCLI.enface("tenant", "apply", "--file", file)
        #expect(again.status == 0)
        #expect(again.output.contains("unchanged prov-one") && again.output.contains("unchanged prov-two"))
        #expect(again.output.contains("applied: nothing to change") && !again.output.contains("efk_"))

        // A change is an update, named by field.
        try directory.write("tenants.json", """
            {"tenants": [{"slug": "prov-one", "name": "One", "plan": "pro", "status": "suspended",
                          "settings": {"matchThreshold": 0.5}, "quotas": {"requestsPerMinute": 1200}},
                         {"slug": "prov-two", "name": "Two"}]}
            """)
        let update = try await OperatorCLI.enface("tenant", "apply", "--file", file)
        #expect(update.output.contains("update prov-one") && update.output.contains("unchanged prov-two"), "\(update.output)")
        // Each changed field, before → after.
        #expect(update.output.contains("settings.matchThreshold: 0.42 → 0.5"), "\(update.output)")
        #expect(update.output.contains(#"status: "active" → "suspended""#), "\(update.output)")
        #expect(try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "prov-one").output)["status"] == "suspended")

        // An invalid file: every error with its pointer, and nothing applied, not even the valid part.
        try directory.write("bad.json", """
            {"tenants": [
              {"slug": "prov-three", "name": "Three"},
              {"slug": "Not A Slug", "name": "x", "colour": "red"},
              {"slug": "prov-four", "name": "Four", "settings": {"matchThreshold": 7}}
            ]}
            """)
        let bad = try await OperatorCLI.enface("tenant", "apply", "--file", directory.url.appendingPathComponent("bad.json").path)
        #expect(bad.status != 0)
        for pointer in ["/tenants/1/slug", "/tenants/1/colour", "/tenants/2/settings/matchThreshold"] {
            #expect(bad.output.contains(pointer), "\(pointer) in \(bad.output)")
        }
        #expect(try await OperatorCLI.enface("tenant", "show", "prov-three").output.contains("no such tenant"))
        #expect(try await OperatorCLI.enface("tenant", "show", "prov-four").output.contains("no such tenant"))

        // A field the file leaves out is left as the tenant's administrators set it.
        // (as PATCH /v1/tenant/settings would store it)
        _ = try await ScratchDatabase.required().withPool(.admin) { admin in
            try await admin.query(
                """
                UPDATE tenants SET settings = settings || '{"allowedOrigins": ["https://two.example"]}'::jsonb
                 WHERE slug = 'prov-two'
                """)
        }
        let respected = try await OperatorCLI.enface("tenant", "apply", "--file", file)
        #expect(respected.output.contains("unchanged prov-two"), "\(respected.output)")

        // --prune deletes what the file leaves out (after the lifecycle's steps).
        try directory.write("one.json", """
            {"tenants": [{"slug": "prov-one", "name": "One", "plan": "pro", "status": "suspended",
                          "settings": {"matchThreshold": 0.5}, "quotas": {"requestsPerMinute": 1200}}]}
            """)
        let one2 = directory.url.appendingPathComponent("one.json").path
        let kept = try await OperatorCLI.enface("tenant", "apply", "--file", one2)
        #expect(kept.output.contains("applied: nothing to change"))
        // An active tenant is never deleted in one step: --prune suspends it and says how to delete it.
        let pruned = try await OperatorCLI.enface("tenant", "apply", "--file", one2, "--prune")
        #expect(pruned.output.contains("suspend prov-two: active: suspended, not deleted"), "\(pruned.output)")
        #expect(try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "prov-two").output)["status"] == "suspended")
        // Suspended, it is deleted by the next --prune; or by a file that says so.
        let again2 = try await OperatorCLI.enface("tenant", "apply", "--file", one2, "--prune")
        #expect(again2.output.contains("delete prov-two"), "\(again2.output)")
        #expect(try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "prov-two").output)["status"] == "deleted")
        try directory.write("gone.json", """
            {"tenants": [{"slug": "prov-one", "name": "One", "status": "deleted"}]}
            """)
        let gone = try await OperatorCLI.enface("tenant", "apply", "--file", directory.url.appendingPathComponent("gone.json").path)
        #expect(gone.status == 0 && gone.output.contains("update prov-one"), "\(gone.output)")
        #expect(try OperatorCLI.json(try await OperatorCLI.enface("tenant", "show", "prov-one").output)["status"] == "deleted")
    }
}
