// Two `enface serve` processes sharing one database answer the same: changes travel by
// LISTEN/NOTIFY, and a node whose listener was cut reconciles by the tenant's change counter.

import Crypto
import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct CoherenceTests {
    @Test func aChangeOnOneNodeReachesTheOtherAndACutListenerConverges() async throws {
        let environment = ["ENFACE_MASTER_KEY": SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()]
        let a = try await Node.start(environment)
        defer { a.process.signal(SIGTERM) }
        let b = try await Node.start(environment)
        defer { b.process.signal(SIGTERM) }
        let (_, key) = try await a.createTenant("coherent")
        let (alice, bob) = (Node.embedding(1), Node.embedding(2))
        func persons(_ node: Node, _ probe: [Float]) async throws -> [String] {
            try await node.persons(matching: probe, headers: key).map(\.person)
        }
        // B holds the tenant's shard (empty) before A writes.
        #expect(try await persons(b, alice) == [])

        let (enrolled, _) = try await a.request(.post, "/v1/persons/alice/faces", headers: key, body: Node.json(alice))
        #expect(enrolled == .created)
        try await poll(timeout: .seconds(2), "B to find what A enrolled") {
            try await persons(b, alice) == ["alice"] ? true : nil
        }
        #expect(try await a.request(.delete, "/v1/persons/alice", headers: key).0 == .noContent)
        try await poll(timeout: .seconds(2), "B to lose what A deleted") {
            try await persons(b, alice) == [] ? true : nil
        }

        // Cut both listeners' connections, change data at once, and wait for B to converge.
        let cut = try await ScratchDatabase.required().withConnection(.app) { connection in
            try await connection.query(
                """
                SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
                 WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()
                """, logger: TestEnvironment.logger
            ).collect().first!.decode(Int.self)
        }
        #expect(cut == 2)
        #expect(try await a.request(.post, "/v1/persons/bob/faces", headers: key, body: Node.json(bob)).0 == .created)
        try await poll(timeout: .seconds(15), "B to converge after losing its listener") {
            try await persons(b, bob) == ["bob"] ? true : nil
        }
        #expect(try await persons(a, bob) == ["bob"])
    }
}
