// Bytes an attacker chooses, sent to a live server: each gets its 4xx, and the process lives.

import Foundation
import HTTPTypes
import Tenancy
import Testing
import TestSupport
import WireFormats

@Suite(.scratchDatabase)
struct HostileInputTests {
    /// The server still answers: nothing above killed it.
    static func expectAlive(_ enface: EnfaceClient, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await enface.call(.get, "/healthz").status == .ok, sourceLocation: sourceLocation)
    }

    @Test func aPNGClaimingFourBillionPixelsASideIsRefusedAndTheServerLives() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(model: "dlib-resnet-v1")
            // 33 bytes: a PNG signature and an IHDR of 2^32 - 1 by 2^32 - 1. Their product once
            // overflowed Int and trapped the whole process.
            let claim = PNG.header(width: 0xFFFF_FFFF, height: 0xFFFF_FFFF)
            for path in ["/v1/persons/p/faces", "/v1/search"] {
                let reply = try await enface.call(
                    .post, path, key: tenant.key, json: ["image": .string(Data(claim).base64EncodedString())])
                #expect(reply.status == .contentTooLarge && reply.code == "image_too_large", "\(path): \(reply.body)")
            }
            let strip = try await enface.call(
                .post, "/v1/search", key: tenant.key,
                json: ["image": .string(Data(PNG.header(width: 200_000, height: 1)).base64EncodedString())])
            #expect(strip.status == .contentTooLarge && strip.code == "image_too_large", "\(strip.body)")
            let sliver = try await enface.call(
                .post, "/v1/search", key: tenant.key,
                json: ["image": .string(Data(PNG.encode(width: 4, height: 600) { _, _ in (1, 2, 3) }).base64EncodedString())])
            #expect(sliver.status == .unprocessableContent && sliver.code == "invalid_image", "\(sliver.body)")
            try await Self.expectAlive(enface)
        }
    }

    /// U+0000 is valid JSON and a valid percent-encoding, but no PostgreSQL text holds it: bound
    /// as a parameter it was a 500 (the fuzzer's `actor=%00…` on the audit log).
    @Test func textHoldingUPlus0000IsRefusedBeforeItReachesTheDatabase() async throws {
        try await LiveService.run { enface in
            for (name, value) in [("actor", "%00%3B+a"), ("action", "x%00")] {
                let audit = try await enface.call(.get, "/admin/v1/audit?\(name)=\(value)", headers: enface.operatorHeaders)
                #expect(audit.status == .unprocessableContent && audit.pointers == ["?\(name)"], "\(audit.body)")
            }
            let tenant = try await enface.admin(.post, "/tenants", json: ["name": "nul\u{0}name", "slug": "nul-name", "plan": "starter"])
            #expect(tenant.status == .badRequest && tenant.code == "malformed_json", "\(tenant.body)")
            #expect(try await enface.admin(.get, "/tenants/nul-name").status == .notFound)
            let bySlug = try await enface.call(.get, "/admin/v1/tenants/a%00b", headers: enface.operatorHeaders)
            #expect(bySlug.status == .notFound, "\(bySlug.body)")
            let created = try await enface.createTenant()
            let person = try await enface.call(.get, "/v1/persons/p%00q", key: created.key)
            #expect(person.status == .unprocessableContent && person.code == "validation_failed", "\(person.body)")
            try await Self.expectAlive(enface)
        }
    }

    @Test func aKeyNamedTwiceInABodyIsRefusedNeverPicked() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            var vectors = Embeddings(seed: 90)
            let (a, b) = (Embeddings.json(vectors.identity()).canonical, Embeddings.json(vectors.identity()).canonical)
            let twice = try await enface.call(
                .post, "/v1/persons/p/faces", key: tenant.key, body: "{\"embedding\":\(a),\"embedding\":\(b)}")
            #expect(twice.status == .badRequest && twice.code == "duplicate_key", "\(twice.body)")
            #expect(twice["detail"]?.stringValue?.contains("/embedding") == true)
            #expect(try await enface.call(.get, "/v1/persons/p", key: tenant.key).code == "person_not_found")
            // On the operator plane too: which slug would a tenant get?
            let slug = "dup-\(UUID().uuidString.prefix(6).lowercased())"
            let created = try await enface.call(
                .post, "/admin/v1/tenants", headers: enface.operatorHeaders,
                body: #"{"name":"x","slug":"\#(slug)-a","slug":"\#(slug)-b"}"#)
            #expect(created.status == .badRequest && created.code == "duplicate_key", "\(created.body)")
        }
    }

    @Test func aBodyNestedAMillionDeepIsMalformedNotAStackOverflow() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant(quotas: ["maxBodyBytes": 4_000_000])
            let deep = try await enface.call(
                .post, "/v1/search", key: tenant.key, body: String(repeating: "[", count: 1_000_000))
            #expect(deep.status == .badRequest && deep.code == "malformed_json", "\(deep.body)")
            try await Self.expectAlive(enface)
        }
    }

    @Test func timesPastTheYear9999AreRefusedNotBound() async throws {
        try await LiveService.run { enface in
            let tenant = try await enface.createTenant()
            // Foundation reads this as a Date; binding it used to trap inside PostgresNIO.
            for when in ["300000-01-01T00:00:00Z", "10000-01-01T00:00:00Z"] {
                let key = try await enface.call(
                    .post, "/v1/keys", key: tenant.key, json: ["name": "far", "scopes": ["search"], "expiresAt": .string(when)])
                #expect(key.status == .unprocessableContent && key.pointers == ["/expiresAt"], "\(key.body)")
                let audit = try await enface.admin(.get, "/audit?since=\(when)")
                #expect(audit.status == .unprocessableContent && audit.pointers == ["?since"], "\(audit.body)")
            }
            // A page token made up to hold a time no tenant was created at names no page.
            let forged = Data("-9223372036854775000.\(UUID().uuidString.lowercased())".utf8).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let page = try await enface.admin(.get, "/tenants?after=\(forged)")
            #expect(page.status == .unprocessableContent, "\(page.body)")
            try await Self.expectAlive(enface)
        }
    }
}
