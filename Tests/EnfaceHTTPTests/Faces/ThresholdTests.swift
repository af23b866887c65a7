// Thresholds a tenant can reason about, over HTTP: set as a false-match rate (1:1) or a
// false-positive identification rate (1:N, rising with the gallery), named in every answer; the
// duplicate check at enroll in its three modes; and the tenant's own calibration, checked against
// scores computed here from the same vectors.

import FaceService
import Foundation
import HTTPTypes
import Storage
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct ThresholdTests {
    /// dlib-resnet-v1's measured operating points (models/dlib-resnet-v1.json).
    static let points = (looser: (rate: 0.01, threshold: 0.8927), strictest: (rate: 0.002, threshold: 0.9072))

    /// The threshold at `rate` beyond the strictest point: on the line through the last two in
    /// log(FMR), rounded up to 4 decimals, as the service reads it.
    static func extrapolated(_ rate: Double) -> Double {
        let (a, b) = (points.looser, points.strictest)
        let value = b.threshold + (b.threshold - a.threshold) / (log10(b.rate) - log10(a.rate)) * (log10(rate) - log10(b.rate))
        return (min(1, value) * 10_000).rounded(.up) / 10_000
    }

    @Test func ratesGiveTheModelsThresholdRisingWithTheGalleryAndAnswersNameIt() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(settings: ["falseMatchRate": 0.01], model: "dlib-resnet-v1")
            var vectors = Embeddings(dimension: 128)
            let alice = vectors.identity()
            let pair: JSONValue = ["a": Embeddings.json(alice), "b": Embeddings.json(vectors.sample(of: alice))]
            let compared = try await enface.call(.post, "/v1/compare", key: tenant.key, json: pair)
            #expect(compared["threshold"] == 0.8927 && compared["thresholdSource"] == "fmr=0.01", "\(compared.body)")
            let shown = try await enface.admin(.get, "/tenants/\(tenant.id)")
            #expect(shown["effectiveMatchThreshold"] == 0.8927 && shown["effectiveThresholdSource"] == "fmr=0.01")

            // 1:N at an identification rate: the threshold for one face, then for ten (one each of ten persons).
            let fpir = try await enface.call(
                .patch, "/v1/tenant/settings", key: tenant.key, json: ["falsePositiveIdentificationRate": 0.01])
            #expect(fpir.status == .ok && fpir["settings"]?["falseMatchRate"] == 0.01, "\(fpir.body)")
            let probe: JSONValue = ["embedding": Embeddings.json(alice)]
            #expect(try await enface.call(.post, "/v1/persons/p0/faces", key: tenant.key, json: probe).status == .created)
            let one = try await enface.call(.post, "/v1/search", key: tenant.key, json: probe)
            #expect(one["threshold"] == 0.8927 && one["thresholdSource"] == "fpir=0.01 at 1 face (fmr=0.01)", "\(one.body)")
            for person in 1..<10 {
                let face: JSONValue = ["embedding": Embeddings.json(vectors.identity())]
                #expect(try await enface.call(.post, "/v1/persons/p\(person)/faces", key: tenant.key, json: face).status == .created)
            }
            let ten = try await enface.call(.post, "/v1/search", key: tenant.key, json: probe)
            let rate = 1 - pow(0.99, 0.1)
            #expect(ten["threshold"]?.numberValue == Self.extrapolated(rate), "\(ten.body)")
            #expect(
                ten["thresholdSource"]?.stringValue
                    == "fpir=0.01 at 10 faces (fmr=0.001), extrapolated beyond the strictest point measured (fmr=0.002)")
            // Verify stays at the 1:1 rate; a stricter minScore wins and says so.
            let verified = try await enface.call(.post, "/v1/verify", key: tenant.key, json: ["personId": "p0", "embedding": Embeddings.json(alice)])
            #expect(verified["threshold"] == 0.8927 && verified["match"] == true)
            let strict = try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(alice), "minScore": 0.99])
            #expect(strict["threshold"] == 0.99 && strict["thresholdSource"] == "minScore")

            // A number clears the rates; both at once is a conflict, and changes nothing.
            let both = try await enface.call(
                .patch, "/v1/tenant/settings", key: tenant.key, json: ["matchThreshold": 0.9, "falseMatchRate": 0.001])
            #expect(both.status == .unprocessableContent && both.pointers == ["/falseMatchRate"] && both["errors"]?[0]?["code"] == "conflict")
            let number = try await enface.call(.patch, "/v1/tenant/settings", key: tenant.key, json: ["matchThreshold": 0.95])
            #expect(number["settings"]?["falseMatchRate"] == nil && number["effectiveThresholdSource"] == "matchThreshold")
            #expect(try await enface.call(.post, "/v1/search", key: tenant.key, json: probe)["thresholdSource"] == "matchThreshold")

            // A model with no operating point takes no rate.
            let arcface = try await enface.createTenant()
            let refused = try await enface.admin(.patch, "/tenants/\(arcface.id)", json: ["settings": ["falseMatchRate": 0.001]])
            #expect(refused.status == .unprocessableContent && refused["errors"]?[0]?["code"] == "no_operating_points", "\(refused.body)")
            var arcfaceVectors = Embeddings()
            let pairOf512: JSONValue = ["a": Embeddings.json(arcfaceVectors.identity()), "b": Embeddings.json(arcfaceVectors.identity())]
            let defaults = try await enface.call(.post, "/v1/compare", key: arcface.key, json: pairOf512)
            #expect(defaults["thresholdSource"] == "default of arcface-buffalo-l")
        }
    }

    @Test func anEnrollMatchingAnotherPersonIsNamedRefusedOrLetPassAsTheTenantChose() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings()
            let human = vectors.identity()
            func enroll(_ person: String) async throws -> Reply {
                try await enface.call(.post, "/v1/persons/\(person)/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.sample(of: human))])
            }
            // warn (the default): named, best first, never the person itself.
            #expect(try await enroll("alice")["possibleDuplicates"] == [])
            let second = try await enroll("alias")
            #expect(second.status == .created && second["possibleDuplicates"]?[0]?["personId"] == "alice", "\(second.body)")
            #expect(second["possibleDuplicates"]?.arrayValue?.count == 1 && (second["possibleDuplicates"]?[0]?["score"]?.numberValue ?? 0) > 0.32)
            #expect(try await enroll("alice")["possibleDuplicates"]?.arrayValue?.compactMap { $0["personId"]?.stringValue } == ["alias"])
            let bob = vectors.identity()
            let stranger = try await enface.call(
                .post, "/v1/persons/bob/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.sample(of: bob))])
            #expect(stranger["possibleDuplicates"] == [])

            // refuse: 409 with the persons, and nothing enrolled.
            #expect(try await enface.call(.patch, "/v1/tenant/settings", key: tenant.key, json: ["duplicateCheck": "refuse"]).status == .ok)
            let refused = try await enroll("third")
            #expect(refused.status == .conflict && refused.code == "possible_duplicate", "\(refused.body)")
            #expect(Set(refused["possibleDuplicates"]?.arrayValue?.compactMap { $0["personId"]?.stringValue } ?? []) == ["alice", "alias"])
            #expect(try await enface.call(.get, "/v1/persons/third", key: tenant.key).code == "person_not_found")
            let bobAgain = try await enface.call(
                .post, "/v1/persons/bob/faces", key: tenant.key, json: ["embedding": Embeddings.json(vectors.sample(of: bob))])
            #expect(bobAgain.status == .created && bobAgain["possibleDuplicates"] == [], "a person's new face is no duplicate of its own")

            // A key that may enroll but not search learns how many, never who.
            let kiosk = try await enface.call(
                .post, "/v1/keys", key: tenant.key, json: ["name": "kiosk", "scopes": ["faces:write"]])
            let kioskKey = try #require(kiosk["apiKey"]?.stringValue, "\(kiosk.body)")
            let counted = try await enface.call(
                .post, "/v1/persons/fourth/faces", key: kioskKey, json: ["embedding": Embeddings.json(vectors.sample(of: human))])
            #expect(counted.status == .conflict && counted["possibleDuplicateCount"] == 2 && counted["possibleDuplicates"] == nil, "\(counted.body)")
            #expect(refused["possibleDuplicateCount"] == 2)

            // off: no check, no field.
            #expect(try await enface.call(.patch, "/v1/tenant/settings", key: tenant.key, json: ["duplicateCheck": "off"]).status == .ok)
            let unchecked = try await enroll("third")
            #expect(unchecked.status == .created && unchecked["possibleDuplicates"] == nil)
            #expect(unchecked["possibleDuplicateCount"] == nil)
            #expect(try await enface.call(.patch, "/v1/tenant/settings", key: tenant.key, json: ["duplicateCheck": "warn"]).status == .ok)
            let warned = try await enface.call(
                .post, "/v1/persons/fifth/faces", key: kioskKey, json: ["embedding": Embeddings.json(vectors.sample(of: human))])
            #expect(warned.status == .created && warned["possibleDuplicateCount"] == 3 && warned["possibleDuplicates"] == nil, "\(warned.body)")
        }
    }

    @Test func aTenantsCalibrationIsItsOwnGalleryScoredExactly() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings(seed: 9)
            var faces: [(person: String, vector: [Float])] = []
            var centre: [Float] = []
            // 20 persons of 1–3 faces; the last two share one centre (one human, enrolled twice).
            for person in 0..<20 {
                if person != 19 { centre = vectors.identity() }
                for _ in 0...(person % 3) { faces.append(("p\(person)", vectors.sample(of: centre))) }
            }
            for face in faces {
                let enrolled = try await enface.call(
                    .post, "/v1/persons/\(face.person)/faces", key: tenant.key, json: ["embedding": Embeddings.json(face.vector)])
                try #require(enrolled.status == .created)
            }
            let answer = try await enface.call(.get, "/v1/tenant/calibration", key: tenant.key)
            try #require(answer.status == .ok, "\(answer.body)")
            #expect(answer["status"] == "ready" && answer["method"] == "exact" && answer["measuredPersons"] == 20)
            #expect(answer["persons"] == 20 && answer["faces"]?.numberValue == Double(faces.count))
            #expect(answer["threshold"] == 0.32 && answer["thresholdSource"] == "default of arcface-buffalo-l")

            // The reference, from the vectors sent: genuine pairs and each person's best impostor.
            var genuine: [Double] = [], best: [String: Double] = [:]
            for (i, a) in faces.enumerated() {
                for b in faces[(i + 1)...] where a.person == b.person { genuine.append(Embeddings.cosine(a.vector, b.vector)) }
                for b in faces where a.person != b.person { best[a.person] = max(best[a.person] ?? -2, Embeddings.cosine(a.vector, b.vector)) }
            }
            #expect(answer["genuine"]?["count"]?.numberValue == Double(genuine.count))
            #expect(answer["impostor"]?["count"] == 20)
            let median = Calibration.quantile(0.5, ofSorted: Array(best.values).sorted())
            #expect(abs((answer["impostor"]?["quantiles"]?["0.5"]?.numberValue ?? 9) - median) < 1e-4)
            let estimate = try #require(answer["estimates"]?[0])
            #expect(estimate["threshold"] == 0.32)
            #expect(estimate["falseNonMatchRate"]?.numberValue == Double(genuine.count { $0 < 0.32 }) / Double(genuine.count))
            #expect(estimate["falsePositiveIdentificationRate"]?.numberValue == Double(best.values.count { $0 >= 0.32 }) / 20)
            // The twins, and only they, are near-duplicates.
            #expect(answer["nearDuplicates"]?.arrayValue?.count == 1, "\(answer.body)")
            #expect(answer["nearDuplicates"]?[0]?["personA"] == "p18" && answer["nearDuplicates"]?[0]?["personB"] == "p19")
            let histogram = answer["genuine"]?["histogram"]?["counts"]?.arrayValue?.compactMap(\.numberValue).reduce(0, +)
            #expect(histogram == Double(genuine.count))

            // The operator sees the same; another tenant sees only its own gallery.
            let operatorView = try await enface.admin(.get, "/tenants/\(tenant.slug)/calibration")
            #expect(operatorView["persons"] == 20 && operatorView["nearDuplicates"] == answer["nearDuplicates"])
            // It names person ids, which operators never otherwise see: the read is in the tenant's trail.
            let trail = try await enface.admin(.get, "/audit?tenant=\(tenant.id)&action=tenant.calibration.read")
            #expect(trail["events"]?.arrayValue?.count == 1 && trail["events"]?[0]?["actor"]?.stringValue?.hasPrefix("operator:") == true, "\(trail.body)")
            let other = try await enface.createTenant()
            #expect(try await enface.call(.post, "/v1/persons/solo/faces", key: other.key, json: ["embedding": Embeddings.json(faces[0].vector)]).status == .created)
            let alone = try await enface.call(.get, "/v1/tenant/calibration", key: other.key)
            #expect(alone["persons"] == 1 && alone["impostor"]?["count"] == 0 && alone["nearDuplicates"] == [], "\(alone.body)")
            #expect(try await enface.admin(.get, "/tenants/no-such-tenant/calibration").code == "not_found")

            // A change to the gallery makes a new calibration.
            #expect(try await enface.call(.delete, "/v1/persons/p19", key: tenant.key).status == .noContent)
            let after = try await enface.call(.get, "/v1/tenant/calibration", key: tenant.key)
            #expect(after["persons"] == 19 && after["nearDuplicates"] == [])
        }
    }

    /// The tenant's stored decision histograms (as the app role sees them), summed over its days.
    static func storedDecisions(_ id: String) async throws -> DecisionHistograms {
        try await ScratchDatabase.required().withPool(.app) { app in
            try await app.withTenant(try #require(UUID(uuidString: id))) { transaction in
                try await UsageRepository.decisions(from: "2000-01-01", to: "2999-12-31", in: transaction)
            }
        }
    }

    @Test func everyBestScoreIsCountedAndADryRunShowsANewThresholdsEffectWithoutApplyingIt() async throws {
        try await LiveService.run(["ENFACE_USAGE_FLUSH_SECONDS": "1"]) { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings(seed: 3)
            let (alice, bob) = (vectors.identity(), vectors.identity())
            let (aliceFace, bobFace) = (vectors.sample(of: alice), vectors.sample(of: bob))
            for (person, face) in [("alice", aliceFace), ("bob", bobFace)] {
                #expect(try await enface.call(.post, "/v1/persons/\(person)/faces", key: tenant.key, json: ["embedding": Embeddings.json(face)]).status == .created)
            }
            // Three verifies and four searches, each best score known here.
            var expected = DecisionHistograms()
            for (person, probe) in [("alice", vectors.sample(of: alice)), ("bob", vectors.sample(of: alice)), ("alice", vectors.identity())] {
                let verified = try await enface.call(.post, "/v1/verify", key: tenant.key, json: ["personId": .string(person), "embedding": Embeddings.json(probe)])
                try #require(verified.status == .ok)
                expected.add(.verify, score: Embeddings.cosine(probe, person == "alice" ? aliceFace : bobFace))
            }
            for probe in [vectors.sample(of: alice), vectors.sample(of: bob), vectors.identity(), vectors.identity()] {
                try #require(try await enface.call(.post, "/v1/search", key: tenant.key, json: ["embedding": Embeddings.json(probe)]).status == .ok)
                expected.add(.search, score: max(Embeddings.cosine(probe, aliceFace), Embeddings.cosine(probe, bobFace)))
            }
            // Written with the usage batches (counts only), and read back with what is not yet.
            try await poll("the decisions written") { try await Self.storedDecisions(tenant.id) == expected ? true : nil }
            let calibration = try await enface.call(.get, "/v1/tenant/calibration", key: tenant.key)
            let decisions = try #require(calibration["decisions"], "\(calibration.body)")
            #expect(decisions["verify"]?["decisions"] == 3 && decisions["search"]?["decisions"] == 4)
            #expect(decisions["verify"]?["histogram"] == (try JSONValue(encoding: expected.verify)))
            #expect(decisions["search"]?["matched"]?.numberValue == Double(expected.search.count(atLeast: 0.32)))
            #expect(decisions["to"]?.stringValue == UsageMeter.day(Date()))

            // A dry run: the tenant as it would be, the effect on those decisions, nothing applied.
            let strict = try await enface.call(
                .patch, "/v1/tenant/settings?dryRun=true", key: tenant.key, json: ["matchThreshold": 0.99])
            try #require(strict.status == .ok, "\(strict.body)")
            #expect(strict["dryRun"] == true && strict["tenant"]?["settings"]?["matchThreshold"] == 0.99)
            let verify = try #require(strict["effect"]?["verify"])
            #expect(verify["decisions"] == 3 && verify["thresholdBefore"] == 0.32 && verify["thresholdAfter"] == 0.99)
            #expect(verify["matchedBefore"]?.numberValue == Double(expected.verify.count(atLeast: 0.32)) && verify["matchedAfter"] == 0)
            #expect(try await enface.call(.get, "/v1/tenant", key: tenant.key)["tenant"]?["settings"]?["matchThreshold"] == nil)
            let loose = try await enface.admin(.patch, "/tenants/\(tenant.id)?dryRun=true", json: ["settings": ["matchThreshold": 0]])
            #expect(loose["effect"]?["search"]?["matchedAfter"]?.numberValue == Double(expected.search.count(atLeast: 0)), "\(loose.body)")
            #expect(try await enface.admin(.get, "/tenants/\(tenant.id)")["settings"]?["matchThreshold"] == nil)
            // A bad flag or a bad change is refused as the change itself would be.
            let badFlag = try await enface.call(.patch, "/v1/tenant/settings?dryRun=maybe", key: tenant.key, json: ["matchThreshold": 0.5])
            #expect(badFlag.status == .unprocessableContent && badFlag.pointers == ["?dryRun"])
            let badChange = try await enface.call(.patch, "/v1/tenant/settings?dryRun=true", key: tenant.key, json: ["matchThreshold": 2])
            #expect(badChange.status == .unprocessableContent && badChange.pointers == ["/matchThreshold"])
        }
    }
}
