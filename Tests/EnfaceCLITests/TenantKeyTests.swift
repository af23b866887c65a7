// `enface keys rekey-tenant` and `enface keys rotate-audit`, as an operator runs them on a
// suspicion: new keys, the same faces, every chain still verifiable.

import Crypto
import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase, .serialized)
struct TenantKeyTests {
    /// One master key for the suite's database (its nodes share the audit chain's keys).
    static let environment = ["ENFACE_MASTER_KEY": SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()]

    static func enface(_ arguments: String...) async throws -> (status: Int32, output: String) {
        try await EnfaceProcess.run(
            arguments,
            environment: try ScratchDatabase.required().environment.merging(environment) { $1 }.merging(["ENFACE_LOG_LEVEL": "error"]) { $1 })
    }

    /// md5 of a column over the tenant's rows, as the owner sees them.
    static func digest(_ column: String, of table: String, tenant: UUID) async throws -> String {
        try await ScratchDatabase.required().withPool(.owner) { owner in
            try await owner.withTenant(tenant) { transaction in
                try await transaction.query(
                    PostgresQuery(unsafeSQL: "SELECT coalesce(md5(string_agg(\(column)::text, ',' ORDER BY id)), '') FROM \(table)")
                ).collect().first.map { try $0.decode(String.self) } ?? ""
            }
        }
    }

    @Test func rekeyingATenantRewrapsItsPersonsRerotatesItsTemplatesAndKeepsItsFaces() async throws {
        let node = try await Node.start(Self.environment)
        defer { node.process.signal(SIGTERM) }
        let (id, key) = try await node.createTenant("rekeyed")
        let tenant = try #require(UUID(uuidString: id))
        for (person, seed) in [("alice", 31), ("bob", 32)] {
            #expect(try await node.client.call(.post, "/v1/persons/\(person)/faces", headers: key, body: Node.json(Node.embedding(seed))).status == .created)
        }
        #expect(try await node.persons(matching: Node.embedding(31), headers: key).first?.person == "alice")
        let before = (
            templates: try await Self.digest("template", of: "faces", tenant: tenant),
            sealed: try await Self.digest("sealed", of: "faces", tenant: tenant),
            persons: try await Self.digest("wrapped_key", of: "persons", tenant: tenant))

        let rekeyed = try await Self.enface("keys", "rekey-tenant", "rekeyed")
        #expect(rekeyed.status == 0 && rekeyed.output.contains("2 person key(s) re-wrapped, 2 template(s) re-rotated"), "\(rekeyed.output)")
        // The stored rotation and the person keys' wrapping are new; the sealed templates are not.
        #expect(try await Self.digest("template", of: "faces", tenant: tenant) != before.templates)
        #expect(try await Self.digest("wrapped_key", of: "persons", tenant: tenant) != before.persons)
        #expect(try await Self.digest("sealed", of: "faces", tenant: tenant) == before.sealed)
        // The running node drops what it held under the old key and finds the same faces, exactly.
        try await poll(timeout: .seconds(10), "the node to search under the new key") {
            let best = try await node.persons(matching: Node.embedding(31), headers: key).first
            return best?.person == "alice" && abs((best?.score ?? 0) - 1) < 1e-5 ? true : nil
        }
        #expect(try await node.client.call(.post, "/v1/persons/carol/faces", headers: key, body: Node.json(Node.embedding(33))).status == .created)
        #expect(try await node.persons(matching: Node.embedding(33), headers: key).first?.person == "carol")
        let verified = try await Self.enface("audit", "verify")
        #expect(verified.status == 0, "\(verified.output)")
        try await node.stop()
    }

    @Test func rotatingTheAuditKeyKeepsEveryChainVerifiable() async throws {
        let node = try await Node.start(Self.environment)
        _ = try await node.createTenant("audited")
        let refused = try await Self.enface("keys", "rotate-audit")
        #expect(refused.status != 0 && refused.output.contains("stop every Enface node"), "\(refused.output)")
        try await node.stop()
        try await poll(timeout: .seconds(10), "the stopped node's connections to close") {
            try await ScratchDatabase.required().withConnection(.owner) { connection in
                try await connection.query(
                    "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND usename = 'enface_app'",
                    logger: TestEnvironment.logger
                ).collect().first?.decode(Int.self)
            } == 0 ? true : nil
        }
        let rotated = try await Self.enface("keys", "rotate-audit")
        #expect(rotated.status == 0 && rotated.output.contains("version 2"), "\(rotated.output)")
        // Events after the rotation are hashed with the new key, those before with the old.
        let restarted = try await Node.start(Self.environment)
        _ = try await restarted.createTenant("audited-later")
        try await restarted.stop()
        // (The operator role reads every tenant's trail; the owner sees none without a tenant.)
        let (versions, tampered) = try await ScratchDatabase.required().withConnection(.admin) { connection in
            let versions = try await connection.query(
                "SELECT array_agg(DISTINCT key_version::int8 ORDER BY key_version::int8) FROM audit_events", logger: TestEnvironment.logger
            ).collect().first?.decode([Int].self)
            let tampered = try await connection.query(
                "SELECT tenant_id, id FROM audit_events WHERE action = 'tenant.create' AND key_version = 2 LIMIT 1",
                logger: TestEnvironment.logger
            ).collect().first?.decode((UUID, Int64).self)
            return (versions, tampered)
        }
        #expect(versions == [1, 2])
        let verified = try await Self.enface("audit", "verify")
        #expect(verified.status == 0, "\(verified.output)")
        // An event that claims another key than the one that hashed it is caught.
        let (tenant, event) = try #require(tampered)
        try await ScratchDatabase.required().withConnection(.owner) { connection in
            _ = try await connection.query("SELECT set_config('app.tenant_id', \(tenant.uuidString.lowercased()), false)", logger: TestEnvironment.logger)
                .collect()
            _ = try await connection.query("UPDATE audit_events SET key_version = 1 WHERE id = \(event)", logger: TestEnvironment.logger)
                .collect()
        }
        let broken = try await Self.enface("audit", "verify")
        #expect(broken.status == 1 && broken.output.contains("was altered"), "\(broken.output)")
    }
}
