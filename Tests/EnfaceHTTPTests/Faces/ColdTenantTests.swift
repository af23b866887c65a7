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

    /// A tenant past `ShardLoader.facesToSplit` is read in two parts, on two connections in one
    /// snapshot, each filling a load of its own: the shard they make answers as pgvector does.
    @Test func aBigTenantIsReadInPartsAndAnswersAsPgvectorDoes() async throws {
        try await LiveService.run(["ENFACE_INDEX_MEMORY_BUDGET": "1"]) { enface in
            var vectors = Embeddings(seed: 43)
            let tenant = try await enface.createTenant(settings: ["matchThreshold": 0.1, "duplicateCheck": "off"])
            // 5,000 faces, two a person, a person's faces ten batches apart (in rows far apart).
            let identities = (0..<2_500).map { _ in vectors.identity() }
            for batch in 0..<20 {
                // 250 a request: a 512-d face in base64 is 2.7 KB, and a body at most 1 MB.
                let items: [JSONValue] = (0..<250).map { item in
                    let person = (batch * 250 + item) % 2_500
                    return ["personId": .string("p\(person)"), "embeddingBase64": .string(Embeddings.base64(vectors.sample(of: identities[person], noise: 0.5)))]
                }
                let answer = try await enface.call(.post, "/v1/faces:batch", key: tenant.key, json: ["faces": .array(items)])
                try #require(answer.status == .ok && answer["enrolled"] == 250, "\(answer.status) \(answer.body.prefix(300))")
            }
            func search(_ probe: [Float]) async throws -> [JSONValue] {
                let reply = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(probe), "limit": 10])
                return reply["matches"]?.arrayValue ?? []
            }
            func fromMemory() async throws -> Int {
                let scrape = try await enface.call(.get, "/metrics", headers: enface.operatorHeaders)
                let line = scrape.body.split(separator: "\n").first { $0.hasPrefix("enface_searches_total{source=\"memory\"}") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            let probes = [identities[7], identities[1_300], vectors.identity()]
            // Cold: pgvector answers while the shard loads.
            var cold: [[JSONValue]] = []
            for probe in probes { cold.append(try await search(probe)) }
            try await poll(timeout: .seconds(60), "the shard to load") { () -> Bool? in
                let before = try await fromMemory()
                _ = try await search(probes[0])
                return try await fromMemory() > before ? true : nil
            }
            var warm: [[JSONValue]] = []
            for probe in probes { warm.append(try await search(probe)) }
            #expect(try await fromMemory() >= 4)
            // Every face is in the shard, once (a face read by two parts would have failed the load).
            let gauge = "enface_index_faces{tenant=\"\(tenant.slug)\"} "
            let scrape = try await enface.call(.get, "/metrics", headers: enface.operatorHeaders)
            #expect(scrape.body.split(separator: "\n").first { $0.hasPrefix(gauge) }.flatMap { Double($0.dropFirst(gauge.count)) } == 5_000)
            for (x, y) in zip(cold, warm) {
                #expect(x.count == y.count && !x.isEmpty)
                #expect(x.map { $0.objectValue?["faceId"] } == y.map { $0.objectValue?["faceId"] })
                for (p, q) in zip(x, y) {
                    if case .number(let a)? = p.objectValue?["score"], case .number(let b)? = q.objectValue?["score"] { #expect(abs(a - b) < 1e-5) }
                }
            }
            #expect(cold[0].first?.objectValue?["personId"] == "p7" && cold[1].first?.objectValue?["personId"] == "p1300")
        }
    }
}
