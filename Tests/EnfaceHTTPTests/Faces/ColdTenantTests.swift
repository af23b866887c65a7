// Under a memory budget, shards come and go; a tenant whose shard is not in memory is answered
// exactly by pgvector over its rotated templates while the shard loads.

import Foundation
import HTTPTypes
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct ColdTenantTests {
    @Test func aColdTenantIsAnsweredByPgvectorExactlyAndShardsStayWithinTheBudget() async throws {
        try await LiveService.run(["ENFACE_INDEX_MEMORY_BUDGET": "1"]) { enface in
            var vectors = Embeddings(seed: 41)
            let a = try await enface.createTenant(settings: ["matchThreshold": 0.1])
            let b = try await enface.createTenant(settings: ["matchThreshold": 0.1])
            let identities = (0..<6).map { _ in vectors.identity() }
            for tenant in [a, b] {
                for (index, centre) in identities.enumerated() {
                    for _ in 0..<2 {
                        let reply = try await enface.call(
                            .post, "/v1/persons/p\(index)/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.sample(of: centre))])
                        try #require(reply.status == .created)
                    }
                }
            }
            let probe: JSONValue = ["embedding": Embeddings.json(vectors.sample(of: identities[2], noise: 0.8)), "limit": 5]
            func searches(_ source: String) async throws -> Int {
                let scrape = try await enface.call(.get, "/metrics", headers: enface.operatorHeaders)
                let line = scrape.body.split(separator: "\n").first { $0.hasPrefix("enface_searches_total{source=\"\(source)\"}") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }

            // A is cold: pgvector answers, and the shard starts loading.
            let cold = try await enface.call(.post, "/v1/search", key: a.key, json: probe)
            #expect(cold.status == .ok && cold["matches"]?.arrayValue?.first?.objectValue?["personId"] == "p2")
            #expect(try await searches("database") == 1)
            // Once loaded, memory answers the same.
            let warm = try await poll(timeout: .seconds(20), "A's shard to load") { () -> Reply? in
                let before = try await searches("memory")
                let reply = try await enface.call(.post, "/v1/search", key: a.key, json: probe)
                return try await searches("memory") > before ? reply : nil
            }
            let (coldMatches, warmMatches) = (cold["matches"]?.arrayValue ?? [], warm["matches"]?.arrayValue ?? [])
            #expect(coldMatches.count == warmMatches.count && !coldMatches.isEmpty)
            for (x, y) in zip(coldMatches, warmMatches) {
                #expect(x.objectValue?["personId"] == y.objectValue?["personId"] && x.objectValue?["faceId"] == y.objectValue?["faceId"])
                if case .number(let p)? = x.objectValue?["score"], case .number(let q)? = y.objectValue?["score"] { #expect(abs(p - q) < 1e-5) }
            }
            // B's load pushes A out (a one-byte budget keeps only the shard in use)...
            _ = try await enface.call(.post, "/v1/search", key: b.key, json: probe)
            try await poll(timeout: .seconds(20), "B's shard to load") { () -> Bool? in
                let before = try await searches("memory")
                _ = try await enface.call(.post, "/v1/search", key: b.key, json: probe)
                return try await searches("memory") > before ? true : nil
            }
            // ...so A is answered by the database again, with the same answer.
            let databaseBefore = try await searches("database")
            let again = try await enface.call(.post, "/v1/search", key: a.key, json: probe)
            #expect(try await searches("database") == databaseBefore + 1)
            #expect(again["matches"]?.arrayValue?.map { $0.objectValue?["personId"] } == coldMatches.map { $0.objectValue?["personId"] })
            // Verify takes the same way.
            let verified = try await enface.call(.post, "/v1/verify", key: b.key, json: ["personId": "p2", "embedding": probe.objectValue!["embedding"]!])
            #expect(verified["match"] == true)
        }
    }
}
