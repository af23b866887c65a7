// Limits that hold under concurrency: taken inside the enroll transaction, never read-then-write.

import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct FaceLimitsTests {
    /// `count` enrolls at once, each on its own connection; returns the statuses and codes.
    static func enrollConcurrently(
        _ count: Int, port: Int, key: String, person: @escaping @Sendable (Int) -> String, vector: [Float]
    ) async throws -> [(HTTPResponse.Status, String?)] {
        let body = JSONValue.object(["embedding": Embeddings.json(vector)]).canonical
        return try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
            for index in 0..<count {
                group.addTask {
                    try await TestClient.withClient(host: "localhost", port: port, configuration: .init(timeout: .seconds(120))) { client in
                        let response = try await client.execute(.init(
                            "/v1/persons/\(person(index))/faces", method: .post, authority: "localhost",
                            headers: [.init("X-API-Key")!: key, .contentType: "application/json"], body: ByteBuffer(string: body)))
                        let code = response.body.flatMap { JSONValue.parse(Data(buffer: $0)) }?.objectValue?["code"]?.stringValue
                        return (response.status, code)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func sixtyFourParallelEnrollsToOnePersonYieldExactlyItsLimit() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["requestsPerMinute": 1_000])
            var vectors = Embeddings(seed: 3)
            let results = try await Self.enrollConcurrently(
                64, port: try #require(enface.client.port), key: tenant.key, person: { _ in "crowded" }, vector: vectors.identity())
            #expect(results.filter { $0.0 == .created }.count == 3)
            #expect(results.filter { $0.0 == .conflict && $0.1 == "max_faces_per_person" }.count == 61)
            let person = try await enface.call(.get, "/v1/persons/crowded", key: tenant.key)
            #expect(person["faceCount"] == 3 && person["faces"]?.arrayValue?.count == 3)
        }
    }

    @Test func sixtyFourParallelEnrollsNeverPassTheTenantsFaceQuota() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["requestsPerMinute": 1_000, "maxFaces": 5])
            var vectors = Embeddings(seed: 4)
            let results = try await Self.enrollConcurrently(
                64, port: try #require(enface.client.port), key: tenant.key, person: { "person-\($0)" }, vector: vectors.identity())
            #expect(results.filter { $0.0 == .created }.count == 5)
            #expect(results.filter { $0.0 == .conflict && $0.1 == "face_quota_exceeded" }.count == 59)
            let persons = try await enface.call(.get, "/v1/persons", key: tenant.key)
            #expect(persons["persons"]?.arrayValue?.count == 5)
            // Deleting frees room again.
            let first = try #require(persons["persons"]?.arrayValue?.first?.objectValue?["personId"]?.stringValue)
            #expect(try await enface.call(.delete, "/v1/persons/\(first)", key: tenant.key).status == .noContent)
            let again = try await enface.call(.post, "/v1/persons/late/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.identity())])
            #expect(again.status == .created)
            let full = try await enface.call(.post, "/v1/persons/later/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.identity())])
            #expect(full.code == "face_quota_exceeded")
        }
    }
}
