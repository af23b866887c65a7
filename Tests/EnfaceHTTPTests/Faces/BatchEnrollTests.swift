// Bulk enroll over HTTP: each item answered on its own and checked as a single enroll is, what
// passes committed together and searchable at once; and `Idempotency-Key`, which makes a retried
// enroll (single or batch, even a concurrent one) answer the first answer and enroll nothing.

import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct BatchEnrollTests {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    @Test func aBatchAnswersEachItemAsASingleEnrollWouldAndWhatPassesIsSearchable() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["maxFaces": 6], settings: ["maxFacesPerPerson": 2])
            var vectors = Embeddings(seed: 21)
            let faces = (0..<8).map { _ in vectors.identity() }
            let items: [JSONValue] = [
                ["personId": "p1", "embeddingBase64": .string(Embeddings.base64(faces[0]))],
                ["personId": "p1", "embedding": Embeddings.json(faces[1])],
                ["personId": "p1", "embedding": Embeddings.json(faces[2])],  // the person's third: over its limit
                ["personId": "not an id", "embedding": Embeddings.json(faces[3])],
                ["personId": "p2", "embedding": Embeddings.json(Array(faces[3].prefix(128)))],
                ["personId": "p2", "embedding": Embeddings.json(faces[3])],
                ["personId": "p3", "embedding": Embeddings.json(faces[4])],
                ["personId": "p4", "embedding": Embeddings.json(faces[5]), "image": "x"],
                ["personId": "p4", "embedding": Embeddings.json(faces[5])],
                ["personId": "p5", "embedding": Embeddings.json(faces[6])],
                ["personId": "p6", "embedding": Embeddings.json(faces[7])],  // the tenant's seventh: over its quota
            ]
            let answer = try await enface.call(.post, "/v1/faces:batch", key: tenant.key, json: ["faces": .array(items)])
            #expect(answer.status == .ok, "\(answer.body)")
            let results = try #require(answer["results"]?.arrayValue)
            #expect(results.map { $0["status"]?.numberValue } == [201, 201, 409, 422, 422, 201, 201, 422, 201, 201, 409])
            #expect(results.map { $0["problem"]?["code"]?.stringValue } == [
                nil, nil, "max_faces_per_person", "validation_failed", "dimension_mismatch", nil, nil, "validation_failed", nil, nil,
                "face_quota_exceeded",
            ])
            #expect(results[3]["problem"]?["errors"]?[0]?["pointer"] == "/faces/3/personId")
            #expect(results[7]["problem"]?["errors"]?[0]?["pointer"] == "/faces/7/image")
            #expect(results[1]["face"]?["faceCount"] == 2 && results[1]["face"]?["personId"] == "p1")
            #expect(answer["enrolled"] == 6 && answer["refused"] == 5)

            // Committed and in the shard: every enrolled face finds its person first.
            for (index, person) in [(0, "p1"), (1, "p1"), (3, "p2"), (4, "p3"), (5, "p4"), (6, "p5")] {
                let found = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(faces[index])])
                #expect(found["matches"]?[0]?["personId"]?.stringValue == person, "\(found.body)")
            }
            let p1 = try await enface.call(.get, "/v1/persons/p1", key: tenant.key)
            #expect(p1["faceCount"] == 2 && p1["faces"]?.arrayValue?.count == 2)
            // The quota is used up: a single enroll says so too.
            let full = try await enface.call(.post, "/v1/persons/p7/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.identity())])
            #expect(full.code == "face_quota_exceeded")
        }
    }

    @Test func eachItemMeetsTheTenantsDuplicateCheck() async throws {
        try await LiveService.run { enface in
            var vectors = Embeddings(seed: 25)
            let known = vectors.identity()
            for mode in ["warn", "refuse"] {
                let tenant = try await enface.createTenant(settings: ["duplicateCheck": .string(mode), "matchThreshold": 0.5])
                #expect(try await enface.call(.post, "/v1/persons/known/faces", key: tenant.key, json: ["embedding": Embeddings.json(known)]).status == .created)
                let items: [JSONValue] = [
                    ["personId": "impostor", "embedding": Embeddings.json(vectors.sample(of: known, noise: 0.3))],
                    ["personId": "known", "embedding": Embeddings.json(vectors.sample(of: known, noise: 0.3))],
                    ["personId": "stranger", "embedding": Embeddings.json(vectors.identity())],
                ]
                let answer = try await enface.call(.post, "/v1/faces:batch", key: tenant.key, json: ["faces": .array(items)])
                let results = try #require(answer["results"]?.arrayValue, "\(answer.body)")
                if mode == "warn" {
                    #expect(results.map { $0["status"]?.numberValue } == [201, 201, 201])
                    #expect(results.map { $0["face"]?["possibleDuplicateCount"]?.numberValue } == [1, 0, 0])
                    #expect(results[0]["face"]?["possibleDuplicates"]?[0]?["personId"] == "known")
                } else {
                    #expect(results.map { $0["status"]?.numberValue } == [409, 201, 201])
                    #expect(results[0]["problem"]?["code"] == "possible_duplicate" && results[0]["problem"]?["possibleDuplicateCount"] == 1)
                    #expect(try await enface.call(.get, "/v1/persons/impostor", key: tenant.key).status == .notFound)
                }
            }
        }
    }

    @Test func aBatchThatIsNotOneIsRefusedWholeAndChangesNothing() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings(seed: 22)
            let one: JSONValue = ["personId": "p", "embedding": Embeddings.json(vectors.identity())]
            for (body, pointer) in [
                (JSONValue.object(["faces": .array([])]), "/faces"),
                (["faces": .array(Array(repeating: ["personId": "p"], count: 1_001))], "/faces"),
                (["faces": one], "/faces"),
                (["faces": .array([one]), "tenantId": "00000000-0000-0000-0000-000000000000"], "/tenantId"),
                ([:], "/faces"),
            ] {
                let refused = try await enface.call(.post, "/v1/faces:batch", key: tenant.key, json: body)
                #expect(refused.status == .unprocessableContent && refused.pointers == [pointer], "\(refused.body)")
            }
            #expect(try await enface.call(.get, "/v1/persons", key: tenant.key)["persons"]?.arrayValue?.isEmpty == true)
            // Enrolling needs faces:write, in a batch as one at a time.
            let reader = try await enface.admin(.post, "/tenants/\(tenant.id)/keys", json: ["name": "reader", "scopes": ["faces:read", "search"]])
            let readerKey = try #require(reader["apiKey"]?.stringValue, "\(reader.body)")
            let denied = try await enface.call(.post, "/v1/faces:batch", key: readerKey, json: ["faces": .array([one])])
            #expect(denied.status == .forbidden && denied.code == "insufficient_scope")
        }
    }

    @Test func aRetriedEnrollWithItsKeyAnswersTheFirstAnswerAndEnrollsOnce() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings(seed: 23)
            let face: JSONValue = ["embedding": Embeddings.json(vectors.identity())]
            let key: HTTPFields = [Self.idempotencyKey: "enroll-0001"]
            let first = try await enface.call(.post, "/v1/persons/ann/faces", key: tenant.key, headers: key, json: face)
            let again = try await enface.call(.post, "/v1/persons/ann/faces", key: tenant.key, headers: key, json: face)
            #expect(first.status == .created && first.headers[.location] == "/v1/persons/ann")
            #expect(first.headers[IdempotentHeaders.replayed] == nil)
            #expect(again.status == .created && again.headers[IdempotentHeaders.replayed] == "true" && again.headers[.location] == "/v1/persons/ann")
            #expect(again["faceId"] == first["faceId"] && again["faceCount"] == 1)
            #expect(try await enface.call(.get, "/v1/persons/ann", key: tenant.key)["faceCount"] == 1)

            // The key with another body, or another path, is refused and changes nothing.
            let other: JSONValue = ["embedding": Embeddings.json(vectors.identity())]
            let reused = try await enface.call(.post, "/v1/persons/ann/faces", key: tenant.key, headers: key, json: other)
            #expect(reused.status == .unprocessableContent && reused.code == "idempotency_key_reused", "\(reused.body)")
            let elsewhere = try await enface.call(.post, "/v1/persons/bob/faces", key: tenant.key, headers: key, json: face)
            #expect(elsewhere.code == "idempotency_key_reused")
            #expect(try await enface.call(.get, "/v1/persons/bob", key: tenant.key).status == .notFound)
            // Another credential of the tenant does not get this one's answer.
            let second = try await enface.admin(.post, "/tenants/\(tenant.id)/keys", json: ["name": "second", "scopes": ["faces:write"]])
            let secondKey = try #require(second["apiKey"]?.stringValue, "\(second.body)")
            let borrowed = try await enface.call(.post, "/v1/persons/ann/faces", key: secondKey, headers: key, json: face)
            #expect(borrowed.code == "idempotency_key_reused")
            // Another tenant's keys are its own: the same text enrolls there.
            let neighbour = try await enface.createTenant()
            let theirs = try await enface.call(.post, "/v1/persons/ann/faces", key: neighbour.key, headers: key, json: face)
            #expect(theirs.status == .created && theirs.headers[IdempotentHeaders.replayed] == nil && theirs["faceId"] != first["faceId"])
            // A key that is not 1–255 printable characters is a 400 before anything happens.
            for bad in [String(repeating: "k", count: 256), "has space", "ümlaut"] {
                let refused = try await enface.call(
                    .post, "/v1/persons/cid/faces", key: tenant.key, headers: [Self.idempotencyKey: bad], json: face)
                #expect(refused.status == .badRequest && refused.code == "invalid_idempotency_key", "\(bad)")
            }
            #expect(try await enface.call(.get, "/v1/persons/cid", key: tenant.key).status == .notFound)
        }
    }

    @Test func eightConcurrentSendingsOfOneBatchEnrollItOnceAndAllGetItsAnswer() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["requestsPerMinute": 1_000])
            var vectors = Embeddings(seed: 24)
            let items = (0..<50).map { index -> JSONValue in
                ["personId": .string("person-\(index % 20)"), "embeddingBase64": .string(Embeddings.base64(vectors.identity()))]
            }
            let body = JSONValue.object(["faces": .array(items)]).canonical
            let port = try #require(enface.port)
            let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?, String).self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) { client in
                            let response = try await client.execute(.init(
                                "/v1/faces:batch", method: .post, authority: "127.0.0.1",
                                headers: [EnfaceClient.apiKey: tenant.key, .contentType: "application/json", Self.idempotencyKey: "batch-1"],
                                body: ByteBuffer(string: body)))
                            return (response.status, response.headers[IdempotentHeaders.replayed], response.body.map { String(buffer: $0) } ?? "")
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.0 == .ok })
            #expect(answers.filter { $0.1 == nil }.count == 1 && answers.filter { $0.1 == "true" }.count == 7)
            #expect(Set(answers.map(\.2)).count == 1, "every sending gets the same answer")
            let first = try #require(JSONValue.parse(Data(answers[0].2.utf8)))
            #expect(first["enrolled"] == 50)
            var faces = 0
            for index in 0..<20 {
                faces += try await enface.call(.get, "/v1/persons/person-\(index)", key: tenant.key)["faceCount"]?.numberValue.map(Int.init) ?? 0
            }
            #expect(faces == 50)
        }
    }
}

