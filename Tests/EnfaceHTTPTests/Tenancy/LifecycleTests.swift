// pending → active ⇄ suspended → deleted (and pending → deleted), from the outside: what each status lets a tenant's
// credentials do, and that every other move is a 409.

import Foundation
import HTTPTypes
import Tenancy
import TestSupport
import Testing

@Suite(.scratchDatabase)
struct LifecycleTests {
    /// The moves out of each status the lifecycle allows; every other is a 409.
    static let allowed: [TenantStatus: Set<String>] = [
        .pending: ["activate", "delete"], .active: ["suspend"], .suspended: ["reactivate", "delete"], .deleted: [],
    ]
    static let moves = ["activate", "suspend", "reactivate", "delete"]
    /// The status each move reaches, and the time the answer must then name.
    static let reached = [
        "activate": ("active", "activatedAt"), "suspend": ("suspended", "suspendedAt"),
        "reactivate": ("active", "activatedAt"), "delete": ("deleted", "purgeAfter"),
    ]

    /// A new tenant brought to `status` the way an operator would.
    static func tenant(in status: TenantStatus, _ enface: EnfaceClient) async throws -> CreatedTenant {
        let tenant = try await enface.createTenant(activate: status != .pending)
        if status == .suspended || status == .deleted {
            try #require(try await enface.admin(.post, "/tenants/\(tenant.id)/suspend").status == .ok)
        }
        if status == .deleted {
            try #require(try await enface.admin(.delete, "/tenants/\(tenant.id)").status == .ok)
        }
        return tenant
    }

    static func move(_ move: String, _ tenant: CreatedTenant, _ enface: EnfaceClient) async throws -> Reply {
        move == "delete"
            ? try await enface.admin(.delete, "/tenants/\(tenant.id)")
            : try await enface.admin(.post, "/tenants/\(tenant.id)/\(move)")
    }

    @Test(arguments: TenantStatus.allCases)
    func everyMoveTheLifecycleDoesNotAllowIsAConflict(from status: TenantStatus) async throws {
        try await LiveService.run { enface in
            for move in Self.moves {
                let tenant = try await Self.tenant(in: status, enface)
                let reply = try await Self.move(move, tenant, enface)
                if Self.allowed[status, default: []].contains(move) {
                    #expect(reply.status == .ok, "\(status) → \(move): \(reply.body)")
                    let (reached, stamped) = Self.reached[move] ?? ("", "")
                    #expect(reply["status"]?.stringValue == reached && reply[stamped]?.stringValue != nil, "\(move): \(reply.body)")
                } else {
                    #expect(reply.status == .conflict && reply.code == "invalid_transition", "\(status) → \(move): \(reply.body)")
                    let unchanged = try await enface.admin(.get, "/tenants/\(tenant.id)")
                    #expect(unchanged["status"]?.stringValue == status.rawValue, "\(status) → \(move) changed it")
                }
            }
        }
    }

    @Test func aCreatedTenantIsPendingAndItsLinkLeadsToIt() async throws {
        try await LiveService.run { enface in
            let created = try await enface.admin(.post, "/tenants", json: ["name": "Linked", "slug": "linked"])
            #expect(created.status == .created && created["tenant"]?["status"] == "pending")
            let location = try #require(created.headers[.location])
            let shown = try await enface.call(.get, location, headers: enface.operatorHeaders)
            #expect(shown["slug"] == "linked" && shown["id"] == created["tenant"]?["id"])
        }
    }

    /// Every operator route takes the tenant's slug as well as its id; a slug of no tenant is a
    /// 404, and a pending tenant is deleted without its key ever having worked.
    @Test func operatorsNameATenantByItsSlugEverywhere() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(activate: false)
            let path = "/tenants/\(tenant.slug)"
            let patched = try await enface.admin(.patch, path, json: ["name": "Renamed by slug"])
            #expect(patched.status == .ok && patched["id"]?.stringValue == tenant.id, "\(patched.body)")
            let key = try await enface.admin(.post, "\(path)/keys", json: ["name": "second", "scopes": ["search"]])
            #expect(key.status == .created, "\(key.body)")
            let keys = try await enface.admin(.get, "\(path)/keys")
            #expect(keys.status == .ok && (keys["keys"]?.arrayValue?.count ?? 0) == 2, "\(keys.body)")
            let keyID = try #require(key["key"]?["id"]?.stringValue)
            #expect(try await enface.admin(.delete, "\(path)/keys/\(keyID)").status == .noContent)
            #expect(try await enface.admin(.get, "\(path)/usage").status == .ok)
            for move in ["activate", "suspend", "reactivate", "suspend"] {
                let moved = try await enface.admin(.post, "\(path)/\(move)")
                #expect(moved.status == .ok && moved["id"]?.stringValue == tenant.id, "\(move): \(moved.body)")
            }
            #expect(try await enface.admin(.delete, path)["status"] == "deleted")
            for unknown in ["no-such-tenant", "x"] {
                #expect(try await enface.admin(.post, "/tenants/\(unknown)/activate").status == .notFound)
            }

