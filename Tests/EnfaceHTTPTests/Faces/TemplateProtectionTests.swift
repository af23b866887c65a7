// What the database holds of a face: a sealed template it cannot read, and a rotation of it
// that pgvector can compare but that is not the model's embedding.

import Foundation
import PostgresNIO
import Storage
import Tenancy
import TemplateProtection
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct TemplateProtectionTests {
    @Test func sealedTemplatesOpenOnlyForTheirTenantFaceAndModelAndPgvectorAgreesWithMemory() async throws {
        var vectors = Embeddings(seed: 11)
        let alice = vectors.identity()
        let template = vectors.sample(of: alice)
        let probe = vectors.sample(of: alice)
        let ids = LockedBox<(tenant: String, other: String, face: String, score: Double)?>(nil)
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            let other = try await enface.createTenant()
            let enrolled = try await enface.call(.post, "/v1/persons/alice/faces", key: tenant.key, json: ["embedding": Embeddings.json(template)])
            let verified = try await enface.call(.post, "/v1/verify", key: tenant.key, json: ["personId": "alice", "embedding": Embeddings.json(probe)])
            guard case .number(let score)? = verified["score"] else { Issue.record("no score"); return }
            await ids.set((tenant.id, other.id, try #require(enface.call(.get, "/v1/persons/alice", key: tenant.key)["faces"]?.arrayValue?.first?.objectValue?["faceId"]?.stringValue), score))
            #expect(enrolled.status == .created)
        }
        let (tenantText, otherText, faceText, memoryScore) = try #require(await ids.value)
        let (tenantID, otherID, faceID) = (UUID(uuidString: tenantText)!, UUID(uuidString: otherText)!, UUID(uuidString: faceText)!)
        let master = try MasterKey(text: TestConfiguration.masterKey)
        let database = try ScratchDatabase.required()

        let (wrappedTenant, wrappedOther) = try await database.withPool(.admin) { admin in
            (try await Self.wrappedKey(tenantID, admin), try await Self.wrappedKey(otherID, admin))
        }
        let tenantKey = try master.unwrapTenantKey(wrappedTenant, tenantID: tenantID)
        let otherKey = try master.unwrapTenantKey(wrappedOther, tenantID: otherID)
        let rotated = tenantKey.rotation(dimension: 512).apply(Embeddings.unit(probe))

        try await database.withPool(.app) { app in
            try await app.withTenant(tenantID) { tx in
                let row = try await tx.query(
                    "SELECT f.sealed, p.wrapped_key, 1 - (f.template <=> \(FaceRepository.vectorText(rotated))::vector) FROM faces f JOIN persons p ON p.tenant_id = f.tenant_id AND p.id = f.person_id WHERE f.tenant_id = \(tenantID)"
                ).collect().first!
                let (sealedBuffer, wrappedBuffer, sqlScore) = try row.decode((ByteBuffer, ByteBuffer, Double).self)
                let sealed = Data(sealedBuffer.readableBytesView), wrappedPerson = Data(wrappedBuffer.readableBytesView)
                // The raw float32 bytes of the template are nowhere in the sealed bytes.
                let raw = Data(base64Encoded: Embeddings.base64(Embeddings.unit(template)))!
                #expect(sealed.range(of: raw.prefix(16)) == nil && sealed.range(of: raw.suffix(16)) == nil)
                // pgvector over the rotated templates scores as memory does.
                #expect(abs(sqlScore - memoryScore) < 1e-5, "\(sqlScore) vs \(memoryScore)")
                // It opens with its own keys, for its own face and model only.
                let personKey = try tenantKey.unwrapPersonKey(wrappedPerson, tenantID: tenantID, personID: "alice")
                let opened = try personKey.open(sealed, tenantID: tenantID, faceID: faceID, model: "arcface-buffalo-l")
                #expect(zip(opened, Embeddings.unit(template)).allSatisfy { abs($0 - $1) < 1e-6 })
                #expect(throws: KeyError.cannotUnwrap) { try otherKey.unwrapPersonKey(wrappedPerson, tenantID: tenantID, personID: "alice") }
                #expect(throws: KeyError.cannotUnwrap) { try tenantKey.unwrapPersonKey(wrappedPerson, tenantID: tenantID, personID: "bob") }
                #expect(throws: KeyError.cannotUnwrap) { try personKey.open(sealed, tenantID: tenantID, faceID: UUID(), model: "arcface-buffalo-l") }
                #expect(throws: KeyError.cannotUnwrap) { try personKey.open(sealed, tenantID: otherID, faceID: faceID, model: "arcface-buffalo-l") }
                #expect(throws: KeyError.cannotUnwrap) { try personKey.open(sealed, tenantID: tenantID, faceID: faceID, model: "facenet512") }
                // The stored vector is not the template: the rotation hides it.
                let stored = try await tx.query("SELECT template::text FROM faces WHERE tenant_id = \(tenantID)").collect().first!.decode(String.self)
                let storedVector = stored.dropFirst().dropLast().split(separator: ",").compactMap { Float($0) }
                #expect(abs(Embeddings.cosine(storedVector, Embeddings.unit(template) + [Float](repeating: 0, count: storedVector.count - 512))) < 0.3)
            }
        }

        // Deleting the person deletes its wrapped key.
        try await LiveService.run { enface in
            let key = try await enface.admin(.post, "/tenants/\(tenantText)/keys", json: ["name": "w", "scopes": ["faces:write"]])
            #expect(try await enface.call(.delete, "/v1/persons/alice", key: key["apiKey"]?.stringValue).status == .noContent)
        }
        let left = try await database.withPool(.app) { app in
            try await app.withTenant(tenantID) { tx in
                try await tx.query("SELECT (SELECT count(*) FROM persons)::int, (SELECT count(*) FROM faces)::int").collect().first!.decode((Int, Int).self)
            }
        }
        #expect(left == (0, 0))
    }

    /// Turning searchable templates off removes what the column held; faces enrolled while it
    /// was off are still found once it is on again, even while the tenant's shard is cold (before,
    /// pgvector skipped them: they had no template to compare).
    @Test func searchableTemplatesOffEmptiesTheColumnAndFacesEnrolledMeanwhileAreFoundCold() async throws {
        var vectors = Embeddings(seed: 12)
        let (alice, bob) = (vectors.identity(), vectors.identity())
        let tenant = LockedBox<CreatedTenant?>(nil)
        let templates = Self.templates
        try await LiveService.run { enface in
            let created = try await enface.createTenant(plan: "pro")
            await tenant.set(created)
            #expect(try await enface.call(.post, "/v1/persons/bob/faces", key: created.key, json: ["embedding": Embeddings.json(bob)]).status == .created)
            #expect(try await templates(created.id) == [1, 0])
            let off = try await enface.call(.patch, "/v1/tenant/settings", key: created.key, json: ["searchableTemplates": false])
            #expect(off.status == .ok, "\(off.body)")
            #expect(try await templates(created.id) == [0, 1])
            #expect(try await enface.call(.post, "/v1/persons/alice/faces", key: created.key, json: ["embedding": Embeddings.json(alice)]).status == .created)
            #expect(try await enface.call(.patch, "/v1/tenant/settings", key: created.key, json: ["searchableTemplates": true]).status == .ok)
        }
        let created = try #require(await tenant.value)
        // A fresh node with a memory budget: the shard is cold, so pgvector would answer.
        for _ in 0..<2 {
            try await LiveService.run(["ENFACE_INDEX_MEMORY_BUDGET": "1K"]) { enface in
                let found = try await enface.call(.post, "/v1/search", key: created.key, json: ["embedding": Embeddings.json(alice)])
                #expect(found["matches"]?.arrayValue?.first?.objectValue?["personId"] == "alice", "\(found.body)")
                // The shard's load wrote the missing templates back.
                try await poll(timeout: .seconds(10), "the templates to be filled in") {
                    try await templates(created.id) == [2, 0] ? true : nil
                }
            }
        }
    }

    /// The tenant's faces with a rotated template and without one.
    static func templates(_ id: String) async throws -> [Int] {
        try await ScratchDatabase.required().withPool(.app) { app in
            try await app.withTenant(try #require(UUID(uuidString: id))) { tx in
                try await tx.query("SELECT count(template)::int, (count(*) - count(template))::int FROM faces").collect()
                    .first.map { let (kept, empty) = try $0.decode((Int, Int).self); return [kept, empty] } ?? []
            }
        }
    }

    @Test func theRotationPreservesCosinesAndDependsOnTheTenant() throws {
        var vectors = Embeddings(dimension: 128, seed: 5)
        let (a, b) = (vectors.identity(), vectors.identity())
        let one = TenantKey.generate().rotation(dimension: 128), two = TenantKey.generate().rotation(dimension: 128)
        #expect(abs(Embeddings.cosine(one.apply(a), one.apply(b)) - Embeddings.cosine(a, b)) < 1e-5)
        #expect(abs(Embeddings.cosine(one.apply(a), two.apply(a))) < 0.4)
        let padded = TenantKey.generate().rotation(dimension: 100)
        #expect(padded.outputDimension == 128)
        let (c, d) = (Array(a.prefix(100)), Array(b.prefix(100)))
        #expect(abs(Embeddings.cosine(padded.apply(c), padded.apply(d)) - Embeddings.cosine(c, d)) < 1e-5)
    }

    static func wrappedKey(_ id: UUID, _ admin: PostgresPool) async throws -> Data {
        try await admin.withTenant(id) { tx in
            try #require(try await TenantRepository.wrappedKey(of: id, on: tx.connection, logger: tx.logger)).key
        }
    }
}
