// pending → active ⇄ suspended → deleted, from the outside: what each status lets a tenant's
// credentials do, and that every other move is a 409.

import Foundation
import HTTPTypes
import Tenancy
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct LifecycleTests {
    @Test func everyTransitionAndEveryRefusal() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(activate: false)
            let me = { try await enface.call(.get, "/v1/tenant", key: tenant.key) }

            // pending: the key is real, the tenant may not work yet.
            #expect(try await me().code == "tenant_pending")
            for refused in ["suspend", "reactivate"] {
                let reply = try await enface.admin(.post, "/tenants/\(tenant.id)/\(refused)")
                #expect(reply.status == .conflict && reply.code == "invalid_transition", "pending → \(refused)")
            }
            #expect(try await enface.admin(.delete, "/tenants/\(tenant.id)").code == "invalid_transition")

            // active
            let activated = try await enface.admin(.post, "/tenants/\(tenant.id)/activate")
            #expect(activated["status"] == "active")
            #expect(activated["activatedAt"]?.stringValue != nil)
            #expect(try await me().status == .ok)
            #expect(try await enface.admin(.post, "/tenants/\(tenant.id)/activate").code == "invalid_transition")
            #expect(try await enface.admin(.post, "/tenants/\(tenant.id)/reactivate").code == "invalid_transition")
            let deleteActive = try await enface.admin(.delete, "/tenants/\(tenant.id)")
            #expect(deleteActive.status == .conflict && deleteActive["detail"]?.stringValue?.contains("suspended") == true)

            // suspended: the data plane is closed, the operator plane is not.
            let suspended = try await enface.admin(.post, "/tenants/\(tenant.id)/suspend", json: ["reason": "unpaid invoice"])
            #expect(suspended["status"] == "suspended" && suspended["suspendReason"] == "unpaid invoice")
            let refused = try await me()
            #expect(refused.status == .forbidden && refused.code == "tenant_suspended")
            #expect(try await enface.admin(.get, "/tenants/\(tenant.id)").status == .ok)
            #expect(try await enface.admin(.get, "/tenants/\(tenant.id)/keys").status == .ok)
            #expect(try await enface.admin(.patch, "/tenants/\(tenant.id)", json: ["name": "Renamed"])["name"] == "Renamed")
            #expect(try await enface.admin(.post, "/tenants/\(tenant.id)/activate").code == "invalid_transition")
            #expect(try await enface.admin(.post, "/tenants/\(tenant.id)/suspend").code == "invalid_transition")

            // reactivated: access is back, with the same key.
            let reactivated = try await enface.admin(.post, "/tenants/\(tenant.id)/reactivate")
            #expect(reactivated["status"] == "active" && reactivated["suspendReason"] == nil)
            #expect(try await me().status == .ok)

            // deleted: every key revoked at once, so its credentials are simply invalid.
            _ = try await enface.admin(.post, "/tenants/\(tenant.id)/suspend")
            let deleted = try await enface.admin(.delete, "/tenants/\(tenant.id)")
            #expect(deleted["status"] == "deleted" && deleted["purgeAfter"]?.stringValue != nil)
            #expect(try await me().status == .unauthorized)
            let keys = try await enface.admin(.get, "/tenants/\(tenant.id)/keys")["keys"]?.arrayValue ?? []
            #expect(!keys.isEmpty && keys.allSatisfy { $0.objectValue?["revokedAt"]?.stringValue != nil })
            for move in ["activate", "suspend", "reactivate"] {
                #expect(try await enface.admin(.post, "/tenants/\(tenant.id)/\(move)").code == "invalid_transition", "deleted → \(move)")
            }
            #expect(try await enface.admin(.delete, "/tenants/\(tenant.id)").code == "invalid_transition")
            #expect(try await enface.admin(.patch, "/tenants/\(tenant.id)", json: ["name": "Back"]).code == "tenant_deleted")
            let newKey = try await enface.admin(.post, "/tenants/\(tenant.id)/keys", json: ["name": "late", "scopes": ["search"]])
            #expect(newKey.code == "tenant_deleted")

            // Every step is in the audit trail, in order.
            let events = try await enface.admin(.get, "/audit?tenant=\(tenant.id)&outcome=success&limit=50")["events"]?.arrayValue ?? []
            let actions = events.reversed().compactMap { $0.objectValue?["action"]?.stringValue }
            #expect(actions == [
                "tenant.create", "tenant.activate", "tenant.suspend", "tenant.update", "tenant.reactivate",
                "tenant.suspend", "tenant.delete",
            ])
        }
    }

    @Test func aDeletedTenantIsPurgedAfterItsGracePeriod() async throws {
        try await LiveService.run(["ENFACE_PURGE_INTERVAL_SECONDS": "1"]) { enface in
            let tenant = try await enface.createTenant(quotas: ["retentionDays": 0])
            let kept = try await enface.createTenant(quotas: ["retentionDays": 30])
            for doomed in [tenant, kept] {
                _ = try await enface.admin(.post, "/tenants/\(doomed.id)/suspend")
                _ = try await enface.admin(.delete, "/tenants/\(doomed.id)")
            }
            let purged = try await poll(timeout: .seconds(20), "the purge of \(tenant.slug)") {
                let reply = try await enface.admin(.get, "/tenants/\(tenant.id)")
                return reply["purgedAt"]?.stringValue != nil ? reply : nil
            }
            #expect(purged["status"] == "deleted")
            #expect(try await enface.admin(.get, "/tenants/\(tenant.id)/keys")["keys"] == [])
            let events = try await enface.admin(.get, "/audit?tenant=\(tenant.id)&action=tenant.purge")["events"]?.arrayValue
            #expect(events?.count == 1)
            // A tenant still in its grace period keeps its keys' records and is not purged.
            let waiting = try await enface.admin(.get, "/tenants/\(kept.id)")
            #expect(waiting["status"] == "deleted" && waiting["purgedAt"] == nil)
            #expect(try await enface.admin(.get, "/tenants/\(kept.id)/keys")["keys"]?.arrayValue?.count == 1)
        }
    }

    @Test func tenantsAreValidatedFieldByField() async throws {
        try await LiveService.run { enface in
            let bad = try await enface.admin(.post, "/tenants", json: [
                "name": "", "slug": "-Bad_Slug", "plan": "platinum", "model": "no-such-model",
                "settings": ["matchThreshold": 1.5, "colour": "blue"], "quotas": ["requestsPerMinute": 0],
                "tenantId": "00000000-0000-0000-0000-000000000001",
            ])
            #expect(bad.status == .unprocessableContent && bad.code == "validation_failed")
            #expect(Set(bad.pointers) == [
                "/name", "/slug", "/plan", "/model", "/settings/matchThreshold", "/settings/colour",
                "/quotas/requestsPerMinute", "/tenantId",
            ])
            #expect(try await enface.admin(.get, "/tenants?limit=1000").body.contains("Bad_Slug") == false)

            let first = try await enface.createTenant("same-slug")
            let again = try await enface.admin(.post, "/tenants", json: ["name": "Again", "slug": "same-slug"])
            #expect(again.status == .conflict && again.code == "slug_taken")
            #expect(try await enface.admin(.get, "/tenants/same-slug")["id"]?.stringValue == first.id)
            #expect(try await enface.admin(.get, "/tenants/\(UUID().uuidString)").code == "not_found")
            #expect(try await enface.admin(.post, "/tenants/not-a-uuid/activate").code == "not_found")
            let operatorToken: HTTPFields = [.authorization: "Bearer \(TestConfiguration.operatorToken)"]
            #expect(try await enface.call(.post, "/admin/v1/tenants", headers: operatorToken, body: "").code == "malformed_json")
            #expect(try await enface.admin(.post, "/tenants", json: nil).code == "unsupported_media_type")
            let notJSON = try await enface.call(
                .post, "/admin/v1/tenants", headers: [.authorization: "Bearer \(TestConfiguration.operatorToken)"],
                json: nil, body: "{\"name\": ")
            #expect(notJSON.status == .badRequest && notJSON.code == "malformed_json")
        }
    }

    @Test func operatorsListTenantsByStatusAPageAtATime() async throws {
        try await LiveService.run { enface in
            var created: [String] = []
            for index in 0..<5 { created.append(try await enface.createTenant("page-\(index)", activate: index < 3).id) }
            var seen: [String] = []
            var path = "/tenants?status=active&limit=2"
            while true {
                let page = try await enface.admin(.get, path)
                #expect(page.status == .ok)
                seen += (page["tenants"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue }
                guard let next = page["next"]?.stringValue else { break }
                path = "/tenants?status=active&limit=2&after=\(next)"
            }
            // Other tests of this suite add tenants of their own meanwhile: look at ours.
            #expect(seen.filter(created.contains) == Array(created.prefix(3)))
            #expect(try await enface.admin(.get, "/tenants?status=frozen").code == "validation_failed")
            #expect(try await enface.admin(.get, "/tenants?limit=0").code == "validation_failed")
            #expect(try await enface.admin(.get, "/tenants?after=garbage").code == "validation_failed")
        }
    }
}
