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
    /// Each enroll is sent again when it is refused with 503 `database_unavailable`, as a client
    /// told "nothing was changed. Retry shortly" would: the enrolls of one tenant queue on its row
    /// lock, each holding one of the server's 8 connections, and on a machine busy with the whole
    /// suite a lease has waited past its 10 s deadline (four of 64, once).
    static func enrollConcurrently(
        _ count: Int, port: Int, key: String, person: @escaping @Sendable (Int) -> String, vector: [Float]
    ) async throws -> [(HTTPResponse.Status, String?)] {
        let body = JSONValue.object(["embedding": Embeddings.json(vector)]).canonical
        return try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
            for index in 0..<count {
                group.addTask {
                    try await TestClient.withClient(host: "localhost", port: port, configuration: .init(timeout: .seconds(120))) { client in
                        var attempt = 0
                        while true {
                            attempt += 1
                            let response = try await client.execute(.init(
                                "/v1/persons/\(person(index))/faces", method: .post, authority: "localhost",
                                headers: [EnfaceClient.apiKey: key, .contentType: "application/json"], body: ByteBuffer(string: body)),
                                heldTo: .served)
                            let code = response.body.flatMap { JSONValue.parse(Data(buffer: $0)) }?.objectValue?["code"]?.stringValue
                            guard response.status == .serviceUnavailable, code == "database_unavailable", attempt < 5 else {
                                return (response.status, code)
                            }
                        }
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
                64, port: try #require(enface.port), key: tenant.key, person: { _ in "crowded" }, vector: vectors.identity())
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
                64, port: try #require(enface.port), key: tenant.key, person: { "person-\($0)" }, vector: vectors.identity())
            #expect(results.filter { $0.0 == .created }.count == 5)
            #expect(
                results.filter { $0.0 == .conflict && $0.1 == "face_quota_exceeded" }.count == 59,
                "others: \(results.filter { $0.0 != .created && $0.1 != "face_quota_exceeded" })")
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

    /// 32 clients enrolling into and deleting one person for 20 s. An enroll once found its
    /// person gone between creating it and reading it back, and trapped the whole process.
    @Test func enrollsRacingDeletesOfOnePersonNeverFailOnTheServer() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(
                quotas: ["requestsPerMinute": 1_000_000, "requestsPerDay": 100_000_000], settings: ["maxFacesPerPerson": 5])
            let port = try #require(enface.port)
            var vectors = Embeddings(seed: 77)
            let body = JSONValue.object(["embedding": Embeddings.json(vectors.identity())]).canonical
            let deadline = ContinuousClock.now + .seconds(20)
            let statuses = try await withThrowingTaskGroup(of: [HTTPResponse.Status].self) { group in
                for client in 0..<32 {
                    group.addTask {
                        try await TestClient.withClient(host: "localhost", port: port, configuration: .init(timeout: .seconds(60))) { http in
                            var seen: [HTTPResponse.Status] = []
                            var round = 0
                            // For 20 s, and at least 6 rounds however slow a busy machine makes them.
                            while ContinuousClock.now < deadline || round < 6 {
                                round += 1
                                // A third of the requests delete the person, the rest enroll into it.
                                let request: TestClient.Request =
                                    (client + round) % 3 == 0
                                    ? .init("/v1/persons/contested", method: .delete, authority: "localhost",
                                            headers: [EnfaceClient.apiKey: tenant.key])
                                    : .init("/v1/persons/contested/faces", method: .post, authority: "localhost",
                                            headers: [EnfaceClient.apiKey: tenant.key, .contentType: "application/json"],
                                            body: ByteBuffer(string: body))
                                seen.append(try await http.execute(request, heldTo: .served).status)
                            }
                            return seen
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let failures = statuses.filter { $0.code >= 500 }
            #expect(failures.isEmpty, "\(failures.count) of \(statuses.count) answers were 5xx")
            // Both sides of the race ran (how often each wins depends on the machine's load).
            #expect(statuses.contains(.created) && statuses.contains(.noContent), "\(statuses.count) answers")
            // The process lives, and the counts agree with the rows.
            #expect(try await enface.call(.get, "/healthz").status == .ok)
            let person = try await enface.call(.get, "/v1/persons/contested", key: tenant.key)
            if person.status == .ok {
                #expect(person["faceCount"] == .number(Double(person["faces"]?.arrayValue?.count ?? -1)), "\(person.body)")
            }
            let id = try #require(UUID(uuidString: tenant.id))
            let counts = try await ScratchDatabase.required().withPool(.app) { app in
                try await app.withTenant(id) { tx in
                    try await tx.query(
                        """
                        SELECT (SELECT face_count FROM tenants WHERE id = \(id))::int,
                               (SELECT count(*) FROM faces WHERE tenant_id = \(id))::int,
                               (SELECT coalesce(sum(face_count), 0) FROM persons WHERE tenant_id = \(id))::int
                        """
                    ).collect().first.map { try $0.decode((Int, Int, Int).self) }
                }
            }
            let (tenantCount, rows, personCount) = try #require(counts)
            #expect(tenantCount == rows && personCount == rows, "tenant \(tenantCount), rows \(rows), persons \(personCount)")
        }
    }
}
