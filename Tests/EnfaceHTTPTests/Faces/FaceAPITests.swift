// The face API over HTTP: enroll, verify, search, compare and delete, checked against exact
// answers computed here from the same vectors.

import Foundation
import HTTPTypes
import HummingbirdTesting
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct FaceAPITests {
    @Test func aPercentEncodedPersonIDNamesTheSamePerson() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings()
            let face: JSONValue = ["embedding": Embeddings.json(vectors.identity())]
            // A client library that encodes `@` (and one that does not) reach the same person.
            let encoded = try await enface.call(.post, "/v1/persons/a%40b.example/faces", key: tenant.key, json: face)
            #expect(encoded.status == .created && encoded["personId"] == "a@b.example", "\(encoded.body)")
            let plain = try await enface.call(.post, "/v1/persons/a@b.example/faces", key: tenant.key, json: face)
            #expect(plain.status == .created && plain["faceCount"] == 2, "\(plain.body)")
            // The person's link is encoded, and leads back to it.
            let location = try #require(plain.headers[.location])
            #expect(location == "/v1/persons/a%40b.example")
            #expect(try await enface.call(.get, location, key: tenant.key)["personId"] == "a@b.example")
            #expect(try await enface.call(.get, "/v1/persons/a%40B.example", key: tenant.key).code == "person_not_found")
            #expect(try await enface.call(.get, "/v1/persons/a%40b%2Eexample", key: tenant.key)["faceCount"] == 2)
            // A broken escape or an encoded slash is not a person id.
            for path in ["/v1/persons/a%4/faces", "/v1/persons/a%2Fb/faces", "/v1/persons/%zz/faces"] {
                let refused = try await enface.call(.post, path, key: tenant.key, json: face)
                #expect(refused.status == .unprocessableContent && refused.pointers == ["/personId"], "\(path): \(refused.body)")
            }
            #expect(try await enface.call(.delete, "/v1/persons/a%40b.example", key: tenant.key).status == .noContent)
            #expect(try await enface.call(.get, "/v1/persons/a@b.example", key: tenant.key).code == "person_not_found")
        }
    }

    /// A tenant with Alice (two faces, one sent in each encoding) and Bob (one face), and a new
    /// probe of Alice.
    struct Gallery {
        let tenant: CreatedTenant
        let probe: [Float]
        let bobFaceID: String
        var vectors: Embeddings

        init(_ enface: EnfaceClient, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            tenant = try await enface.createTenant()
            vectors = Embeddings()
            let alice = vectors.identity(), bob = vectors.identity()
            let asNumbers = try await enface.call(
                .post, "/v1/persons/alice/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.sample(of: alice))])
            try #require(asNumbers.status == .created, "\(asNumbers.body)", sourceLocation: sourceLocation)
            let asBase64 = try await enface.call(
                .post, "/v1/persons/alice/faces", key: tenant.key,
                json: ["embeddingBase64": .string(Embeddings.base64(vectors.sample(of: alice)))])
            try #require(asBase64.status == .created, "\(asBase64.body)", sourceLocation: sourceLocation)
            let bobFace = try await enface.call(
                .post, "/v1/persons/bob/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.sample(of: bob))])
            bobFaceID = try #require(bobFace["faceId"]?.stringValue, sourceLocation: sourceLocation)
            probe = vectors.sample(of: alice)
        }
    }

    @Test func anEnrollInEitherEncodingAddsAFaceToItsPerson() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings()
            let alice = vectors.identity()
            let first = try await enface.call(
                .post, "/v1/persons/alice/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.sample(of: alice))])
            #expect(first.status == .created, "\(first.body)")
            #expect(first["personId"] == "alice" && first["faceCount"] == 1 && first["faceId"]?.stringValue != nil)
            #expect(first.headers[.location] == "/v1/persons/alice")
            let second = try await enface.call(
                .post, "/v1/persons/alice/faces", key: tenant.key,
                json: ["embeddingBase64": .string(Embeddings.base64(vectors.sample(of: alice)))])
            #expect(second.status == .created && second["faceCount"] == 2)
        }
    }

    @Test func verifyMatchesThePersonsOwnFacesOnlyAndNamesItsThreshold() async throws {
        try await LiveService.run { enface in
            let gallery = try await Gallery(enface)
            let (key, probe) = (gallery.tenant.key, gallery.probe)
            let yes = try await enface.call(.post, "/v1/verify", key: key, json: ["personId": "alice", "embedding": Embeddings.json(probe)])
            #expect(yes.status == .ok && yes["match"] == true, "\(yes.body)")
            #expect(yes["threshold"]?.numberValue != nil)
            let no = try await enface.call(
                .post, "/v1/verify", key: key, json: ["personId": "bob", "embeddingBase64": .string(Embeddings.base64(probe))])
            #expect(no["match"] == false && no["faceId"]?.stringValue == gallery.bobFaceID)
        }
    }

    @Test func searchFindsThePersonAloneAboveTheThresholdAndAStrangerFindsNobody() async throws {
        try await LiveService.run { enface in
            var gallery = try await Gallery(enface)
            let found = try await enface.call(.post, "/v1/search", key: gallery.tenant.key, json: ["embedding": Embeddings.json(gallery.probe)])
            let matches = found["matches"]?.arrayValue ?? []
            #expect(matches.count == 1 && matches.first?["personId"] == "alice", "\(found.body)")
            let stranger = try await enface.call(
                .post, "/v1/search", key: gallery.tenant.key, json: ["embedding": Embeddings.json(gallery.vectors.identity())])
            #expect(stranger.status == .ok && stranger["matches"] == [])
        }
    }

    @Test func compareNeedsNoEnrolment() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings()
            let alice = vectors.identity(), bob = vectors.identity()
            let same = try await enface.call(
                .post, "/v1/compare", key: tenant.key,
                json: ["a": Embeddings.json(vectors.sample(of: alice)), "b": Embeddings.json(vectors.sample(of: alice))])
            #expect(same.status == .ok && same["match"] == true, "\(same.body)")
            let different = try await enface.call(
                .post, "/v1/compare", key: tenant.key,
                json: ["a": Embeddings.json(vectors.sample(of: alice)), "b": Embeddings.json(vectors.sample(of: bob))])
            #expect(different["match"] == false)
        }
    }

    @Test func personsAreListedAndReadWithTheirFaces() async throws {
        try await LiveService.run { enface in
            let gallery = try await Gallery(enface)
            let persons = try await enface.call(.get, "/v1/persons", key: gallery.tenant.key)
            #expect((persons["persons"]?.arrayValue ?? []).compactMap { $0["personId"]?.stringValue } == ["alice", "bob"])
            let alice = try await enface.call(.get, "/v1/persons/alice", key: gallery.tenant.key)
            #expect(alice["faceCount"] == 2 && alice["faces"]?.arrayValue?.count == 2)
        }
    }

    @Test func aDeletedFaceOrPersonIsGoneFromVerifyAndSearchAtOnce() async throws {
        try await LiveService.run { enface in
            let gallery = try await Gallery(enface)
            let (key, probe) = (gallery.tenant.key, Embeddings.json(gallery.probe))
            #expect(try await enface.call(.delete, "/v1/faces/\(gallery.bobFaceID)", key: key).status == .noContent)
            #expect(try await enface.call(.post, "/v1/verify", key: key, json: ["personId": "bob", "embedding": probe]).code == "person_not_found")
            #expect(try await enface.call(.delete, "/v1/persons/alice", key: key).status == .noContent)
            #expect(try await enface.call(.post, "/v1/search", key: key, json: ["embedding": probe])["matches"] == [])
            #expect(try await enface.call(.get, "/v1/persons/alice", key: key).code == "person_not_found")
            #expect(try await enface.call(.delete, "/v1/persons/alice", key: key).code == "person_not_found")
        }
    }

    @Test func searchEqualsAnExactReferenceAndSurvivesARestart() async throws {
        var vectors = Embeddings(seed: 7)
        let identities = (0..<20).map { _ in vectors.identity() }
        var faces: [(person: String, vector: [Float])] = []
        for (index, centre) in identities.enumerated() {
            for _ in 0..<3 { faces.append(("p\(index)", vectors.sample(of: centre))) }
        }
        let enrolled = faces
        let probes = identities.prefix(8).map { vectors.sample(of: $0, noise: 0.6) }
        let tenant = LockedBox<CreatedTenant?>(nil)
        let answers = LockedBox<[JSONValue]>([])
        try await LiveService.run { enface in
            let created = try await enface.createTenant(settings: ["matchThreshold": 0.2, "searchLimitMax": 20])
            await tenant.set(created)
            for face in enrolled {
                let reply = try await enface.call(.post, "/v1/persons/\(face.person)/faces", key: created.key, json: ["embedding": Embeddings.json(face.vector)])
                try #require(reply.status == .created)
            }
            for probe in probes {
                let reply = try await enface.call(.post, "/v1/search", key: created.key, json: ["embedding": Embeddings.json(probe), "limit": 5])
                await answers.set(await answers.value + [reply["matches"] ?? .null])
                // The reference: each person's best face by exact cosine, at or above 0.2, best first.
                var best: [String: Double] = [:]
                for face in enrolled { best[face.person] = max(best[face.person] ?? -2, Embeddings.cosine(probe, face.vector)) }
                let expected = best.filter { $0.value >= 0.2 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5)
                let got = (reply["matches"]?.arrayValue ?? []).compactMap(\.objectValue)
                #expect(got.map { $0["personId"]?.stringValue ?? "" } == expected.map(\.key))
                for (match, reference) in zip(got, expected) {
                    if case .number(let score)? = match["score"] { #expect(abs(score - reference.value) < 1e-5) }
                }
            }
        }
        // A new process loads the shard from the database and answers the same.
        let created = try #require(await tenant.value)
        let before = await answers.value
        try await LiveService.run { enface in
            for (index, probe) in probes.enumerated() {
                let reply = try await enface.call(.post, "/v1/search", key: created.key, json: ["embedding": Embeddings.json(probe), "limit": 5])
                #expect(reply["matches"] == before[index])
            }
        }
    }

    @Test func aTenantWithoutSearchableTemplatesKeepsNoneAndStillSearches() async throws {
        var vectors = Embeddings(seed: 9)
        let alice = vectors.identity()
        let (sample, probe) = (vectors.sample(of: alice), vectors.sample(of: alice))
        let tenant = LockedBox<CreatedTenant?>(nil)
        try await LiveService.run { enface in
            let created = try await enface.createTenant(plan: "pro", settings: ["searchableTemplates": false])
            await tenant.set(created)
            #expect(try await enface.call(.post, "/v1/persons/alice/faces", key: created.key, json: ["embedding": Embeddings.json(sample)]).status == .created)
        }
        let created = try #require(await tenant.value)
        let database = try ScratchDatabase.required()
        let nulls = try await database.withPool(.app) { app in
            try await app.withTenant(UUID(uuidString: created.id)!) { tx in
                try await tx.query("SELECT count(*)::int FROM faces WHERE template IS NULL").collect().first!.decode(Int.self)
            }
        }
        #expect(nulls == 1)
        try await LiveService.run { enface in
            let found = try await enface.call(.post, "/v1/search", key: created.key, json: ["embedding": Embeddings.json(probe)])
            #expect(found["matches"]?.arrayValue?.first?.objectValue?["personId"] == "alice", "\(found.body)")
        }
    }
}
