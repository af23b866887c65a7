// The audit trail as an auditor reads it: who did what to which tenant, with before and after.

import FaceService
import Foundation
import HTTPTypes
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct AuditTests {
    func events(_ enface: EnfaceClient, _ query: String) async throws -> [[String: JSONValue]] {
        let reply = try await enface.admin(.get, "/audit?\(query)")
        try #require(reply.status == .ok, "\(reply.body)")
        return (reply["events"]?.arrayValue ?? []).compactMap(\.objectValue)
    }

    @Test func operatorAndTenantAdminChangesAreRecordedWithTheirDiff() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            _ = try await enface.admin(.patch, "/tenants/\(tenant.id)", json: [
                "name": "Acme Corp", "plan": "pro", "quotas": ["requestsPerMinute": 900],
            ])
            let update = try #require(try await events(enface, "tenant=\(tenant.id)&action=tenant.update").first)
            #expect(update["actor"] == "operator:tester" && update["outcome"] == "success" && update["target"]?.stringValue == tenant.id)
            let changes = try #require(update["detail"]?.objectValue?["changes"]?.objectValue)
            #expect(Set(changes.keys) == ["name", "plan", "quotas"])
            #expect(changes["plan"] == ["before": "starter", "after": "pro"])
            #expect(changes["quotas"]?.objectValue?["after"]?.objectValue?["requestsPerMinute"] == 900)

            // A tenant's own administrator, through its key: actor is the key, not a person's claim.
            let patched = try await enface.call(.patch, "/v1/tenant/settings", key: tenant.key, json: ["matchThreshold": 0.61])
            #expect(patched.status == .ok)
            let selfService = try #require(try await events(enface, "tenant=\(tenant.id)&action=tenant.settings.update").first)
            #expect(selfService["actor"]?.stringValue?.hasPrefix("key:") == true)
            #expect(selfService["detail"]?.objectValue?["changes"]?.objectValue?["matchThreshold"] == ["before": .null, "after": 0.61])

            // Keys: creation and revocation, never the key's text.
            let created = try await enface.call(.post, "/v1/keys", key: tenant.key, json: ["name": "x", "scopes": ["search"]])
            let keyID = try #require(created["key"]?.objectValue?["id"]?.stringValue)
            #expect(try await enface.call(.delete, "/v1/keys/\(keyID)", key: tenant.key).status == .noContent)
            let keyEvents = try await events(enface, "tenant=\(tenant.id)&action=key.revoke")
            #expect(keyEvents.first?["target"]?.stringValue == keyID)
            let all = try await enface.admin(.get, "/audit?tenant=\(tenant.id)&limit=100")
            let createdKey = try #require(created["apiKey"]?.stringValue)
            #expect(!all.body.contains(tenant.key) && !all.body.contains(createdKey))

            // A refused change is not recorded as a change.
            _ = try await enface.call(.patch, "/v1/tenant/settings", key: tenant.key, json: ["matchThreshold": 3])
            #expect(try await events(enface, "tenant=\(tenant.id)&action=tenant.settings.update").count == 1)
            // A change to nothing is not a change either.
            _ = try await enface.admin(.patch, "/tenants/\(tenant.id)", json: ["name": "Acme Corp"])
            #expect(try await events(enface, "tenant=\(tenant.id)&action=tenant.update").count == 1)
        }
    }

    @Test func refusedCredentialsAreAuditedButAFloodIsSampled() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            let revoked = try await enface.admin(.post, "/tenants/\(tenant.id)/keys", json: ["name": "r", "scopes": ["search"]])
            let revokedID = try #require(revoked["key"]?.objectValue?["id"]?.stringValue)
            _ = try await enface.admin(.delete, "/tenants/\(tenant.id)/keys/\(revokedID)")
            let started = ContinuousClock.now
            for _ in 0..<(AuditTrail.refusalsPerMinute + 10) {
                _ = try await enface.call(.get, "/v1/tenant", key: try #require(revoked["apiKey"]?.stringValue))
            }
            // Refusals are written by the trail's own service, a moment after they are answered.
            let refilled = Int((ContinuousClock.now - started).components.seconds / 2) + 1
            let refusals = try await poll(timeout: .seconds(20), "the sampled refusals to be written") {
                let found = try await events(enface, "tenant=\(tenant.id)&action=auth.failure&limit=1000")
                return found.count >= AuditTrail.refusalsPerMinute ? found : nil
            }
            // The sampler refills (30 a minute: one every 2 s) while the loop runs; only those
            // refilled tokens may add to the first 30.
            #expect(refusals.count >= AuditTrail.refusalsPerMinute)
            #expect(refusals.count <= min(AuditTrail.refusalsPerMinute + refilled, AuditTrail.refusalsPerMinute + 10))
            #expect(refusals.allSatisfy { $0["outcome"] == "denied" && $0["actor"]?.stringValue == "key:\(revokedID)" })
            #expect(refusals.first?["detail"]?.objectValue?["reason"] == "revokedKey")
        }
    }

    /// 160 requests with keys that do not exist (anonymous refusals, sampled) must not use up the
    /// budget of what matters: a probe of another tenant's face is recorded all the same.
    @Test func aFloodOfBadKeysCannotSilenceAProbeOfAnotherTenantsFace() async throws {
        try await LiveService.run { enface in
            let victim = try await enface.createTenant()
            let prober = try await enface.createTenant()
            var vectors = Embeddings(seed: 61)
            let face = try #require(
                try await enface.call(.post, "/v1/persons/v/faces", key: victim.key, json: ["embedding": Embeddings.json(vectors.identity())])[
                    "faceId"]?.stringValue)
            for round in 0..<160 {
                let bogus = "efk_" + String(repeating: "x", count: 38) + String(format: "%05d", round)
                #expect(try await enface.call(.get, "/v1/tenant", key: bogus).status == .unauthorized)
            }
            #expect(try await enface.call(.delete, "/v1/faces/\(face)", key: prober.key).code == "face_not_found")
            let probes = try await poll(timeout: .seconds(20), "the probe's record") {
                let found = try await events(enface, "tenant=00000000-0000-0000-0000-000000000000&action=access.foreign_face&limit=100")
                let mine = found.filter { $0["detail"]?.objectValue?["faceId"]?.stringValue == face }
                return mine.isEmpty ? nil : mine
            }
            #expect(probes.count == 1)
            // And the flood itself is summarised, not lost: the count of what was sampled away.
            #expect(try await events(enface, "action=auth.failure&limit=1000").count < 160)
        }
    }

    @Test func theAuditListFiltersAndPages() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            for name in ["a", "b", "c"] { _ = try await enface.admin(.patch, "/tenants/\(tenant.id)", json: ["name": .string(name)]) }
            let firstPage = try await enface.admin(.get, "/audit?tenant=\(tenant.id)&action=tenant.update&limit=2")
            let next = try #require(firstPage["next"]?.stringValue)
            let secondPage = try await enface.admin(.get, "/audit?tenant=\(tenant.id)&action=tenant.update&limit=2&before=\(next)")
            let names = (firstPage["events"]?.arrayValue ?? []) + (secondPage["events"]?.arrayValue ?? [])
            let afters = names.compactMap {
                $0.objectValue?["detail"]?.objectValue?["changes"]?.objectValue?["name"]?.objectValue?["after"]?.stringValue
            }
            #expect(afters == ["c", "b", "a"])
            #expect(try await enface.admin(.get, "/audit?outcome=maybe").code == "validation_failed")
            #expect(try await enface.admin(.get, "/audit?since=yesterday").code == "validation_failed")
            #expect(try await enface.admin(.get, "/audit?tenant=42").code == "validation_failed")
            let future = Date().addingTimeInterval(3600).formatted(.iso8601)
            #expect(try await enface.admin(.get, "/audit?since=\(future)")["events"] == [])
        }
    }
}
