// One tenant per request, from its credential and nothing else.

import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct IsolationTests {
    @Test func aTenantIDInABodyQueryOrHeaderChangesNothing() async throws {
        try await LiveService.run { enface in
            let a = try await enface.createTenant()
            let b = try await enface.createTenant()
            let smuggled: HTTPFields = [.init("X-Tenant-ID")!: b.id, .init("X-Tenant")!: b.slug, EnfaceClient.apiKey: a.key]
            for path in ["/v1/tenant?tenant_id=\(b.id)", "/v1/tenant?tenantId=\(b.id)&tenant=\(b.slug)", "/v1/tenant"] {
                let reply = try await enface.call(.get, path, headers: smuggled)
                #expect(reply.status == .ok)
                #expect(reply["tenant"]?.objectValue?["id"]?.stringValue == a.id)
                #expect(!reply.body.contains(b.id) && !reply.body.contains(b.slug))
            }
            let keys = try await enface.call(.get, "/v1/keys?tenant_id=\(b.id)", headers: smuggled)
            #expect(keys["keys"]?.arrayValue?.count == 1 && !keys.body.contains(b.id))

            // In a body, an unknown field is refused, and neither tenant changes.
            let before = try await enface.admin(.get, "/tenants/\(b.id)")
            let patch = try await enface.call(
                .patch, "/v1/tenant/settings", headers: smuggled, json: ["tenantId": .string(b.id), "matchThreshold": 0.9])
            #expect(patch.code == "validation_failed" && patch.pointers == ["/tenantId"])
            #expect(try await enface.admin(.get, "/tenants/\(b.id)").json == before.json)
            #expect(try await enface.admin(.get, "/tenants/\(a.id)")["settings"]?.objectValue?["matchThreshold"] == nil)

            // A key made "for b" in the body is a key of a.
            let created = try await enface.call(
                .post, "/v1/keys", headers: smuggled, json: ["name": "k", "scopes": ["search"], "tenantId": .string(b.id)])
            #expect(created.code == "validation_failed")
            #expect(try await enface.admin(.get, "/tenants/\(b.id)/keys")["keys"]?.arrayValue?.count == 1)
            // And b's key ids mean nothing to a.
            let bKeyID = try #require(
                try await enface.admin(.get, "/tenants/\(b.id)/keys")["keys"]?.arrayValue?.first?.objectValue?["id"]?.stringValue)
            #expect(try await enface.call(.delete, "/v1/keys/\(bKeyID)", key: a.key).code == "not_found")
            #expect(try await enface.call(.get, "/v1/tenant", key: b.key).status == .ok)
        }
    }

    @Test func tenantKeysOpenNothingOnTheOperatorPlaneAndOperatorTokensNothingOnTheDataPlane() async throws {
        try await LiveService.run { enface in
            let a = try await enface.createTenant()
            for headers: HTTPFields in [
                [EnfaceClient.apiKey: a.key], [.authorization: "Bearer \(a.key)"], [.authorization: "Bearer wrong-token"], [:],
            ] {
                for path in ["/admin/v1/tenants", "/admin/v1/tenants/\(a.id)", "/metrics"] {
                    let reply = try await enface.call(.get, path, headers: headers)
                    #expect(reply.status == .unauthorized && reply.code == "unauthenticated", "\(path) \(headers)")
                }
            }
            let operatorOnData = try await enface.call(
                .get, "/v1/tenant", headers: enface.operatorHeaders)
            #expect(operatorOnData.status == .unauthorized)
        }
    }

    @Test func aHostNamingAnotherTenantIsRefusedAndAudited() async throws {
        try await LiveService.run(["ENFACE_TENANT_HOST_SUFFIX": "tenants.example"]) { enface in
            let a = try await enface.createTenant()
            let b = try await enface.createTenant()
            let port = try #require(enface.port)
            func get(host: String, key: String) async throws -> HTTPResponse.Status {
                try await TestClient.withClient(host: "localhost", port: port) { client in
                    try await client.execute(
                        .init("/v1/tenant", method: .get, authority: host, headers: [EnfaceClient.apiKey: key]),
                        heldTo: .served
                    ).status
                }
            }
            #expect(try await get(host: "\(a.slug).tenants.example", key: a.key) == .ok)
            // However the host is spelt, DNS reads the same name: case, a port, a trailing dot.
            for spelling in [
                "\(b.slug).tenants.example:8443", "\(b.slug).tenants.example.", "\(b.slug.uppercased()).Tenants.Example",
                "\(b.slug).tenants.example.:443",
            ] {
                #expect(try await get(host: spelling, key: a.key) == .forbidden, "\(spelling)")
            }
            #expect(try await get(host: "\(a.slug).TENANTS.example.", key: a.key) == .ok)
            #expect(try await get(host: "localhost", key: a.key) == .ok)
            let events = try await poll(timeout: .seconds(20), "the four attempts to be audited") { () -> [JSONValue]? in
                let events = try await enface.admin(.get, "/audit?tenant=\(a.id)&action=access.cross_tenant")["events"]?.arrayValue ?? []
                return events.count >= 4 ? events : nil
            }
            #expect(events.count == 4)
            #expect(events.allSatisfy { $0.objectValue?["outcome"] == "denied" })
            // Without a Host, no binding can be checked: refused.
            let connection = try RawConnection(port: port)
            connection.send("GET /v1/tenant HTTP/1.1\r\nConnection: close\r\nX-API-Key: \(a.key)\r\n\r\n")
            let answer = try #require(connection.readUntilClosed(timeout: .seconds(10)))
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            #expect(answer.contains("host_required"), "\(answer)")
        }
    }

    @Test func anotherTenantsFaceIDIsA404LikeAMissingOneAndOnlyOperatorsHearOfIt() async throws {
        var vectors = Embeddings(seed: 47)
        let face = vectors.identity()
        try await LiveService.run { enface in
            let a = try await enface.createTenant()
            let b = try await enface.createTenant()
            let enrolled = try await enface.call(
                .post, "/v1/persons/alice/faces", key: a.key, json: ["embedding": Embeddings.json(face)])
            let faceID = try #require(enrolled["faceId"]?.stringValue)

            // The missing id first: its request ends before the probe's, so had it been recorded,
            // its record would be there by the time the probe's is.
            let missingID = UUID().uuidString.lowercased()
            let missing = try await enface.call(.delete, "/v1/faces/\(missingID)", key: b.key)
            let foreign = try await enface.call(.delete, "/v1/faces/\(faceID)", key: b.key)
            #expect(foreign.status == .notFound && foreign.code == "face_not_found")
            #expect(foreign.bodyWithoutRequestID == missing.bodyWithoutRequestID)
            #expect(foreign.headers[.contentLength] == missing.headers[.contentLength])
            #expect(!foreign.body.contains(a.id) && !foreign.body.contains(faceID))

            // The operator's platform trail names the probe; the missing id is no probe at all.
            let events = try await poll(timeout: .seconds(10), "the probe to be audited") { () -> [JSONValue]? in
                let events = try await enface.admin(
                    .get, "/audit?tenant=\(AuditEvent.platform.uuidString.lowercased())&action=access.foreign_face"
                )["events"]?.arrayValue ?? []
                return events.contains { $0.objectValue?["detail"]?.objectValue?["faceId"]?.stringValue == faceID } ? events : nil
            }
            #expect(!events.contains { $0.objectValue?["detail"]?.objectValue?["faceId"]?.stringValue == missingID })
            let detail = events.first?.objectValue?["detail"]?.objectValue
            #expect(events.count == 1 && events.first?.objectValue?["outcome"] == "denied")
            #expect(detail?["tenant"]?.stringValue == b.id && detail?["faceId"]?.stringValue == faceID)
            // Nothing in either tenant's own trail, and a's face is untouched.
            #expect(try await enface.admin(.get, "/audit?tenant=\(b.id)&action=access.foreign_face")["events"] == [])
            #expect(try await enface.call(.get, "/v1/persons/alice", key: a.key)["faceCount"] == 1)
        }
    }
}