            // Pending, then deleted: its first key never opened anything.
            let pending = try await enface.createTenant(activate: false)
            #expect(try await enface.call(.get, "/v1/tenant", key: pending.key).code == "tenant_pending")
            let deleted = try await enface.admin(.delete, "/tenants/\(pending.slug)")
            #expect(deleted.status == .ok && deleted["status"] == "deleted", "\(deleted.body)")
            #expect(try await enface.call(.get, "/v1/tenant", key: pending.key).status == .unauthorized)
            // The audit filter takes the slug too; a slug of no tenant is a 404, not an empty page.
            let trail = try await enface.admin(.get, "/audit?tenant=\(pending.slug)&action=tenant.delete")
            #expect(trail["events"]?.arrayValue?.first?["detail"]?["from"] == "pending", "\(trail.body)")
            #expect(try await enface.admin(.get, "/audit?tenant=no-such-tenant").status == .notFound)
        }
    }

    @Test func anActiveTenantIsToldToSuspendBeforeDeleting() async throws {
        try await LiveService.run { enface in
            let tenant = try await Self.tenant(in: .active, enface)
            let refused = try await Self.move("delete", tenant, enface)
            #expect(refused.status == .conflict && refused["detail"]?.stringValue?.contains("suspended") == true)
        }
    }

    /// What each status lets the tenant's own key do.
    @Test(arguments: [
        (TenantStatus.pending, HTTPResponse.Status.forbidden, "tenant_pending" as String?),
        (.active, .ok, nil), (.suspended, .forbidden, "tenant_suspended"), (.deleted, .unauthorized, "unauthenticated"),
    ])
    func aKeyAnswersAsItsTenantsStatusSays(status: TenantStatus, answer: HTTPResponse.Status, code: String?) async throws {
        try await LiveService.run { enface in
            let tenant = try await Self.tenant(in: status, enface)
            let reply = try await enface.call(.get, "/v1/tenant", key: tenant.key)
            #expect(reply.status == answer && reply.code == code, "\(reply.body)")
        }
    }

    @Test func aSuspendedTenantIsStillRunByItsOperator() async throws {
        try await LiveService.run { enface in
            let tenant = try await Self.tenant(in: .active, enface)
            let suspended = try await enface.admin(.post, "/tenants/\(tenant.id)/suspend", json: ["reason": "unpaid invoice"])
            #expect(suspended["status"] == "suspended" && suspended["suspendReason"] == "unpaid invoice")
            #expect(try await enface.admin(.get, "/tenants/\(tenant.id)").status == .ok)
            #expect(try await enface.admin(.get, "/tenants/\(tenant.id)/keys").status == .ok)
            #expect(try await enface.admin(.patch, "/tenants/\(tenant.id)", json: ["name": "Renamed"])["name"] == "Renamed")
            // Reactivated, the same key works again and the reason is gone.
            let reactivated = try await enface.admin(.post, "/tenants/\(tenant.id)/reactivate")
            #expect(reactivated["status"] == "active" && reactivated["suspendReason"] == nil)
            #expect(try await enface.call(.get, "/v1/tenant", key: tenant.key).status == .ok)
        }
    }

    @Test func aDeletedTenantHasEveryKeyRevokedAndCannotBeChanged() async throws {
        try await LiveService.run { enface in
            let tenant = try await Self.tenant(in: .deleted, enface)
            let shown = try await enface.admin(.get, "/tenants/\(tenant.id)")
            #expect(shown["status"] == "deleted" && shown["purgeAfter"]?.stringValue != nil)
            let keys = try await enface.admin(.get, "/tenants/\(tenant.id)/keys")["keys"]?.arrayValue ?? []
            #expect(!keys.isEmpty && keys.allSatisfy { $0["revokedAt"]?.stringValue != nil })
            #expect(try await enface.admin(.patch, "/tenants/\(tenant.id)", json: ["name": "Back"]).code == "tenant_deleted")
            let newKey = try await enface.admin(.post, "/tenants/\(tenant.id)/keys", json: ["name": "late", "scopes": ["search"]])
            #expect(newKey.code == "tenant_deleted")
        }
    }

    @Test func everyStepIsInTheAuditTrailInOrder() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(activate: false)
            for move in ["activate", "suspend", "reactivate", "suspend", "delete"] {
                try #require(try await Self.move(move, tenant, enface).status == .ok, "\(move)")
            }
            _ = try await Self.move("suspend", tenant, enface)  // refused: no success to record
            let events = try await enface.admin(.get, "/audit?tenant=\(tenant.id)&outcome=success&limit=50")["events"]?.arrayValue ?? []
            let actions = events.reversed().compactMap { $0["action"]?.stringValue }
            #expect(actions == [
                "tenant.create", "tenant.activate", "tenant.suspend", "tenant.reactivate", "tenant.suspend", "tenant.delete",
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
            let operatorToken = enface.operatorHeaders
            #expect(try await enface.call(.post, "/admin/v1/tenants", headers: operatorToken, body: "").code == "malformed_json")
            #expect(try await enface.admin(.post, "/tenants", json: nil).code == "unsupported_media_type")
            let notJSON = try await enface.call(
                .post, "/admin/v1/tenants", headers: enface.operatorHeaders,
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
