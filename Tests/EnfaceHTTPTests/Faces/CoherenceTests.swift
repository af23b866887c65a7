// Two nodes sharing one database answer the same: changes travel by LISTEN/NOTIFY, and a node
// whose listener was cut reconciles by the tenant's change counter.

import Foundation
import PostgresNIO
import Tenancy
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct CoherenceTests {
    @Test func aChangeOnOneNodeReachesTheOtherAndACutListenerConverges() async throws {
        var vectors = Embeddings(seed: 31)
        let (alice, bob) = (vectors.identity(), vectors.identity())
        let (aliceFace, bobFace, aliceProbe, bobProbe) = (vectors.sample(of: alice), vectors.sample(of: bob), vectors.sample(of: alice), vectors.sample(of: bob))
        try await LiveService.run { a in
            try await LiveService.run { b in
                let tenant = try await a.createTenant()
                func persons(_ node: LiveService, _ probe: [Float]) async throws -> [String] {
                    let reply = try await node.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(probe)])
                    return (reply["matches"]?.arrayValue ?? []).compactMap { $0.objectValue?["personId"]?.stringValue }
                }
                // B holds the tenant's shard (empty) before A writes.
                #expect(try await persons(b, aliceProbe) == [])

                let enrolled = try await a.call(.post, "/v1/persons/alice/faces", key: tenant.key, json: ["embedding": Embeddings.json(aliceFace)])
                #expect(enrolled.status == .created)
                try await poll(timeout: .seconds(5), "B to find what A enrolled") {
                    try await persons(b, aliceProbe) == ["alice"] ? true : nil
                }
                #expect(try await a.call(.delete, "/v1/persons/alice", key: tenant.key).status == .noContent)
                try await poll(timeout: .seconds(5), "B to lose what A deleted") {
                    try await persons(b, aliceProbe) == [] ? true : nil
                }

                // Cut every listener's connection, change data at once, and wait for B to converge.
                let database = try ScratchDatabase.required()
                let cut = try await database.withConnection(.app) { connection in
                    try await connection.query(
                        """
                        SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
                         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()
                        """, logger: TestEnvironment.logger
                    ).collect().first!.decode(Int.self)
                }
                #expect(cut >= 2)
                #expect(try await a.call(.post, "/v1/persons/bob/faces", key: tenant.key, json: ["embedding": Embeddings.json(bobFace)]).status == .created)
                try await poll(timeout: .seconds(15), "B to converge after losing its listener") {
                    try await persons(b, bobProbe) == ["bob"] ? true : nil
                }
                #expect(try await persons(a, bobProbe) == ["bob"])
            }
        }
    }
}
