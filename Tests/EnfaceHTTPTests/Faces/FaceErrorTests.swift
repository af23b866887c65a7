// Every way to send the face API something wrong: a clear 4xx with its stable code, and
// nothing changed.

import Foundation
import HTTPTypes
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct FaceErrorTests {
    static func base64(_ values: [Float]) -> JSONValue { .string(Embeddings.base64(values)) }

    @Test func badEmbeddingsAndBodiesAreRefusedAndChangeNothing() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(settings: ["searchLimitMax": 10])
            var vectors = Embeddings(seed: 21)
            let good = vectors.identity()
            _ = try await enface.call(.post, "/v1/persons/keeper/faces", key: tenant.key, json: ["embedding": Embeddings.json(good)])
            var nan = good, infinite = good
            nan[7] = .nan
            infinite[100] = .infinity
            let enroll = "/v1/persons/someone/faces"
            let cases: [(String, String, String?, JSONValue?, String, HTTPResponse.Status)] = [
                ("128-d for a 512-d model", enroll, nil, ["embedding": Embeddings.json(Array(good.prefix(128)))], "dimension_mismatch", .unprocessableContent),
                ("NaN", enroll, nil, ["embeddingBase64": Self.base64(nan)], "invalid_embedding", .unprocessableContent),
                ("infinity", enroll, nil, ["embeddingBase64": Self.base64(infinite)], "invalid_embedding", .unprocessableContent),
                ("zero vector", enroll, nil, ["embedding": Embeddings.json([Float](repeating: 0, count: 512))], "invalid_embedding", .unprocessableContent),
                ("strings in the vector", enroll, nil, ["embedding": ["a", "b"]], "validation_failed", .unprocessableContent),
                ("empty vector", enroll, nil, ["embedding": []], "validation_failed", .unprocessableContent),
                ("both encodings", enroll, nil, ["embedding": Embeddings.json(good), "embeddingBase64": Self.base64(good)], "validation_failed", .unprocessableContent),
                ("no embedding", enroll, nil, [:], "validation_failed", .unprocessableContent),
                ("an unknown field", enroll, nil, ["embedding": Embeddings.json(good), "tenantId": .string(UUID().uuidString)], "validation_failed", .unprocessableContent),
                ("base64 that is not", enroll, nil, ["embeddingBase64": "%%%"], "validation_failed", .unprocessableContent),
                ("base64 of 3 bytes", enroll, nil, ["embeddingBase64": "AAAA"], "validation_failed", .unprocessableContent),
                ("malformed JSON", enroll, "{\"embedding\": [1, 2", nil, "malformed_json", .badRequest),
                ("a number too large for JSON", enroll, "{\"embedding\": [1e999]}", nil, "malformed_json", .badRequest),
                ("an array body", enroll, "[1, 2, 3]", nil, "validation_failed", .unprocessableContent),
                ("a person id too long", "/v1/persons/\(String(repeating: "x", count: 129))/faces", nil, ["embedding": Embeddings.json(good)], "validation_failed", .unprocessableContent),
                ("a person id with a space", "/v1/persons/a%20b/faces", nil, ["embedding": Embeddings.json(good)], "validation_failed", .unprocessableContent),
                ("verify without a person", "/v1/verify", nil, ["embedding": Embeddings.json(good)], "validation_failed", .unprocessableContent),
                ("verify an unknown person", "/v1/verify", nil, ["personId": "nobody", "embedding": Embeddings.json(good)], "person_not_found", .notFound),
                ("verify a bad person id", "/v1/verify", nil, ["personId": "no/pe", "embedding": Embeddings.json(good)], "validation_failed", .unprocessableContent),
                ("search limit 0", "/v1/search", nil, ["embedding": Embeddings.json(good), "limit": 0], "validation_failed", .unprocessableContent),
                ("search limit over searchLimitMax", "/v1/search", nil, ["embedding": Embeddings.json(good), "limit": 11], "validation_failed", .unprocessableContent),
                ("search minScore over 1", "/v1/search", nil, ["embedding": Embeddings.json(good), "minScore": 1.5], "validation_failed", .unprocessableContent),
                ("search wrong dimension", "/v1/search", nil, ["embedding": Embeddings.json(Array(good.prefix(500)))], "dimension_mismatch", .unprocessableContent),
                ("compare with one probe", "/v1/compare", nil, ["a": Embeddings.json(good)], "validation_failed", .unprocessableContent),
                ("compare a zero vector", "/v1/compare", nil, ["a": Embeddings.json(good), "b": Embeddings.json([Float](repeating: 0, count: 512))], "invalid_embedding", .unprocessableContent),
            ]
            for (what, path, raw, json, code, status) in cases {
                let reply = try await enface.call(.post, path, key: tenant.key, json: json, body: raw)
                #expect(reply.status == status && reply.code == code, "\(what): \(reply.status) \(reply.body)")
                #expect(reply.headers[.contentType] == "application/problem+json", "\(what)")
            }
            let text = try await enface.call(.post, enroll, key: tenant.key, headers: [.contentType: "text/plain"], body: "hello")
            #expect(text.status == .unsupportedMediaType && text.code == "unsupported_media_type")

            // Nothing changed: one person, one face.
            let persons = try await enface.call(.get, "/v1/persons", key: tenant.key)
            #expect((persons["persons"]?.arrayValue ?? []).compactMap { $0.objectValue?["personId"]?.stringValue } == ["keeper"])
            #expect(try await enface.call(.get, "/v1/persons/keeper", key: tenant.key)["faceCount"] == 1)
            #expect(try await enface.call(.get, "/v1/persons?limit=0", key: tenant.key).code == "validation_failed")
            #expect(try await enface.call(.get, "/v1/persons?after=a%20b", key: tenant.key).code == "validation_failed")
        }
    }

    @Test func anotherTenantsFacesAndPersonsAreNotFoundLikeMissingOnes() async throws {
        try await LiveService.run { enface in
            let a = try await enface.createTenant()
            let b = try await enface.createTenant()
            var vectors = Embeddings(seed: 22)
            let face = vectors.identity()
            let enrolled = try await enface.call(.post, "/v1/persons/secret/faces", key: b.key, json: ["embedding": Embeddings.json(face)])
            let bFace = try #require(enrolled["faceId"]?.stringValue)

            let foreignFace = try await enface.call(.delete, "/v1/faces/\(bFace)", key: a.key)
            let missingFace = try await enface.call(.delete, "/v1/faces/\(UUID().uuidString.lowercased())", key: a.key)
            #expect(foreignFace.status == .notFound && foreignFace.bodyWithoutRequestID == missingFace.bodyWithoutRequestID)
            #expect(try await enface.call(.delete, "/v1/faces/not-a-uuid", key: a.key).code == "face_not_found")
            let foreignPerson = try await enface.call(.get, "/v1/persons/secret", key: a.key)
            let missingPerson = try await enface.call(.get, "/v1/persons/nobody", key: a.key)
            #expect(foreignPerson.code == "person_not_found" && foreignPerson.bodyWithoutRequestID.objectValue?["detail"] == missingPerson.bodyWithoutRequestID.objectValue?["detail"])
            #expect(try await enface.call(.delete, "/v1/persons/secret", key: a.key).code == "person_not_found")
            #expect(try await enface.call(.post, "/v1/verify", key: a.key, json: ["personId": "secret", "embedding": Embeddings.json(face)]).code == "person_not_found")
            #expect(try await enface.call(.post, "/v1/search", key: a.key, json: ["embedding": Embeddings.json(face)])["matches"] == [])
            // b still has everything.
            #expect(try await enface.call(.get, "/v1/persons/secret", key: b.key)["faceCount"] == 1)
            #expect(try await enface.call(.post, "/v1/search", key: b.key, json: ["embedding": Embeddings.json(face)])["matches"]?.arrayValue?.count == 1)
        }
    }

    @Test func scopesGuardEveryFaceRoute() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            let searchOnly = try #require(try await enface.admin(
                .post, "/tenants/\(tenant.id)/keys", json: ["name": "kiosk", "scopes": ["search"]])["apiKey"]?.stringValue)
            var vectors = Embeddings(seed: 23)
            let body: JSONValue = ["embedding": Embeddings.json(vectors.identity())]
            #expect(try await enface.call(.post, "/v1/persons/x/faces", key: searchOnly, json: body).code == "insufficient_scope")
            #expect(try await enface.call(.get, "/v1/persons", key: searchOnly).code == "insufficient_scope")
            #expect(try await enface.call(.delete, "/v1/persons/x", key: searchOnly).code == "insufficient_scope")
            #expect(try await enface.call(.post, "/v1/verify", key: searchOnly, json: body).code == "insufficient_scope")
            #expect(try await enface.call(.post, "/v1/search", key: searchOnly, json: body).status == .ok)
        }
    }
}
