// `enface keys rotate-master`, as an operator runs it: nodes stopped, every key re-wrapped in one
// transaction, the key file replaced; faces, their sealed bytes and the audit chain unchanged.

import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct MasterKeyRotationTests {
    @Test func rotatingRewrapsEveryKeyAndKeepsFacesAndTheAuditChain() async throws {
        let data = try TemporaryDirectory()
        // No ENFACE_MASTER_KEY: the node makes the key file under the data directory.
        let environment = ["ENFACE_DATA_DIR": data.url.path, "ENFACE_MASTER_KEY": ""]
        let keyFile = data.url.appendingPathComponent("secrets/master.key")
        let database = try ScratchDatabase.required()
        func enface(_ arguments: String...) async throws -> (status: Int32, output: String) {
            try await EnfaceProcess.run(
                arguments, environment: database.environment.merging(environment) { $1 }.merging(["ENFACE_LOG_LEVEL": "error"]) { $1 })
        }
        let (alice, bob) = (Node.embedding(11), Node.embedding(12))

        let node = try await Node.start(environment)
        let (id, key) = try await node.createTenant("rotating")
        let tenantID = try #require(UUID(uuidString: id))
        func sealedDigest() async throws -> String {
            try await database.withPool(.app) { app in
                try await app.withTenant(tenantID) { transaction in
                    try await transaction.query("SELECT md5(string_agg(sealed::text, ',' ORDER BY id)) FROM faces")
                        .collect().first!.decode(String.self)
                }
            }
        }
        _ = try await node.createTenant("bystander")
        #expect(try await node.client.call(.post, "/v1/persons/alice/faces", headers: key, body: Node.json(alice)).status == .created)
        let oldKey = try String(contentsOf: keyFile, encoding: .utf8)
        let sealedBefore = try await sealedDigest()

        // Not while a node runs: it holds the old key in memory.
        let refused = try await enface("keys", "rotate-master")
        #expect(refused.status != 0 && refused.output.contains("stop every Enface node"), "\(refused.output)")
        #expect(try String(contentsOf: keyFile, encoding: .utf8) == oldKey)
        #expect(!FileManager.default.fileExists(atPath: keyFile.path + ".new"))

        try await node.stop()
        try await poll(timeout: .seconds(10), "the stopped node's connections to close") {
            try await database.withConnection(.owner) { connection in
                try await connection.query(
                    "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND usename = 'enface_app'",
                    logger: TestEnvironment.logger
                ).collect().first!.decode(Int.self)
            } == 0 ? true : nil
        }
        // A key staged by an earlier rotation that failed may be the master key now: not overwritten.
        let staged = keyFile.appendingPathExtension("new")
        try Data("left over\n".utf8).write(to: staged)
        let leftover = try await enface("keys", "rotate-master")
        #expect(leftover.status != 0 && leftover.output.contains("left from an earlier rotation"), "\(leftover.output)")
        #expect(try String(contentsOf: staged, encoding: .utf8) == "left over\n")
        try FileManager.default.removeItem(at: staged)

        let rotated = try await enface("keys", "rotate-master")
        #expect(rotated.status == 0, "\(rotated.output)")
        #expect(rotated.output.contains("rotated 2 tenant key(s) and 1 platform key(s)"), "\(rotated.output)")
        let newKey = try String(contentsOf: keyFile, encoding: .utf8)
        #expect(newKey != oldKey)
        #expect(try String(contentsOf: keyFile.appendingPathExtension("previous"), encoding: .utf8) == oldKey)
        #expect(try await sealedDigest() == sealedBefore)
        // Each tenant key now names the second master key as the one that wrapped it.
        let versions = try await database.withConnection(.owner) { connection in
            try await connection.query(
                "SELECT array_agg(key_version ORDER BY id) FROM tenants WHERE wrapped_key IS NOT NULL", logger: TestEnvironment.logger
            ).collect().first!.decode([Int].self)
        }
        #expect(versions == [2, 2])

        // The old key opens nothing any more, and a node started with it says so.
        let stale = try await EnfaceProcess.run(
            ["serve"], environment: database.environment.merging(environment) { $1 }.merging(["ENFACE_MASTER_KEY": oldKey, "ENFACE_HTTP_PORT": "0"]) { $1 })
        #expect(stale.status != 0 && stale.output.contains("does not open this database's keys"), "\(stale.output)")

        // With the new key: the old face is found exactly, new faces enroll, the chain holds.
        let restarted = try await Node.start(environment)
        let best = try await restarted.persons(matching: alice, headers: key).first
        #expect(best?.person == "alice" && abs((best?.score ?? 0) - 1) < 1e-5)
        #expect(try await restarted.client.call(.post, "/v1/persons/bob/faces", headers: key, body: Node.json(bob)).status == .created)
        let events = try await restarted.client.admin(.get, "/audit?action=master_key.rotate")
        #expect(events["events"]?.arrayValue?.count == 1)
        try await restarted.stop()
        let verified = try await enface("audit", "verify")
        #expect(verified.status == 0 && verified.output.contains("ok:"), "\(verified.output)")
    }
}
