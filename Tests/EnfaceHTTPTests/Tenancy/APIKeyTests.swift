// API keys from the outside: shown once, stored only as hashes, and every key that proves
// nothing refused with the very same answer.

import Foundation
import HTTPTypes
import Storage
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct APIKeyTests {
    @Test func thePlainKeyIsShownOnceAndTheDatabaseHoldsOnlyItsHash() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            let second = try await enface.admin(.post, "/tenants/\(tenant.id)/keys", json: ["name": "ci", "scopes": ["search", "verify"]])
            #expect(second.status == .created && second.headers[.cacheControl] == "no-store")
            let secondKey = try #require(second["apiKey"]?.stringValue)
            #expect(second["key"]?.objectValue?["prefix"]?.stringValue == String(secondKey.prefix(12)))

            // Nothing else ever shows either key again.
            var later: [Reply] = [
                try await enface.admin(.get, "/tenants/\(tenant.id)"),
                try await enface.admin(.get, "/tenants/\(tenant.id)/keys"),
                try await enface.admin(.get, "/tenants"),
                try await enface.admin(.get, "/audit?tenant=\(tenant.id)"),
                try await enface.call(.get, "/v1/tenant", key: tenant.key),
                try await enface.call(.get, "/v1/keys", key: tenant.key),
            ]
            later.append(try await enface.admin(.get, "/audit?tenant=\(tenant.id)"))
            for reply in later {
                #expect(reply.status == .ok)
                #expect(!reply.body.contains(tenant.key) && !reply.body.contains(secondKey))
                #expect(!reply.body.contains(String(tenant.key.dropFirst(12))))
            }

            // The database, dumped whole as the tenant sees it: the hashes are there, the keys not.
            let dump = try await Self.dump(tenant: tenant.id)
            #expect(dump.contains(tenant.slug), "the dump holds the tenant's rows")
            for key in [tenant.key, secondKey] {
                let hash = SHA256Hex.of(key)
                #expect(dump.contains(hash), "the key's SHA-256 is stored")
                #expect(!dump.contains(key) && !dump.contains(String(key.dropFirst(12))))
            }
        }
    }

    @Test func everyKeyThatProvesNothingGetsTheSameAnswer() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            let revoked = try await enface.admin(
                .post, "/tenants/\(tenant.id)/keys", json: ["name": "old", "scopes": ["tenant:admin"]])
            #expect(revoked.status == .created)
            let revokedKey = try #require(revoked["apiKey"]?.stringValue)
            let revokedID = try #require(revoked["key"]?.objectValue?["id"]?.stringValue)
            #expect(try await enface.call(.get, "/v1/tenant", key: revokedKey).status == .ok)
            #expect(try await enface.admin(.delete, "/tenants/\(tenant.id)/keys/\(revokedID)").status == .noContent)

            // Far enough ahead that the key is still in the future when a loaded machine gets to
            // creating it (1.5 s was not, once).
            let soon = Date().addingTimeInterval(5).formatted(.iso8601)
            let expiring = try await enface.admin(
                .post, "/tenants/\(tenant.id)/keys", json: ["name": "brief", "scopes": ["tenant:admin"], "expiresAt": .string(soon)])
            let expiringKey = try #require(expiring["apiKey"]?.stringValue, "\(expiring.body)")
            try await poll(timeout: .seconds(30), "the key to expire") {
                try await enface.call(.get, "/v1/tenant", key: expiringKey).status == .unauthorized ? true : nil
            }

            let unknown = APIKeySecret.generate().text
            let presented: [(String, HTTPFields)] = [
                ("unknown key", [EnfaceClient.apiKey: unknown]),
                ("unknown key as bearer", [.authorization: "Bearer \(unknown)"]),
                ("malformed key", [EnfaceClient.apiKey: "hello"]),
                ("truncated key", [EnfaceClient.apiKey: String(tenant.key.dropLast())]),
                ("key with a changed letter", [EnfaceClient.apiKey: String(tenant.key.dropLast()) + (tenant.key.hasSuffix("A") ? "B" : "A")]),
                ("something like a JWT", [.authorization: "Bearer a.b.c"]),
                ("revoked key", [EnfaceClient.apiKey: revokedKey]),
                ("expired key", [EnfaceClient.apiKey: expiringKey]),
                ("no credential", [:]),
                ("basic auth", [.authorization: "Basic dXNlcjpwYXNz"]),
            ]
            var bodies: Set<JSONValue> = []
            for (what, headers) in presented {
                let reply = try await enface.call(.get, "/v1/tenant", headers: headers)
                #expect(reply.status == .unauthorized, "\(what)")
                #expect(reply.code == "unauthenticated", "\(what)")
                #expect(reply.headers[.wwwAuthenticate] != nil, "\(what)")
                bodies.insert(reply.bodyWithoutRequestID)
            }
            #expect(bodies.count == 1, "every refusal reads the same: \(bodies)")
            // The tenant's own key still works; a revoked key is listed as revoked.
            #expect(try await enface.call(.get, "/v1/tenant", headers: [.authorization: "Bearer \(tenant.key)"]).status == .ok)
            let listed = try await enface.admin(.get, "/tenants/\(tenant.id)/keys")["keys"]?.arrayValue ?? []
            let entry = listed.first { $0.objectValue?["id"]?.stringValue == revokedID }
            #expect(entry?.objectValue?["revokedAt"]?.stringValue != nil)
        }
    }

    @Test func scopesBoundWhatAKeyMayDoAndGrant() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            let searchOnly = try #require(try await enface.admin(
                .post, "/tenants/\(tenant.id)/keys", json: ["name": "kiosk", "scopes": ["search"]])["apiKey"]?.stringValue)
            let refused = try await enface.call(.get, "/v1/tenant", key: searchOnly)
            #expect(refused.status == .forbidden && refused.code == "insufficient_scope")

            let adminOnly = try #require(try await enface.admin(
                .post, "/tenants/\(tenant.id)/keys", json: ["name": "admins", "scopes": ["tenant:admin"]])["apiKey"]?.stringValue)
            let beyond = try await enface.call(.post, "/v1/keys", key: adminOnly, json: ["name": "x", "scopes": ["faces:write"]])
            #expect(beyond.status == .forbidden && beyond.code == "scope_not_grantable")
            let within = try await enface.call(.post, "/v1/keys", key: adminOnly, json: ["name": "y", "scopes": ["tenant:admin"]])
            #expect(within.status == .created)
            let newID = try #require(within["key"]?.objectValue?["id"]?.stringValue)
            let newKey = try #require(within["apiKey"]?.stringValue)
            #expect(try await enface.call(.get, "/v1/tenant", key: newKey).status == .ok)
            #expect(try await enface.call(.delete, "/v1/keys/\(newID)", key: adminOnly).status == .noContent)
            #expect(try await enface.call(.get, "/v1/tenant", key: newKey).status == .unauthorized)
            #expect(try await enface.call(.delete, "/v1/keys/\(newID)", key: adminOnly).code == "not_found")

            let invalid = try await enface.call(
                .post, "/v1/keys", key: adminOnly, json: ["name": "", "scopes": ["root"], "expiresAt": "yesterday", "extra": true])
            #expect(invalid.code == "validation_failed")
            #expect(Set(invalid.pointers) == ["/name", "/scopes", "/expiresAt", "/extra"])
        }
    }

    /// A key that expires in an hour once minted a key that never expires. What a credential
    /// creates may not outlive it.
    @Test func aKeyThatExpiresCannotMintOneThatOutlivesIt() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            let hour = Date().addingTimeInterval(3_600)
            let shortLived = try #require(try await enface.admin(
                .post, "/tenants/\(tenant.id)/keys",
                json: ["name": "temp", "scopes": ["tenant:admin"], "expiresAt": .string(hour.formatted(.iso8601))])["apiKey"]?.stringValue)
            let forever = try await enface.call(.post, "/v1/keys", key: shortLived, json: ["name": "forever", "scopes": ["tenant:admin"]])
            #expect(forever.status == .unprocessableContent && forever.pointers == ["/expiresAt"], "\(forever.body)")
            let longer = try await enface.call(
                .post, "/v1/keys", key: shortLived,
                json: ["name": "longer", "scopes": ["tenant:admin"], "expiresAt": .string(hour.addingTimeInterval(60).formatted(.iso8601))])
            #expect(longer.status == .unprocessableContent && longer.pointers == ["/expiresAt"], "\(longer.body)")
            let within = try await enface.call(
                .post, "/v1/keys", key: shortLived,
                json: ["name": "within", "scopes": ["tenant:admin"], "expiresAt": .string(hour.addingTimeInterval(-60).formatted(.iso8601))])
            #expect(within.status == .created, "\(within.body)")
            // A key without an expiry still makes keys without one.
            let permanent = try await enface.call(.post, "/v1/keys", key: tenant.key, json: ["name": "p", "scopes": ["search"]])
            #expect(permanent.status == .created && permanent["key"]?.objectValue?["expiresAt"] == nil)
        }
    }

    /// `pg_dump` of the scratch database as the schema owner with row security on and the
    /// tenant set: every row of the tenant, in every table.
    static func dump(tenant: String) async throws -> String {
        let database = try ScratchDatabase.required()
        let pgDump = try TestEnvironment.embeddedPostgres.program("pg_dump")
        let endpoint = database.endpoint(.owner)
        let (status, output) = try await ChildProcess.run(
            pgDump, ["--data-only", "--enable-row-security", "--dbname", endpoint.url],
            environment: ["PGOPTIONS": "-c app.tenant_id=\(tenant)"])
        try #require(status == 0, "pg_dump failed: \(output)")
        return output
    }
}

enum SHA256Hex {
    static func of(_ text: String) -> String {
        APIKeySecret(presented: text)!.hash.map { String(format: "%02x", $0) }.joined()
    }
}