extension BatchEnrollTests {
    /// Batches of new persons at once: each inserts its persons (a key-share lock on the tenant's
    /// row) before it takes the row; they once waited for each other until PostgreSQL broke the
    /// deadlock with a 500.
    @Test func concurrentBatchesOfNewPersonsAllCommit() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["requestsPerMinute": 1_000])
            var vectors = Embeddings(seed: 26)
            let bodies = (0..<6).map { batch in
                JSONValue.object(["faces": .array((0..<200).map { index -> JSONValue in
                    ["personId": .string("b\(batch)-\(index)"), "embeddingBase64": .string(Embeddings.base64(vectors.identity()))]
                })]).canonical
            }
            let port = try #require(enface.port)
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, Double?).self) { group in
                for body in bodies {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) { client in
                            let response = try await client.execute(.init(
                                "/v1/faces:batch", method: .post, authority: "127.0.0.1",
                                headers: [EnfaceClient.apiKey: tenant.key, .contentType: "application/json"], body: ByteBuffer(string: body)))
                            let answer = response.body.flatMap { JSONValue.parse(Data(buffer: $0)) }
                            return (response.status, answer?["enrolled"]?.numberValue)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0.0 == .ok && $0.1 == 200 }, "\(statuses)")
            let first = try await enface.call(.get, "/v1/persons?limit=1000", key: tenant.key)
            let next = try #require(first["next"]?.stringValue)
            let second = try await enface.call(.get, "/v1/persons?limit=1000&after=\(next)", key: tenant.key)
            #expect((first["persons"]?.arrayValue?.count ?? 0) + (second["persons"]?.arrayValue?.count ?? 0) == 1_200)
            #expect(second["next"]?.stringValue == nil, "the last page says there is no other")
            // A last page that is exactly full says so too: no `next` to an empty page.
            let exact = try await enface.call(.get, "/v1/persons?limit=200&after=\(next)", key: tenant.key)
            #expect(exact["persons"]?.arrayValue?.count == 200 && exact["next"]?.stringValue == nil, "\(exact["next"] ?? .null)")
        }
    }
}

enum IdempotentHeaders {
    static let replayed = HTTPField.Name("Idempotent-Replayed")!
}
